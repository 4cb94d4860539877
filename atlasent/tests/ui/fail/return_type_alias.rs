//! A return type alias not named `…Result` is refused: the macro reads the
//! return type as written and cannot resolve an alias. The error names the
//! alias and both fixes (spell `Result<…>`, or rename the alias).
use atlasent::Permit;

pub type R<T> = Result<T, atlasent::Error>;

#[atlasent::protect(action = "deploy", agent = "bot")]
async fn run(_permit: Permit) -> R<()> {
    Ok(())
}

fn main() {}
