//! The MCP example with a real MCP client (rmcp) over an in-process
//! transport: the allowed tool returns its result; the denied tool returns a
//! tool error carrying the policy's reason; the denied body never ran.

#[path = "../examples/mcp_tools.rs"]
#[allow(dead_code, unreachable_pub)]
mod mcp_tools;
#[path = "support/server.rs"]
mod support;

use std::sync::atomic::Ordering;
use std::sync::Arc;

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

/// Call `tool` with `arguments` through the MCP client.
async fn call(
    mcp: &rmcp::Peer<rmcp::RoleClient>,
    tool: &'static str,
    arguments: serde_json::Value,
) -> rmcp::model::CallToolResult {
    mcp.call_tool(CallToolRequestParams::new(tool).with_arguments(args(arguments)))
        .await
        .expect("tools/call")
}

#[tokio::test]
async fn allowed_and_denied_tools_through_a_real_mcp_client() {
    let server = support::policy_server(support::DEMO_POLICY, "ask_mcp").await;
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

    let ok = call(
        &mcp,
        "read_balance",
        serde_json::json!({ "account": "ops" }),
    )
    .await;
    assert_ne!(ok.is_error, Some(true), "{ok:?}");
    assert!(text(&ok).contains("balance of ops"), "{}", text(&ok));
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    let denied = call(
        &mcp,
        "wire_transfer",
        serde_json::json!({ "amount_usd": 50000, "to": "acme-corp", "memo": "rush" }),
    )
    .await;
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

    let small = call(
        &mcp,
        "wire_transfer",
        serde_json::json!({ "amount_usd": 500, "to": "acme-corp", "memo": "invoice 7" }),
    )
    .await;
    assert!(text(&small).contains("wired $500"), "{}", text(&small));
    assert_eq!(runs.load(Ordering::SeqCst), 2);

    mcp.cancel().await.expect("client closes");
    let _ = mcp_server.await;
}
