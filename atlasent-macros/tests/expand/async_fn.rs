/// Deploy a commit.
pub async fn deploy(commit: &str) -> Result<(), DeployError> {
    const _: () = {
        ::atlasent::__private::inventory::submit! {
            ::atlasent::actions::RegisteredAction::__new("deploy_to_production",
            ::core::concat!("fn ", ::core::module_path!(), "::",
            ::core::stringify!(deploy)), ::core::file!(), ::core::line!(),)
        }
    };
    let __atlasent_context = &(json!({ "commit" : commit }));
    let __atlasent_permit = match ::atlasent::__private::protect_default(
            ::core::convert::AsRef::<str>::as_ref(&("deploy-bot")),
            "deploy_to_production",
            __atlasent_context,
        )
        .await
    {
        ::core::result::Result::Ok(permit) => permit,
        ::core::result::Result::Err(__atlasent_error) => {
            return ::core::result::Result::Err(
                ::atlasent::__private::into_error(__atlasent_error),
            );
        }
    };
    let __atlasent_bound: Permit = <Permit as ::atlasent::__private::BindPermit<
        ::atlasent::AnyAction,
    >>::bind(__atlasent_permit);
    let permit: Permit = __atlasent_bound;
    {
        tracing::info!(permit_id = permit.permit_id(), "deploying");
        Ok(())
    }
}
