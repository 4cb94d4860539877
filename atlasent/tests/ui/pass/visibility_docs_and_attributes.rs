//! Visibility, docs and other attributes survive.
use atlasent::Permit;

include!("../common/app_error.rs");

mod inner {
    use super::*;

    /// Documented, crate-visible, with attributes kept.
    #[inline]
    #[allow(clippy::needless_lifetimes)]
    #[atlasent::protect(action = "deploy", agent = "bot")]
    #[must_use = "the result says whether it ran"]
    pub(crate) async fn deploy(_permit: Permit) -> Result<(), AppError> {
        #![allow(unused_variables)]
        let unused = 1;
        Ok(())
    }
}

fn main() {
    let _ = inner::deploy();
}
