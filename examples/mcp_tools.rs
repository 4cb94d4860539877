//! An MCP tool server (the `rmcp` crate) whose tools are
//! `#[atlasent::protect]` functions: a tool the policy denies returns a tool
//! error the model can read, and its body never runs.
//!
//! ```text
//! cargo run --example mcp_tools      # speaks MCP on stdin/stdout
//! ```

#[path = "support/backend.rs"]
mod backend;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use atlasent::Permit;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::{schemars, tool, tool_handler, tool_router, ServerHandler, ServiceExt};
use serde_json::json;

/// Arguments of `read_balance`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct ReadBalance {
    /// The account to read.
    pub account: String,
}

/// Arguments of `wire_transfer`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct WireTransfer {
    /// Amount in US dollars.
    pub amount_usd: u64,
    /// The counterparty.
    pub to: String,
    /// Why.
    pub memo: String,
}

/// The tool server.
#[derive(Clone)]
pub struct PaymentTools {
    /// The AtlaSent client that guards every tool.
    pub client: atlasent::Client,
    /// How many tool bodies ran.
    pub bodies_run: Arc<AtomicUsize>,
}

// The guarded bodies. They receive the verified permit; the MCP-facing tool
// methods below cannot reach them without one.
impl PaymentTools {
    #[atlasent::protect(action = "read_balance", agent = "assistant", context = json!({ "account": account }), client = self.client)]
    async fn read_balance_guarded(
        &self,
        account: &str,
        _permit: Permit,
    ) -> Result<String, atlasent::Error> {
        self.bodies_run.fetch_add(1, Ordering::SeqCst);
        Ok(format!("balance of {account}: $12,345.00"))
    }

    #[atlasent::protect(
        action = "wire_transfer",
        agent = "finance-agent",
        context = json!({ "amount_usd": args.amount_usd, "counterparty_id": args.to, "memo": args.memo }),
        client = self.client,
    )]
    async fn wire_guarded(
        &self,
        args: &WireTransfer,
        permit: &Permit,
    ) -> Result<String, atlasent::Error> {
        self.bodies_run.fetch_add(1, Ordering::SeqCst);
        Ok(format!(
            "wired ${} to {} (permit {})",
            args.amount_usd,
            args.to,
            permit.permit_id()
        ))
    }
}

/// A tool result: the output, or an error the model can read and act on.
fn tool_result(outcome: Result<String, atlasent::Error>) -> CallToolResult {
    match outcome {
        Ok(text) => CallToolResult::success(vec![ContentBlock::text(text)]),
        Err(atlasent::Error::Denied(denial)) => CallToolResult::error(vec![ContentBlock::text(format!(
            "AtlaSent denied this action: {} (evaluation {}). The tool did not run; do not retry it unchanged.",
            denial.reason(),
            denial.evaluation_id()
        ))]),
        Err(other) => CallToolResult::error(vec![ContentBlock::text(format!(
            "authorization could not be confirmed ({}); the tool did not run",
            other.code().map_or("error", atlasent::ErrorCode::as_str)
        ))]),
    }
}

#[tool_router]
impl PaymentTools {
    #[tool(description = "Read the balance of an account")]
    async fn read_balance(&self, Parameters(args): Parameters<ReadBalance>) -> CallToolResult {
        tool_result(self.read_balance_guarded(&args.account).await)
    }

    #[tool(description = "Wire money to a counterparty")]
    async fn wire_transfer(&self, Parameters(args): Parameters<WireTransfer>) -> CallToolResult {
        tool_result(self.wire_guarded(&args).await)
    }
}

#[tool_handler]
impl ServerHandler for PaymentTools {}

#[allow(dead_code)]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    // The tools speak MCP over stdin/stdout.
    backend::serve(async |client| -> Result<(), backend::BoxError> {
        let tools = PaymentTools {
            client,
            bodies_run: Arc::default(),
        };
        tools
            .serve((tokio::io::stdin(), tokio::io::stdout()))
            .await?
            .waiting()
            .await?;
        Ok(())
    })
    .await
}
