//! `#[atlasent::action("")]`: the contract refuses an empty action.
#[atlasent::action("")]
pub struct Nothing;

fn main() {}
