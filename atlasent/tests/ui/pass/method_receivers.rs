//! `&mut self`, `self` and `self: Arc<Self>` receivers all work.
use atlasent::Permit;

include!("../common/app_error.rs");

use std::sync::Arc;

struct Counter {
    n: u32,
}

impl Counter {
    #[atlasent::protect(action = "bump", agent = "bot")]
    async fn bump(&mut self, _permit: Permit) -> Result<u32, AppError> {
        self.n += 1;
        Ok(self.n)
    }

    #[atlasent::protect(action = "consume", agent = "bot")]
    async fn consume(self, _permit: Permit) -> Result<u32, AppError> {
        Ok(self.n)
    }

    #[atlasent::protect(action = "share", agent = "bot")]
    async fn share(self: Arc<Self>, _permit: &Permit) -> Result<u32, AppError> {
        Ok(self.n)
    }
}

fn main() {
    let _ = (Counter::bump, Counter::consume, Counter::share);
}
