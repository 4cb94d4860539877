//! `async unsafe fn` keeps its qualifiers in the right order.
use atlasent::Permit;

include!("../common/app_error.rs");

#[atlasent::protect(action = "poke", agent = "bot")]
pub async unsafe fn poke(addr: usize, _permit: Permit) -> Result<usize, AppError> {
    Ok(addr)
}

fn main() {
    let _ = unsafe { poke(0) };
}
