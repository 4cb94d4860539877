//! Support for the code `#[atlasent::protect]` generates. Not public API:
//! nothing here can build a [`Permit`]; every path to one goes through a real
//! evaluation and verification.

use serde::Serialize;

use crate::client::Client;
use crate::error::Error;
use crate::permit::Permit;

/// Obtain a permit from `client`.
pub async fn protect_with<C: Serialize + ?Sized>(
    client: &Client,
    agent: &str,
    action: &str,
    context: &C,
) -> Result<Permit, Error> {
    client.protect(agent, action, context).await
}

/// Obtain a permit from the global default client.
pub async fn protect_default<C: Serialize + ?Sized>(
    agent: &str,
    action: &str,
    context: &C,
) -> Result<Permit, Error> {
    crate::global::protect(agent, action, context).await
}

/// Obtain a permit from a blocking `client` for the guarded plain fn
/// `function`, which a refusal (on a runtime's worker thread) names.
#[cfg(feature = "blocking")]
pub fn protect_blocking_with<C: Serialize + ?Sized>(
    function: &'static str,
    client: &crate::blocking::Client,
    agent: &str,
    action: &str,
    context: &C,
) -> Result<Permit, Error> {
    let caller = crate::blocking::Caller::Guarded(function);
    client.protect_for(caller, agent, action, context)
}

/// Obtain a permit from the global default client, blocking, for the
/// guarded plain fn `function` (without the `blocking` feature, the error
/// of [`protect_blocking_with`]).
pub fn protect_blocking_default<C: Serialize + ?Sized>(
    function: &'static str,
    agent: &str,
    action: &str,
    context: &C,
) -> Result<Permit, Error> {
    #[cfg(feature = "blocking")]
    {
        let caller = crate::blocking::Caller::Guarded(function);
        crate::blocking::protect_for(caller, agent, action, context)
    }
    #[cfg(not(feature = "blocking"))]
    protect_blocking_with(function, &(), agent, action, context)
}

/// Without the `blocking` feature a non-async guarded fn does not compile
/// (see `__atlasent_require_blocking!`); these keep the rest of the expansion
/// free of secondary errors.
#[cfg(not(feature = "blocking"))]
pub fn protect_blocking_with<C: Serialize + ?Sized, K>(
    _function: &'static str,
    _client: &K,
    _agent: &str,
    _action: &str,
    _context: &C,
) -> Result<Permit, Error> {
    Err(Error::config(
        "the `blocking` feature of atlasent is disabled",
    ))
}

/// The error type of a guarded function must absorb an [`Error`].
#[diagnostic::on_unimplemented(
    message = "the error type `{Self}` of a `#[atlasent::protect]` function must implement `From<atlasent::Error>`",
    label = "`{Self}` cannot hold an `atlasent::Error`",
    note = "add `impl From<atlasent::Error> for {Self}`, or return a type that has one (e.g. `Box<dyn std::error::Error + Send + Sync>`)"
)]
pub trait GuardedError {
    /// Convert.
    fn from_atlasent(error: Error) -> Self;
}

impl<E: From<Error>> GuardedError for E {
    fn from_atlasent(error: Error) -> Self {
        E::from(error)
    }
}

/// `E::from(error)` with a readable diagnostic when `E` cannot.
pub fn into_error<E: GuardedError>(error: Error) -> E {
    E::from_atlasent(error)
}

/// Stands where the permit would be when the attribute itself is invalid, so
/// that the function still type-checks for editors; never runs (the crate
/// fails to compile with the attribute's error).
pub fn unexpanded() -> ! {
    unreachable!("#[atlasent::protect] failed to expand")
}

/// Expands to a compile error when the `blocking` feature is off.
#[cfg(not(feature = "blocking"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __atlasent_require_blocking {
    () => {
        ::core::compile_error!(
            "`#[atlasent::protect]` on a non-async fn uses the blocking client: enable the `blocking` \
             feature of atlasent (atlasent = { features = [\"blocking\"] }), or make the function `async`"
        );
    };
}

/// Expands to nothing when the `blocking` feature is on.
#[cfg(feature = "blocking")]
#[doc(hidden)]
#[macro_export]
macro_rules! __atlasent_require_blocking {
    () => {};
}

// ---- actions as types -------------------------------------------------------

pub use inventory;

use std::marker::PhantomData;

use crate::actions::{Action, ContextFor};

/// The hidden item of [`Action`] that `#[atlasent::action]` fills in.
#[derive(Debug, Clone, Copy)]
pub struct Seal(());

