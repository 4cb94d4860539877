//! `async unsafe fn` keeps its qualifiers in the right order.
use atlasent::Permit;

#[derive(Debug)]
pub struct AppError(pub atlasent::Error);
impl From<atlasent::Error> for AppError {
    fn from(e: atlasent::Error) -> Self {
        AppError(e)
    }
}

#[atlasent::protect(action = "poke", agent = "bot")]
pub async unsafe fn poke(addr: usize, _permit: Permit) -> Result<usize, AppError> {
    Ok(addr)
}

fn main() {
    let _ = unsafe { poke(0) };
}
