pub async fn wire(&self, amount: u64, to: &str) -> Result<String, PayError> {
    let __atlasent_context = &(WireContext { amount, to });
    let __atlasent_context = ::atlasent::__private::typed::<
        actions::WireTransfer,
        _,
    >(__atlasent_context);
    let __atlasent_permit = match ::atlasent::__private::protect_typed_with(
            &(self.client),
            ::core::convert::AsRef::<str>::as_ref(&(self.name)),
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
    let __atlasent_bound: Permit<actions::WireTransfer> = <Permit<
        actions::WireTransfer,
    > as ::atlasent::__private::BindPermit<
        actions::WireTransfer,
    >>::bind(__atlasent_permit);
    let permit: &Permit<actions::WireTransfer> = &__atlasent_bound;
    { Ok(permit.permit_id().to_owned()) }
}
