//! The MCP example with a real MCP client (rmcp) over an in-process
//! transport: the allowed tool returns its result; the denied tool returns a
//! tool error carrying the policy's reason; the denied body never ran.

#[path = "../examples/mcp_tools.rs"]
#[allow(dead_code, unreachable_pub)]
mod mcp_tools;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use atlasent_server::Server;
use rmcp::model::CallToolRequestParams;
use rmcp::ServiceExt;

fn text(result: &rmcp::model::CallToolResult) -> String {
    result
        .content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone())
        .expect("text content")
}

fn args(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object().expect("object").clone()
}

#[tokio::test]
async fn allowed_and_denied_tools_through_a_real_mcp_client() {
    let policy =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/policies/demo.json");
    let server = Server::builder()
        .policy_file(policy)
        .api_key("ask_mcp")
        .start()
        .await
        .expect("decision server");
    let client = atlasent::Client::builder()
        .api_key("ask_mcp")
        .base_url(server.base_url())
        .build()
        .expect("client");
    let tools = mcp_tools::PaymentTools {
        client,
        bodies_run: Arc::default(),
    };
    let runs = Arc::clone(&tools.bodies_run);

    let (server_io, client_io) = tokio::io::duplex(64 * 1024);
    let mcp_server = tokio::spawn(async move {
        tools
            .serve(server_io)
            .await
            .expect("mcp server starts")
            .waiting()
            .await
            .expect("mcp server ends")
    });
    let mcp = ().serve(client_io).await.expect("mcp client connects");

    let listed = mcp.list_all_tools().await.expect("tools/list");
    let names: Vec<_> = listed.iter().map(|t| t.name.to_string()).collect();
    assert!(
        names.contains(&"read_balance".to_owned()) && names.contains(&"wire_transfer".to_owned()),
        "{names:?}"
    );

    let ok = mcp
        .call_tool(
            CallToolRequestParams::new("read_balance")
                .with_arguments(args(serde_json::json!({ "account": "ops" }))),
        )
        .await
        .expect("tools/call");
    assert_ne!(ok.is_error, Some(true), "{ok:?}");
    assert!(text(&ok).contains("balance of ops"), "{}", text(&ok));
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    let denied = mcp
        .call_tool(
            CallToolRequestParams::new("wire_transfer").with_arguments(args(
                serde_json::json!({ "amount_usd": 50000, "to": "acme-corp", "memo": "rush" }),
            )),
        )
        .await
        .expect("tools/call");
    assert_eq!(denied.is_error, Some(true), "{denied:?}");
    let message = text(&denied);
    assert!(
        message.contains("deny_large_wires"),
        "the model can read the policy's reason: {message}"
    );
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "the denied tool's body never ran"
    );

    let small = mcp
        .call_tool(
            CallToolRequestParams::new("wire_transfer").with_arguments(args(
                serde_json::json!({ "amount_usd": 500, "to": "acme-corp", "memo": "invoice 7" }),
            )),
        )
        .await
        .expect("tools/call");
    assert!(text(&small).contains("wired $500"), "{}", text(&small));
    assert_eq!(runs.load(Ordering::SeqCst), 2);

    mcp.cancel().await.expect("client closes");
    let _ = mcp_server.await;
}
