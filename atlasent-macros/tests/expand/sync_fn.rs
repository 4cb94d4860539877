fn drop_db(name: &str) -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
    ::atlasent::__atlasent_require_blocking!();
    let __atlasent_context = &();
    let __atlasent_permit: ::atlasent::Permit = match ::atlasent::__private::protect_blocking_with(
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
    let _permit: &atlasent::Permit = &__atlasent_permit;
    { Ok(name.len() as u64) }
}
