/// Move money.
#[derive(Debug)]
pub struct WireTransfer;
impl ::atlasent::Action for WireTransfer {
    const NAME: &'static str = "wire_transfer";
    type Context = ::atlasent::actions::TypedContext<WireContext>;
    #[doc(hidden)]
    const __ATLASENT_SEAL: ::atlasent::__private::Seal = ::atlasent::__private::Seal::checked_by_the_macro();
}
const _: () = {
    ::atlasent::__private::inventory::submit! {
        ::atlasent::actions::RegisteredAction::__new("wire_transfer",
        ::core::concat!(::core::module_path!(), "::", ::core::stringify!(WireTransfer)),
        ::core::file!(), ::core::line!(),).__with_context(::core::any::type_name:: <
        WireContext >, { fn keys() -> ::core::option::Option < ::std::vec::Vec < &
        'static str >> { #[allow(unused_imports)] use ::atlasent::__private:: {
        KeysFromSerialize as _, NoKeys as _ }; (& ::atlasent::__private::KeysProbe:: <
        WireContext > ::new()).keys() } keys })
    }
};
