fn drop_db(name: &str) -> Result<u64, atlasent::Error> {
    ::atlasent::__atlasent_require_blocking!();
    let __atlasent_context = &();
    let __atlasent_context = ::atlasent::__private::typed::<
        DropDatabase,
        _,
    >(__atlasent_context);
    let __atlasent_permit = match ::atlasent::__private::protect_typed_blocking_default(
        "drop_db",
        ::core::convert::AsRef::<str>::as_ref(&("cli")),
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
        DropDatabase,
    >>::bind(__atlasent_permit);
    let permit: atlasent::Permit = __atlasent_bound;
    { Ok(name.len() as u64) }
}
