pub(crate) async fn transfer<'a, T: Into<u64>>(
    &'a self,
    amount: T,
) -> Result<Receipt<'a>, PayError>
where
    T: Send,
{
    const _: () = {
        ::atlasent::__private::inventory::submit! {
            ::atlasent::actions::RegisteredAction::__new("wire_transfer",
            ::core::concat!("fn ", ::core::module_path!(), "::",
            ::core::stringify!(transfer)), ::core::file!(), ::core::line!(),)
        }
    };
    let __atlasent_context = &(Transfer { amount });
    let __atlasent_permit = match ::atlasent::__private::protect_with(
            &(self.client),
            ::core::convert::AsRef::<str>::as_ref(&(self.name)),
            "wire_transfer",
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
    let mut permit: Permit = __atlasent_bound;
    { self.ledger.pay(&mut permit, amount.into()) }
}
