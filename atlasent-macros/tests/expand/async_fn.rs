/// Deploy a commit.
pub async fn deploy(commit: &str) -> Result<(), DeployError> {
    let __atlasent_context = &(json!({ "commit" : commit }));
    let __atlasent_permit: ::atlasent::Permit = match ::atlasent::__private::protect_default(
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
    let permit: Permit = __atlasent_permit;
    {
        tracing::info!(permit_id = permit.permit_id(), "deploying");
        Ok(())
    }
}