impl Seal {
    /// Made by `#[atlasent::action]` only, which checked the action's name.
    pub const fn checked_by_the_macro() -> Self {
        Seal(())
    }
}

/// The action and context of a typed `#[atlasent::protect(action = A)]`,
/// checked once, where the macro puts the check (on the context expression):
/// made only by [`typed`], which requires `A: Action` and a context that `A`
/// accepts. It carries `A::NAME`, so the helpers below, which take it instead
/// of bounds of their own (one error per mistake, not one per helper), still
/// only make a `Permit<A>` for `A::NAME`.
pub struct Typed<'c, A, C: ?Sized> {
    name: &'static str,
    context: &'c C,
    action: PhantomData<fn() -> A>,
}

/// Check that `A` is an action and that it accepts `context`.
pub fn typed<A: Action, C: ContextFor<A> + ?Sized>(context: &C) -> Typed<'_, A, C> {
    Typed {
        name: A::NAME,
        context,
        action: PhantomData,
    }
}

/// Obtain a `Permit<A>` from `client`.
pub async fn protect_typed_with<A, C: Serialize + ?Sized>(
    client: &Client,
    agent: &str,
    typed: Typed<'_, A, C>,
) -> Result<Permit<A>, Error> {
    // The permit names the action it was verified for: `typed.name`, A::NAME.
    Ok(client
        .protect(agent, typed.name, typed.context)
        .await?
        .retype())
}

/// Obtain a `Permit<A>` from the global default client.
pub async fn protect_typed_default<A, C: Serialize + ?Sized>(
    agent: &str,
    typed: Typed<'_, A, C>,
) -> Result<Permit<A>, Error> {
    Ok(crate::global::protect(agent, typed.name, typed.context)
        .await?
        .retype())
}

/// Obtain a `Permit<A>` from a blocking `client` for the guarded plain fn
/// `function`.
#[cfg(feature = "blocking")]
pub fn protect_typed_blocking_with<A, C: Serialize + ?Sized>(
    function: &'static str,
    client: &crate::blocking::Client,
    agent: &str,
    typed: Typed<'_, A, C>,
) -> Result<Permit<A>, Error> {
    Ok(protect_blocking_with(function, client, agent, typed.name, typed.context)?.retype())
}

/// Obtain a `Permit<A>` from the global default client, blocking.
pub fn protect_typed_blocking_default<A, C: Serialize + ?Sized>(
    function: &'static str,
    agent: &str,
    typed: Typed<'_, A, C>,
) -> Result<Permit<A>, Error> {
    Ok(protect_blocking_default(function, agent, typed.name, typed.context)?.retype())
}

/// See [`protect_blocking_with`].
#[cfg(not(feature = "blocking"))]
pub fn protect_typed_blocking_with<A, C: Serialize + ?Sized, K>(
    function: &'static str,
    client: &K,
    agent: &str,
    typed: Typed<'_, A, C>,
) -> Result<Permit<A>, Error> {
    Ok(protect_blocking_with(function, client, agent, typed.name, typed.context)?.retype())
}

/// The parameter type a guarded function declared for its permit, made from
/// the permit obtained for action `A` (`AnyAction` for a literal action).
#[diagnostic::on_unimplemented(
    message = "this function is guarded for action `{A}`, but its permit parameter is a `{Self}`",
    label = "a permit for another action",
    note = "take `Permit<{A}>`, `&Permit<{A}>` or an untyped `Permit`; a permit for one action cannot be spent on another"
)]
pub trait BindPermit<A> {
    /// Convert.
    fn bind(permit: Permit<A>) -> Self;
}

impl<A: Action> BindPermit<A> for Permit<A> {
    fn bind(permit: Permit<A>) -> Self {
        permit
    }
}

// Any `A`, `AnyAction` included (a literal action): forgetting the action
// type is always allowed, and a type that is no action was already reported
// by `typed`, once.
impl<A> BindPermit<A> for Permit {
    fn bind(permit: Permit<A>) -> Self {
        permit.retype()
    }
}

/// Reads the keys a context type serializes (`#[atlasent::action(context =
/// T)]` registers them): its `Serialize` output for `T::default()`.
/// Autoref specialization: `(&KeysProbe::<T>::new()).keys()` resolves to
/// [`KeysFromSerialize`] when `T: Default + Serialize`, else to [`NoKeys`].
pub struct KeysProbe<T>(std::marker::PhantomData<fn() -> T>);

impl<T> KeysProbe<T> {
    /// A probe for `T`.
    pub const fn new() -> Self {
        KeysProbe(std::marker::PhantomData)
    }
}

