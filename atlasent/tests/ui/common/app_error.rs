// Shared by the trybuild cases (`include!("../common/app_error.rs");`): an
// application error type with `From<atlasent::Error>`, as a guarded fn's
// error type. Not a case itself (the cases are `tests/ui/<kind>/*.rs`).

#[derive(Debug)]
pub struct AppError(pub atlasent::Error);
impl From<atlasent::Error> for AppError {
    fn from(e: atlasent::Error) -> Self {
        AppError(e)
    }
}
