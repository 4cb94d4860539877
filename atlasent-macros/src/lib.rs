//! The `#[atlasent::protect]` attribute. Use it through the `atlasent` crate
//! (`atlasent::protect`); this crate is its implementation.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod action;
mod attr;
mod expand;
#[cfg(test)]
mod snapshot;

use proc_macro::TokenStream;

/// Guard a function with AtlaSent: it cannot run without a verified
/// [`Permit`](https://docs.rs/atlasent/latest/atlasent/struct.Permit.html).
///
/// The function declares one parameter of type `Permit` (or `&Permit`), in
/// any position, with any pattern. The attribute removes it from the
/// signature, obtains the permit first (evaluate, then verify, exactly like
/// `atlasent::protect`), and runs the original body with it bound. Callers
/// never see or pass the permit, and nothing can construct one, so the body
/// is unreachable without a real authorization.
///
/// ```no_run
/// use atlasent::Permit;
/// use serde_json::json;
///
/// #[derive(Debug)]
/// enum DeployError { Unauthorized(atlasent::Error) }
/// impl From<atlasent::Error> for DeployError {
///     fn from(e: atlasent::Error) -> Self { DeployError::Unauthorized(e) }
/// }
///
/// #[atlasent::protect(action = "deploy_to_production", agent = "deploy-bot",
///                     context = json!({ "commit": commit }))]
/// async fn deploy(permit: Permit, commit: &str) -> Result<(), DeployError> {
///     println!("deploying {commit} under {}", permit.permit_id());
///     Ok(())
/// }
///
/// # async fn run() -> Result<(), DeployError> {
/// deploy("abc123").await?; // the caller passes no permit
/// # Ok(()) }
/// ```
///
/// # What it expands to
///
/// The function above becomes, in essence (generated names are hygienic:
/// the body cannot see them):
///
/// ```ignore
/// async fn deploy(commit: &str) -> Result<(), DeployError> {
///     let context = &(json!({ "commit": commit }));
///     let obtained: ::atlasent::Permit =
///         match ::atlasent::__private::protect_default("deploy-bot", "deploy_to_production", context).await {
///             Ok(permit) => permit,
///             Err(error) => return Err(::atlasent::__private::into_error(error)), // E::from(error)
///         };
///     let permit: Permit = obtained;
///     {
///         println!("deploying {commit} under {}", permit.permit_id());
///         Ok(())
///     }
/// }
/// ```
///
/// A deny, a failed verification, a timeout, a 5xx, a rate limit: each is
/// returned as `Err(E::from(atlasent::Error))` before the body starts.
///
/// # Options
///
/// - `action = "..."` (required): a non-empty string literal, so that every
///   guarded action can be found by reading the source.
/// - `agent = <expr>` (required): anything `AsRef<str>`: a literal, a
///   parameter, `self.name`.
/// - `context = <expr>` (optional, default `{}`): anything `Serialize` that
///   serializes to a JSON object. Evaluated once, before the body, and it may
///   borrow the parameters.
/// - `client = <expr>` (optional, default the global client of
///   `atlasent::configure` / `ATLASENT_API_KEY`): an `atlasent::Client` (or a
///   reference to one) for an `async fn`, an `atlasent::blocking::Client`
///   for a plain `fn`.
/// - `crate = <path>` (optional, default `::atlasent`): where the `atlasent`
///   crate is, for users who rename the dependency.
///
/// ```no_run
/// use atlasent::Permit;
/// use serde::Serialize;
///
/// #[derive(Serialize)]
/// struct Transfer<'a> { amount_usd: u64, counterparty_id: &'a str, memo: &'a str }
///
/// struct Treasury { agent: String, client: atlasent::Client }
///
/// impl Treasury {
///     #[atlasent::protect(
///         action = "wire_transfer",
///         agent = self.agent,
///         context = Transfer { amount_usd: amount, counterparty_id: to, memo },
///         client = self.client,
///         crate = ::atlasent,
///     )]
///     async fn wire(&self, amount: u64, to: &str, memo: &str, permit: &Permit)
///         -> Result<String, Box<dyn std::error::Error + Send + Sync>>
///     {
///         Ok(format!("sent {amount} to {to} under {}", permit.permit_id()))
///     }
/// }
/// ```
///
/// # The return type
///
/// The function returns `Result<T, E>` with `E: From<atlasent::Error>`, so
/// that a refused authorization reaches the caller as an error. A macro sees
/// the return type as written, not the type it names, so the rule is about
/// spelling: the type must be a path whose last segment ends in `Result`.
/// `Result<T, E>`, `std::result::Result<T, E>`, `io::Result<T>`,
/// `anyhow::Result<T>` and an alias of your own named `AppResult<T>` are
/// accepted; an alias named otherwise is refused, even when it is a
/// `Result`:
///
/// ```ignore
/// type R<T> = Result<T, AppError>;
/// fn f(permit: Permit) -> R<()>          // refused: `R` could be anything
/// fn f(permit: Permit) -> Result<(), AppError>   // accepted
/// type AppResult<T> = Result<T, AppError>;
/// fn f(permit: Permit) -> AppResult<()>  // accepted
/// ```
///
/// (The `E: From<atlasent::Error>` bound is checked by the compiler, with
/// a message naming `E`.)
///
/// # Plain functions
///
/// On a non-`async` fn the blocking client is used; that needs the
/// `blocking` feature of `atlasent` (without it, a compile error says so).
///
/// ```ignore
/// #[atlasent::protect(action = "drop_database", agent = "ops-cli")]
/// fn drop_database(_permit: atlasent::Permit, name: &str) -> Result<(), atlasent::Error> {
///     Ok(())
/// }
/// ```
///
/// The call blocks its thread until the permit is issued or refused. That
/// is fine on a plain thread, inside `tokio::task::spawn_blocking` or
/// `tokio::task::block_in_place`; on a thread that runs an async runtime's
/// tasks (a worker, or the thread of a current-thread runtime such as a
/// `#[tokio::test]`) the call returns `Err(E::from(atlasent::Error))`
/// before anything is sent, naming the function and the ways out (make it
/// `async` and `.await` it, or call it inside `spawn_blocking`). See
/// `atlasent::blocking` for the full list.
///
/// # What is refused at compile time
///
/// Missing, unknown (the error lists the valid keys) or duplicate options; a
/// non-literal or empty action; positional arguments; anything but a function
/// with a body; a `const fn`; no `Permit` parameter or two of them; a return
/// type not spelled as a `Result` (see above); an error type without
/// `From<atlasent::Error>`; calling the guarded function with a permit
/// argument. On any error the function is still emitted (without its permit
/// parameter), so call sites and editors keep working.
#[proc_macro_attribute]
pub fn protect(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(attr.into(), item.into()).into()
}

