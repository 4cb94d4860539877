//! Actions as types: a permit for one action cannot be spent on another.
//!
//! An action string is easy to misspell and a [`Permit`](crate::Permit) for
//! `read_logs` is, to the type checker, as good as one for
//! `deploy_to_production`. Declaring the action as a type fixes both:
//!
//! ```no_run
//! use atlasent::Permit;
//!
//! #[atlasent::action("deploy_to_production")]
//! pub struct DeployToProduction;
//!
//! #[atlasent::action("read_logs")]
//! pub struct ReadLogs;
//!
//! // Only a permit for DeployToProduction is accepted here.
//! fn deploy(commit: &str, permit: &Permit<DeployToProduction>) {
//!     println!("deploying {commit} under {}", permit.permit_id());
//! }
//!
//! # async fn run(client: atlasent::Client) -> Result<(), atlasent::Error> {
//! let permit = client
//!     .protect_as::<DeployToProduction>("deploy-bot", &serde_json::json!({ "commit": "abc123" }))
//!     .await?;
//! deploy("abc123", &permit);
//! # Ok(()) }
//! ```
//!
//! Passing a `Permit<ReadLogs>` to `deploy` does not compile. The pieces:
//!
//! - `#[atlasent::action("name")]` on a unit struct
//!   implements [`Action`] for it. The name is checked at compile time
//!   (1 to 256 characters, as the contract requires); the trait cannot be
//!   implemented any other way that is supported (its hidden item is the
//!   macro's).
//! - [`Permit<A>`](crate::Permit) is a permit whose verified action is
//!   `A::NAME`. Only [`Client::protect_as`](crate::Client::protect_as) (and
//!   its blocking and free-function twins, and `#[atlasent::protect(action =
//!   SomeAction, ..)]`) make one, or [`Permit::downcast`](crate::Permit::downcast),
//!   which checks the action. `Permit` alone is `Permit<AnyAction>`, the
//!   untyped permit: every `Permit<A>` turns into one with `From`/`into()`,
//!   never the other way without the check.
//! - A typed context, `#[atlasent::action("wire_transfer", context =
//!   WireContext)]`, makes `protect_as::<WireTransfer>` and the attribute
//!   accept a `WireContext` (or a reference to one) and nothing else, so a
//!   misspelt key is a compile error instead of a deny in production.
//! - Every action type and every literal `#[atlasent::protect(action =
//!   "...")]` is registered when the program starts; [`registered`] lists
//!   them and [`ActionManifest`] writes them as JSON, for
//!   `atlasent_server::testing::assert_policies_cover` and
//!   `atlasent-server lint --actions`, which check that the policies can
//!   allow every action and that each typed context has every key the
//!   policies require.
//!
//! Typed and untyped permits cost the same: `Permit<A>` is the same struct
//! with a zero-sized marker (see `BENCHMARKS.md`).

use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

/// An action declared as a type with `#[atlasent::action("name")]`.
///
/// `NAME` is the action string sent to the decision server; `Context` says
/// which contexts [`Client::protect_as`](crate::Client::protect_as) accepts for
/// it: [`AnyContext`] (anything that serializes to a JSON object) or
/// [`TypedContext<T>`] (a `T`, declared with `context = T`).
///
/// Implement it with the attribute: the trait has a hidden item that only
/// the macro fills in, and a hand-written implementation is not supported.
/// Code can be generic over it:
///
/// ```
/// fn log_permit<A: atlasent::Action>(permit: &atlasent::Permit<A>) {
///     println!("{} may {}", permit.agent(), A::NAME);
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an AtlaSent action",
    label = "not declared with `#[atlasent::action(\"...\")]`",
    note = "declare it: `#[atlasent::action(\"deploy_to_production\")] pub struct DeployToProduction;`"
)]
pub trait Action: 'static {
    /// The action string the decision server sees.
    const NAME: &'static str;
    /// Which contexts the action accepts: [`AnyContext`] or [`TypedContext<T>`].
    type Context: ?Sized;
    /// Filled in by `#[atlasent::action]`, which checks the name.
    #[doc(hidden)]
    const __ATLASENT_SEAL: crate::__private::Seal;
}

