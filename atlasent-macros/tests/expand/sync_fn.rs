fn drop_db(name: &str) -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
    ::atlasent::__atlasent_require_blocking!();
    const _: () = {
        ::atlasent::__private::inventory::submit! {
            ::atlasent::actions::RegisteredAction::__new("drop_database",
            ::core::concat!("fn ", ::core::module_path!(), "::",
            ::core::stringify!(drop_db)), ::core::file!(), ::core::line!(),)
        }
    };
    let __atlasent_context = &();
    let __atlasent_permit = match ::atlasent::__private::protect_blocking_with(
        "drop_db",
        &(&CLIENT),
        ::core::convert::AsRef::<str>::as_ref(&("cli")),
        "drop_database",
        __atlasent_context,
    ) {
        ::core::result::Result::Ok(permit) => permit,
        ::core::result::Result::Err(__atlasent_error) => {
            return ::core::result::Result::Err(
                ::atlasent::__private::into_error(__atlasent_error),
            );
        }
    };
    let __atlasent_bound: atlasent::Permit = <atlasent::Permit as ::atlasent::__private::BindPermit<
        ::atlasent::AnyAction,
    >>::bind(__atlasent_permit);
    let _permit: &atlasent::Permit = &__atlasent_bound;
    { Ok(name.len() as u64) }
}