/// Declare an action as a type: `#[atlasent::action("deploy_to_production")]`
/// on a unit struct implements `atlasent::Action` for it, so that a
/// `Permit<DeployToProduction>` can only be a permit for that action.
///
/// ```ignore
/// #[atlasent::action("deploy_to_production")]
/// pub struct DeployToProduction;
///
/// #[derive(Default, serde::Serialize)]
/// pub struct WireContext { pub amount_usd: u64, pub memo: String }
///
/// // Only a `WireContext` is accepted as its context.
/// #[atlasent::action("wire_transfer", context = WireContext)]
/// pub struct WireTransfer;
/// ```
///
/// The name comes first, a string literal of 1 to 256 characters (the
/// contract's limits). Options: `context = Type` (any `Serialize` type that owns its
/// data; with `Default` too, the policy coverage check can read its keys:
/// those `T::default()` serializes) and
/// `crate = path` (where the `atlasent` crate is, when renamed).
///
/// Refused at compile time, each with an error on the offending token: a
/// missing, empty, non-literal or too long name; anything but a unit struct
/// (fields, an enum, a fn); a generic struct; unknown or duplicate options.
///
/// The action is registered for `atlasent::actions::registered`, which the
/// policy coverage check reads.
#[proc_macro_attribute]
pub fn action(attr: TokenStream, item: TokenStream) -> TokenStream {
    action::expand(attr.into(), item.into()).into()
}
