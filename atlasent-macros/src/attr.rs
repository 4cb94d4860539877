//! Parsing the attribute's arguments: `key = value` pairs, every error a
//! `syn::Error` on the offending token.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::{Expr, ExprLit, Lit, LitStr, Path, Token};

/// Every option the attribute accepts, in the order the error lists them.
pub(crate) const KEYS: &[&str] = &["action", "agent", "context", "client", "crate"];

/// The longest action the contract accepts (characters).
const MAX_ACTION_CHARS: usize = 256;

/// The `action` of `#[protect(...)]`: a literal, or an action type.
pub(crate) enum ActionSpec {
    /// `action = "deploy"`: the permit is an untyped `Permit`.
    Literal(LitStr),
    /// `action = Deploy`: the permit is a `Permit<Deploy>`.
    Type(Path),
}

/// The parsed arguments of `#[protect(...)]`.
pub(crate) struct Args {
    pub(crate) action: ActionSpec,
    pub(crate) agent: Expr,
    pub(crate) context: Option<Expr>,
    pub(crate) client: Option<Expr>,
}

/// The arguments as far as they could be read, with every error found.
#[derive(Default)]
pub(crate) struct RawArgs {
    action: Option<ActionSpec>,
    agent: Option<Expr>,
    context: Option<Expr>,
    client: Option<Expr>,
    krate: Option<Path>,
    /// Options that were written, valid or not.
    given: Vec<String>,
    /// Kept even when other arguments are wrong, so that the error path can
    /// still name the right crate.
    pub(crate) errors: Option<syn::Error>,
}

impl RawArgs {
    fn error(&mut self, e: syn::Error) {
        match &mut self.errors {
            Some(all) => all.combine(e),
            None => self.errors = Some(e),
        }
    }

    /// The crate path the generated code uses (`::atlasent` by default).
    pub(crate) fn krate(&self) -> Option<&Path> {
        self.krate.as_ref()
    }

    /// Check for required options and return the arguments, or every error.
    pub(crate) fn finish(mut self) -> Result<Args, syn::Error> {
        if self.action.is_none() && !self.given.iter().any(|k| k == "action") {
            self.error(syn::Error::new(
                Span::call_site(),
                "missing required option `action`: add `action = \"...\"`, e.g. `action = \"deploy_to_production\"`, \
                 or an action type, `action = DeployToProduction`",
            ));
        }
        if self.agent.is_none() && !self.given.iter().any(|k| k == "agent") {
            self.error(syn::Error::new(
                Span::call_site(),
                "missing required option `agent`: add `agent = <expr>`, e.g. `agent = \"deploy-bot\"` or `agent = self.name`",
            ));
        }
        if let Some(e) = self.errors {
            return Err(e);
        }
        match (self.action, self.agent) {
            (Some(action), Some(agent)) => Ok(Args {
                action,
                agent,
                context: self.context,
                client: self.client,
            }),
            _ => Err(syn::Error::new(
                Span::call_site(),
                "missing required options",
            )),
        }
    }
}

impl Parse for RawArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = RawArgs::default();
        let mut seen: Vec<String> = Vec::new();
        while !input.is_empty() {
            // `crate` is a keyword: accept it as a key too.
            let key = if input.peek(Token![crate]) {
                let token: Token![crate] = input.parse()?;
                syn::Ident::new("crate", token.span)
            } else if input.peek(syn::Ident) && input.peek2(Token![=]) {
                input.parse::<syn::Ident>()?
            } else {
                // A positional argument or stray token: report it, skip to the next comma.
                let span = input.span();
                let _: Option<Expr> = input.parse().ok();
                args.error(syn::Error::new(
                    span,
                    "expected `key = value`; positional arguments are not accepted (write `action = \"...\"`)",
                ));
                skip_to_comma(input)?;
                continue;
            };
            let name = key.to_string();
            input.parse::<Token![=]>()?;
            if let Err(e) = accept_option(&key, KEYS, "expected one of:", &mut seen) {
                args.error(e);
                let _: Expr = input.parse()?;
            } else {
                args.given.push(name.clone());
                match name.as_str() {
                    "action" => {
                        let expr: Expr = input.parse()?;
                        match action_spec(&expr) {
                            Ok(spec) => args.action = Some(spec),
                            Err(e) => args.error(e),
                        }
                    }
                    "agent" => args.agent = Some(input.parse()?),
                    "context" => args.context = Some(input.parse()?),
                    "client" => args.client = Some(input.parse()?),
                    _ => args.krate = Some(input.call(Path::parse_mod_style)?),
                }
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(args)
    }
}