/// The action of an untyped [`Permit`](crate::Permit): `Permit` is
/// `Permit<AnyAction>`. It is not an [`Action`] (nothing can be protected
/// "as" any action); it cannot be constructed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnyAction {}

/// The context of an action declared without `context = T`: anything that
/// serializes to a JSON object (as [`Client::protect`](crate::Client::protect)
/// takes). Cannot be constructed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnyContext {}

/// The context of an action declared with `context = T`: a `T` or a `&T`,
/// nothing else. A marker, never constructed.
pub struct TypedContext<T: ?Sized>(PhantomData<fn(&T)>);

/// Whether an action whose `Context` is `Self` accepts a context of type `C`.
/// Sealed: implemented by this crate only ([`AnyContext`] accepts every
/// `Serialize` type, [`TypedContext<T>`] accepts `T` and `&T`); another
/// crate cannot widen what a typed action accepts.
#[diagnostic::on_unimplemented(
    message = "this action does not accept a context of type `{C}`",
    label = "not the context type the action was declared with",
    note = "`{Self}`: the action was declared with `#[atlasent::action(\"...\", context = T)]` and takes a `T` (or a `&T`) and nothing else, so that a misspelt key cannot become a deny in production"
)]
pub trait AcceptsContext<C: ?Sized>: sealed::Accepts<C> {}

impl<C: Serialize + ?Sized> AcceptsContext<C> for AnyContext {}
impl<T: Serialize> AcceptsContext<T> for TypedContext<T> {}
impl<T: Serialize> AcceptsContext<&T> for TypedContext<T> {}

/// The seal of [`AcceptsContext`]: a trait no other crate can name, so no
/// other crate can implement `AcceptsContext` (its supertrait) for a pair
/// this crate did not.
mod sealed {
    use super::{AnyContext, Serialize, TypedContext};

    pub trait Accepts<C: ?Sized> {}

    impl<C: Serialize + ?Sized> Accepts<C> for AnyContext {}
    impl<T: Serialize> Accepts<T> for TypedContext<T> {}
    impl<T: Serialize> Accepts<&T> for TypedContext<T> {}
}

/// A context that action `A` accepts: what
/// [`Client::protect_as::<A>`](crate::Client::protect_as) takes. Implemented
/// for every `Serialize` type `C` that `A::Context` [accepts](AcceptsContext).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a context that action `{A}` accepts",
    label = "not the context type `{A}` was declared with",
    note = "an action declared with `context = T` takes a `T` (or `&T`) and nothing else, so that a misspelt key cannot become a deny in production"
)]
pub trait ContextFor<A: Action>: Serialize {}

impl<A: Action, C: Serialize + ?Sized> ContextFor<A> for C where A::Context: AcceptsContext<C> {}

/// One guarded action of the program, as its macro registered it.
///
/// Made by `#[atlasent::action]` (one per action type) and by
/// `#[atlasent::protect(action = "...")]` (one per guarded function with a
/// literal action). Listed by [`registered`].
#[derive(Debug)]
pub struct RegisteredAction {
    name: &'static str,
    declared_by: &'static str,
    source: &'static str,
    line: u32,
    context: Option<RegisteredContext>,
}

/// The context type of a registered action: its name and, when the type
/// implements `Default`, the keys it serializes.
#[derive(Debug)]
struct RegisteredContext {
    type_name: fn() -> &'static str,
    keys: fn() -> Option<Vec<&'static str>>,
}

inventory::collect!(RegisteredAction);

impl RegisteredAction {
    #[doc(hidden)]
    pub const fn __new(
        name: &'static str,
        declared_by: &'static str,
        source: &'static str,
        line: u32,
    ) -> Self {
        Self {
            name,
            declared_by,
            source,
            line,
            context: None,
        }
    }