impl<T> Default for KeysProbe<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// The keys of a `Default + Serialize` struct.
pub trait KeysFromSerialize {
    /// The keys `T::default()` serializes, plus those a `skip_serializing_if`
    /// skipped; `None` unless it serializes as a struct.
    fn keys(&self) -> Option<Vec<&'static str>>;
}

impl<T: Default + Serialize> KeysFromSerialize for KeysProbe<T> {
    fn keys(&self) -> Option<Vec<&'static str>> {
        T::default().serialize(KeyRecorder).ok().flatten()
    }
}

/// No keys for a type without `Default` or `Serialize`.
pub trait NoKeys {
    /// `None`.
    fn keys(&self) -> Option<Vec<&'static str>>;
}

impl<T> NoKeys for &KeysProbe<T> {
    fn keys(&self) -> Option<Vec<&'static str>> {
        None
    }
}

/// A serializer that records the keys of a struct (fields written and
/// fields skipped by `skip_serializing_if`) and answers `None` for anything
/// that is not a struct. Values are never serialized.
struct KeyRecorder;

/// The recorder's refusal: not a struct.
#[derive(Debug)]
struct NotAStruct;

impl std::fmt::Display for NotAStruct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a struct")
    }
}

impl std::error::Error for NotAStruct {}

impl serde::ser::Error for NotAStruct {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        NotAStruct
    }
}

/// The keys of one struct.
struct StructKeys(Vec<&'static str>);

impl serde::ser::SerializeStruct for StructKeys {
    type Ok = Option<Vec<&'static str>>;
    type Error = NotAStruct;

    fn serialize_field<V: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        _value: &V,
    ) -> Result<(), NotAStruct> {
        self.0.push(key);
        Ok(())
    }

    fn skip_field(&mut self, key: &'static str) -> Result<(), NotAStruct> {
        self.0.push(key);
        Ok(())
    }

    fn end(self) -> Result<Self::Ok, NotAStruct> {
        Ok(Some(self.0))
    }
}

/// Every non-struct form is refused with `NotAStruct`.
macro_rules! not_a_struct {
    ($($method:ident($($arg:ty),*);)*) => {
        $(fn $method(self, $(_: $arg),*) -> Result<Self::Ok, NotAStruct> { Err(NotAStruct) })*
    };
}

impl serde::Serializer for KeyRecorder {
    type Ok = Option<Vec<&'static str>>;
    type Error = NotAStruct;
    type SerializeSeq = serde::ser::Impossible<Self::Ok, NotAStruct>;
    type SerializeTuple = serde::ser::Impossible<Self::Ok, NotAStruct>;
    type SerializeTupleStruct = serde::ser::Impossible<Self::Ok, NotAStruct>;
    type SerializeTupleVariant = serde::ser::Impossible<Self::Ok, NotAStruct>;
    type SerializeMap = serde::ser::Impossible<Self::Ok, NotAStruct>;
    type SerializeStruct = StructKeys;
    type SerializeStructVariant = serde::ser::Impossible<Self::Ok, NotAStruct>;

    not_a_struct! {
        serialize_bool(bool); serialize_i8(i8); serialize_i16(i16); serialize_i32(i32);
        serialize_i64(i64); serialize_u8(u8); serialize_u16(u16); serialize_u32(u32);
        serialize_u64(u64); serialize_f32(f32); serialize_f64(f64); serialize_char(char);
        serialize_str(&str); serialize_bytes(&[u8]); serialize_none(); serialize_unit();
        serialize_unit_struct(&'static str);
        serialize_unit_variant(&'static str, u32, &'static str);
    }

    fn serialize_some<V: Serialize + ?Sized>(self, _: &V) -> Result<Self::Ok, NotAStruct> {
        Err(NotAStruct)
    }

    fn serialize_newtype_struct<V: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &V,
    ) -> Result<Self::Ok, NotAStruct> {
        // `#[serde(transparent)]` and newtypes: the keys of what is inside.
        value.serialize(self)
    }

    fn serialize_newtype_variant<V: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &V,
    ) -> Result<Self::Ok, NotAStruct> {
        Err(NotAStruct)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, NotAStruct> {
        Err(NotAStruct)
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, NotAStruct> {
        Err(NotAStruct)
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, NotAStruct> {
        Err(NotAStruct)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, NotAStruct> {
        Err(NotAStruct)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, NotAStruct> {
        Err(NotAStruct)
    }

    fn serialize_struct(
        self,
        _: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, NotAStruct> {
        Ok(StructKeys(Vec::with_capacity(len)))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, NotAStruct> {
        Err(NotAStruct)
    }
}
