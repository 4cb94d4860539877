/// Deploy a commit.
pub async fn deploy(commit: &str) -> Result<(), DeployError> {
    let __atlasent_context = &(json!({ "commit" : commit }));
    let __atlasent_context = ::atlasent::__private::typed::<
        DeployToProduction,
        _,
    >(__atlasent_context);
    let __atlasent_permit = match ::atlasent::__private::protect_typed_default(
            ::core::convert::AsRef::<str>::as_ref(&("deploy-bot")),
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
    let __atlasent_bound: Permit<DeployToProduction> = <Permit<
        DeployToProduction,
    > as ::atlasent::__private::BindPermit<DeployToProduction>>::bind(__atlasent_permit);
    let permit: Permit<DeployToProduction> = __atlasent_bound;
    {
        tracing::info!(permit_id = permit.permit_id(), "deploying");
        Ok(())
    }
}