    #[doc(hidden)]
    pub const fn __with_context(
        mut self,
        type_name: fn() -> &'static str,
        keys: fn() -> Option<Vec<&'static str>>,
    ) -> Self {
        self.context = Some(RegisteredContext { type_name, keys });
        self
    }

    /// The action string.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// What declared it: the action type's path (`my_crate::DeployToProduction`)
    /// or the guarded function's (`fn my_crate::ops::drop_table`).
    pub fn declared_by(&self) -> &'static str {
        self.declared_by
    }

    /// Where: `file:line` of the declaration.
    pub fn source(&self) -> String {
        format!("{}:{}", self.source, self.line)
    }

    /// The path of its context type, for an action declared with `context = T`.
    pub fn context_type(&self) -> Option<&'static str> {
        self.context.as_ref().map(|c| (c.type_name)())
    }

    /// The keys its context type serializes: the keys of the JSON object its
    /// `Serialize` implementation writes for `T::default()`, including those
    /// a `skip_serializing_if` left out of that one value (they may be sent),
    /// excluding `skip_serializing` fields, after every `rename`. So the type
    /// needs `Default` for its keys to be known.
    ///
    /// `None` for an untyped action, and when the keys cannot be read: a
    /// context type without `Default`, one that does not serialize as a
    /// struct (`#[serde(flatten)]`, a map, an enum), or whose `Default` or
    /// `Serialize` panics. A coverage check reports `None` rather than
    /// guessing. Context types own their data (`'static`): the action type
    /// names one type.
    pub fn context_keys(&self) -> Option<Vec<&'static str>> {
        let keys = self.context.as_ref()?.keys;
        std::panic::catch_unwind(keys).ok().flatten()
    }
}

/// Every action the program registered (see [`RegisteredAction`]), sorted
/// by name, then by where it was declared.
///
/// An action appears once per declaration: an action type, or a guarded
/// function with a literal action. The registrations of a crate are linked
/// into every binary and test that uses the crate.
pub fn registered() -> Vec<&'static RegisteredAction> {
    let mut all: Vec<&'static RegisteredAction> =
        inventory::iter::<RegisteredAction>.into_iter().collect();
    all.sort_by(|a, b| {
        (a.name, a.source, a.line, a.declared_by).cmp(&(b.name, b.source, b.line, b.declared_by))
    });
    all
}

/// The registered actions as data: what `atlasent-server lint --actions FILE`
/// reads and [`assert_policies_cover`] checks, so that a CI job without Rust
/// can check the policies against the actions a program guards.
///
/// [`assert_policies_cover`]: https://docs.rs/atlasent-server/latest/atlasent_server/testing/fn.assert_policies_cover.html
///
/// ```
/// let manifest = atlasent::actions::ActionManifest::from_registered();
/// let json = manifest.to_json();
/// assert!(json.starts_with("{\"format\":\"atlasent.actions/1\""));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionManifest {
    /// Always [`ActionManifest::FORMAT`].
    pub format: String,
    /// The actions, as [`registered`] lists them.
    pub actions: Vec<ManifestAction>,
}

/// One action of an [`ActionManifest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestAction {
    /// The action string.
    pub name: String,
    /// The action type's path or the guarded function's (`fn path`).
    pub declared_by: String,
    /// `file:line` of the declaration.
    pub source: String,
    /// The context type, for an action declared with `context = T`.
    #[serde(default)]
    pub context: Option<ManifestContext>,
}

/// The context type of a [`ManifestAction`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestContext {
    /// The type's path.
    #[serde(rename = "type")]
    pub type_name: String,
    /// The keys it serializes; `None` (JSON `null`) when they could not be
    /// read (see [`RegisteredAction::context_keys`]), which a coverage check
    /// reports rather than guesses.
    pub keys: Option<Vec<String>>,
}

impl ActionManifest {
    /// The `format` member of every manifest this version writes and reads.
    pub const FORMAT: &'static str = "atlasent.actions/1";

