pub struct DeployToProduction;
impl ::my_atlasent::Action for DeployToProduction {
    const NAME: &'static str = "deploy_to_production";
    type Context = ::my_atlasent::actions::AnyContext;
    #[doc(hidden)]
    const __ATLASENT_SEAL: ::my_atlasent::__private::Seal = ::my_atlasent::__private::Seal::checked_by_the_macro();
}
const _: () = {
    ::my_atlasent::__private::inventory::submit! {
        ::my_atlasent::actions::RegisteredAction::__new("deploy_to_production",
        ::core::concat!(::core::module_path!(), "::",
        ::core::stringify!(DeployToProduction)), ::core::file!(), ::core::line!(),)
    }
};
