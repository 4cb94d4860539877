//! A plain method with an explicit blocking client.
use atlasent::Permit;

include!("../common/app_error.rs");

struct Cli {
    client: atlasent::blocking::Client,
}

impl Cli {
    #[atlasent::protect(action = "purge", agent = "ops-cli", client = self.client)]
    fn purge(&self, _permit: &Permit) -> Result<u32, AppError> {
        Ok(0)
    }
}

fn main() {
    let _ = Cli::purge;
}