    /// The manifest of every action the program [`registered`].
    pub fn from_registered() -> Self {
        Self::new(
            registered()
                .into_iter()
                .map(|r| ManifestAction {
                    name: r.name().to_owned(),
                    declared_by: r.declared_by().to_owned(),
                    source: r.source(),
                    context: r.context_type().map(|type_name| ManifestContext {
                        type_name: type_name.to_owned(),
                        keys: r
                            .context_keys()
                            .map(|keys| keys.into_iter().map(str::to_owned).collect()),
                    }),
                })
                .collect(),
        )
    }

    /// A manifest of these actions.
    pub fn new(actions: Vec<ManifestAction>) -> Self {
        Self {
            format: Self::FORMAT.to_owned(),
            actions,
        }
    }

    /// The manifest as JSON (one line).
    pub fn to_json(&self) -> String {
        // A struct of strings and vectors always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Read a manifest, refusing unknown members and another `format`.
    pub fn from_json(text: &str) -> Result<Self, crate::Error> {
        let manifest: Self = serde_json::from_str(text)
            .map_err(|e| crate::Error::invalid(format!("action manifest is not valid: {e}")))?;
        if manifest.format != Self::FORMAT {
            let shown: String = manifest.format.chars().take(64).collect();
            return Err(crate::Error::invalid(format!(
                "action manifest has format {shown:?}; this version reads {:?}",
                Self::FORMAT
            )));
        }
        for (i, action) in manifest.actions.iter().enumerate() {
            let chars = action.name.chars().count();
            if chars == 0 || chars > crate::MAX_NAME_CHARS {
                return Err(crate::Error::invalid(format!(
                    "action manifest: actions[{i}].name must be 1 to {} characters, got {chars}",
                    crate::MAX_NAME_CHARS
                )));
            }
            if action.declared_by.is_empty() || action.source.is_empty() {
                return Err(crate::Error::invalid(format!(
                    "action manifest: actions[{i}] ({:?}) has an empty declared_by or source",
                    action.name
                )));
            }
        }
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(name: &str, declared_by: &str, source: &str) -> String {
        ActionManifest::new(vec![ManifestAction {
            name: name.to_owned(),
            declared_by: declared_by.to_owned(),
            source: source.to_owned(),
            context: None,
        }])
        .to_json()
    }

    fn refusal(text: &str) -> String {
        ActionManifest::from_json(text)
            .expect_err("a hostile manifest is refused")
            .to_string()
    }

    #[test]
    fn a_manifest_round_trips() {
        let text = manifest("deploy", "app::Deploy", "src/lib.rs:3");
        let read = ActionManifest::from_json(&text).expect("reads");
        assert_eq!(read.to_json(), text);
    }

    #[test]
    fn names_outside_the_contract_are_refused_by_position() {
        assert!(refusal(&manifest("", "app::X", "src/lib.rs:1")).contains("actions[0].name"));
        let long = "a".repeat(crate::MAX_NAME_CHARS + 1);
        let message = refusal(&manifest(&long, "app::X", "src/lib.rs:1"));
        assert!(message.contains("got 257"), "{message}");
        // 256 characters (multi-byte ones too) are within the limit.
        let at_limit = "é".repeat(crate::MAX_NAME_CHARS);
        assert!(ActionManifest::from_json(&manifest(&at_limit, "app::X", "src/lib.rs:1")).is_ok());
    }

    #[test]
    fn empty_origins_unknown_members_and_other_formats_are_refused() {
        assert!(refusal(&manifest("deploy", "", "src/lib.rs:1")).contains("empty declared_by"));
        assert!(refusal(&manifest("deploy", "app::X", "")).contains("empty declared_by or source"));
        let extra =
            manifest("deploy", "app::X", "s:1").replace("\"name\"", "\"allow\":true,\"name\"");
        assert!(refusal(&extra).contains("unknown field"));
        // A hostile format is echoed at most 64 characters long.
        let format = "x".repeat(10_000);
        let text = manifest("deploy", "app::X", "s:1").replace(ActionManifest::FORMAT, &format);
        let message = refusal(&text);
        assert!(message.len() < 300, "{} characters", message.len());
        assert!(refusal("not json").contains("not valid"));
    }
}
