//! `#[atlasent::action]` on a generic struct: one type names one action.
#[atlasent::action("deploy_to_production")]
pub struct Deploy<T>(std::marker::PhantomData<T>);

fn main() {}