/// Admits the option `key` of an attribute that takes `keys`, each at most
/// once: records it in `seen`, or names what is wrong with it (unknown:
/// `unknown option `…`; {expected} a, b, …`; or given twice).
pub(crate) fn accept_option(
    key: &syn::Ident,
    keys: &[&str],
    expected: &str,
    seen: &mut Vec<String>,
) -> syn::Result<()> {
    let name = key.to_string();
    if !keys.contains(&name.as_str()) {
        return Err(syn::Error::new(
            key.span(),
            format!("unknown option `{name}`; {expected} {}", keys.join(", ")),
        ));
    }
    if seen.contains(&name) {
        return Err(syn::Error::new(
            key.span(),
            format!("duplicate option `{name}`"),
        ));
    }
    seen.push(name);
    Ok(())
}

fn skip_to_comma(input: ParseStream<'_>) -> syn::Result<()> {
    while !input.is_empty() && !input.peek(Token![,]) {
        input.parse::<proc_macro2::TokenTree>()?;
    }
    if input.peek(Token![,]) {
        input.parse::<Token![,]>()?;
    }
    Ok(())
}

/// `action` is a non-empty string literal of at most 256 characters, or
/// the path of an action type.
fn action_spec(expr: &Expr) -> syn::Result<ActionSpec> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => {
            check_action_name(lit, "`action`")?;
            Ok(ActionSpec::Literal(lit.clone()))
        }
        Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() => {
            if let Some(name) = p.path.get_ident().map(ToString::to_string) {
                if looks_like_a_constant(&name) {
                    return Err(syn::Error::new_spanned(
                        p,
                        format!(
                            "`{name}` looks like a constant, and `action` takes a string literal \
                             (`action = \"deploy_to_production\"`) or an action type declared \
                             with #[atlasent::action] (`action = DeployToProduction`): the macro \
                             cannot read a constant's value, and every guarded action should be \
                             visible in the source. If `{name}` is an action type, write its \
                             path (`action = self::{name}`)"
                        ),
                    ));
                }
            }
            Ok(ActionSpec::Type(p.path.clone()))
        }
        Expr::Group(g) => action_spec(&g.expr),
        other => Err(syn::Error::new_spanned(
            other,
            "`action` must be a string literal (`action = \"deploy_to_production\"`) or an action \
             type declared with #[atlasent::action] (`action = DeployToProduction`), so that every \
             guarded action is visible in the source",
        )),
    }
}

/// `SCREAMING_CASE`: by Rust's naming conventions a constant, not a type.
fn looks_like_a_constant(name: &str) -> bool {
    name.chars().count() > 1
        && name.chars().any(|c| c.is_ascii_uppercase())
        && !name.chars().any(char::is_lowercase)
}

/// An action name is 1 to 256 characters, as the contract requires.
pub(crate) fn check_action_name(lit: &LitStr, what: &str) -> syn::Result<()> {
    let value = lit.value();
    if value.is_empty() {
        Err(syn::Error::new(
            lit.span(),
            format!("{what} must not be empty"),
        ))
    } else if value.chars().count() > MAX_ACTION_CHARS {
        Err(syn::Error::new(
            lit.span(),
            format!(
                "{what} is {} characters long; the contract's limit is {MAX_ACTION_CHARS}",
                value.chars().count()
            ),
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_is_told_from_an_action_type_by_its_case() {
        for name in ["ACTION", "DROP_DB", "V2_DEPLOY"] {
            assert!(looks_like_a_constant(name), "{name}");
        }
        for name in ["Deploy", "DeployToProduction", "A", "Db", "Deploy2"] {
            assert!(!looks_like_a_constant(name), "{name}");
        }
        let e = action_spec(&syn::parse_quote!(ACTION))
            .err()
            .expect("refused");
        assert!(
            e.to_string().contains("`ACTION` looks like a constant"),
            "{e}"
        );
        assert!(matches!(
            action_spec(&syn::parse_quote!(self::DB)),
            Ok(ActionSpec::Type(_))
        ));
    }
}
