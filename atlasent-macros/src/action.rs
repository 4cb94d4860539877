//! `#[atlasent::action("name", context = T)]` on a unit struct: implement
//! `atlasent::Action` and register the action.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::{Fields, Item, LitStr, Path, Token, Type};

use crate::attr::{accept_option, check_action_name};

/// The options after the name.
const KEYS: &[&str] = &["context", "crate"];

/// The parsed arguments of `#[action(...)]`.
#[derive(Default)]
struct ActionArgs {
    name: Option<LitStr>,
    context: Option<Type>,
    krate: Option<Path>,
    errors: Option<syn::Error>,
}

impl ActionArgs {
    fn error(&mut self, e: syn::Error) {
        match &mut self.errors {
            Some(all) => all.combine(e),
            None => self.errors = Some(e),
        }
    }
}

impl Parse for ActionArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = ActionArgs::default();
        if input.is_empty() {
            args.error(missing_name(Span::call_site()));
            return Ok(args);
        }
        if input.peek(LitStr) {
            let lit: LitStr = input.parse()?;
            match check_action_name(&lit, "the action name") {
                Ok(()) => args.name = Some(lit),
                Err(e) => args.error(e),
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        } else if (input.peek(syn::Ident) || input.peek(Token![crate])) && input.peek2(Token![=]) {
            // Options, but no name before them.
            args.error(missing_name(input.span()));
        } else {
            // Something else where the name goes: a constant, a path, a number.
            let found = skip_value(input)?;
            args.error(syn::Error::new_spanned(
                &found,
                format!(
                    "the action name must be a string literal, not `{found}`: \
                     `#[atlasent::action(\"deploy_to_production\")]` (the macro checks the \
                     name at compile time, and the source shows every action)"
                ),
            ));
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        let mut seen: Vec<String> = Vec::new();
        while !input.is_empty() {
            let key = if input.peek(Token![crate]) {
                let token: Token![crate] = input.parse()?;
                syn::Ident::new("crate", token.span)
            } else {
                input.parse::<syn::Ident>().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        "expected `context = Type` or `crate = path` after the action name",
                    )
                })?
            };
            input.parse::<Token![=]>()?;
            let expected = "#[atlasent::action] takes the action name, then:";
            if let Err(e) = accept_option(&key, KEYS, expected, &mut seen) {
                args.error(e);
                let _: TokenStream = skip_value(input)?;
            } else {
                if key == "context" {
                    args.context = Some(input.parse()?);
                } else {
                    args.krate = Some(input.call(Path::parse_mod_style)?);
                }
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(args)
    }
}

fn skip_value(input: ParseStream<'_>) -> syn::Result<TokenStream> {
    let mut out = TokenStream::new();
    while !input.is_empty() && !input.peek(Token![,]) {
        out.extend(std::iter::once(input.parse::<proc_macro2::TokenTree>()?));
    }
    Ok(out)
}

fn missing_name(span: Span) -> syn::Error {
    syn::Error::new(
        span,
        "#[atlasent::action] needs the action name first, as a string literal: \
         `#[atlasent::action(\"deploy_to_production\")]`",
    )
}

/// `#[action(attr)] item` → the struct, its `Action` impl and its
/// registration, or the struct plus every error found.
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut args = syn::parse2::<ActionArgs>(attr).unwrap_or_else(|e| {
        let mut args = ActionArgs::default();
        args.error(e);
        args
    });
    let krate: Path = args
        .krate
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::atlasent));
    let parsed = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Struct(s)) => s,
        Ok(other) => {
            let mut out = syn::Error::new_spanned(
                item_keyword(&other),
                "#[atlasent::action] applies to a unit struct: `pub struct DeployToProduction;`",
            )
            .into_compile_error();
            out.extend(item);
            return out;
        }
        Err(e) => {
            let mut out = e.into_compile_error();
            out.extend(item);
            return out;
        }
    };
    if !matches!(parsed.fields, Fields::Unit) {
        args.error(syn::Error::new_spanned(
            &parsed.fields,
            format!(
                "an action type is a unit struct (`struct {};`): it names the action and \
                 carries no data; pass data as the context",
                parsed.ident
            ),
        ));
    }
    if !parsed.generics.params.is_empty() || parsed.generics.where_clause.is_some() {
        args.error(syn::Error::new_spanned(
            &parsed.generics,
            "an action type cannot be generic: one type names one action",
        ));
    }
    if let Some(errors) = args.errors {
        let mut out = errors.into_compile_error();
        out.extend(quote!(#parsed));
        return out;
    }
    let Some(name) = args.name else {
        return quote!(#parsed);
    };
    let ident = &parsed.ident;
    let (context, registration_context) = match &args.context {
        None => (quote!(#krate::actions::AnyContext), TokenStream::new()),
        Some(ty) => (
            quote!(#krate::actions::TypedContext<#ty>),
            quote! {
                .__with_context(::core::any::type_name::<#ty>, {
                    fn keys() -> ::core::option::Option<::std::vec::Vec<&'static str>> {
                        #[allow(unused_imports)]
                        use #krate::__private::{KeysFromSerialize as _, NoKeys as _};
                        (&#krate::__private::KeysProbe::<#ty>::new()).keys()
                    }
                    keys
                })
            },
        ),
    };
    quote! {
        #parsed

        impl #krate::Action for #ident {
            const NAME: &'static str = #name;
            type Context = #context;
            #[doc(hidden)]
            const __ATLASENT_SEAL: #krate::__private::Seal =
                #krate::__private::Seal::checked_by_the_macro();
        }

        const _: () = {
            #krate::__private::inventory::submit! {
                #krate::actions::RegisteredAction::__new(
                    #name,
                    ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#ident)),
                    ::core::file!(),
                    ::core::line!(),
                )
                #registration_context
            }
        };
    }
}

/// The token to point at when the item is not a struct.
fn item_keyword(item: &Item) -> TokenStream {
    match item {
        Item::Enum(e) => {
            let t = &e.enum_token;
            quote!(#t)
        }
        Item::Fn(f) => {
            let t = &f.sig.fn_token;
            quote!(#t)
        }
        Item::Union(u) => {
            let t = &u.union_token;
            quote!(#t)
        }
        Item::Trait(t) => {
            let t = &t.trait_token;
            quote!(#t)
        }
        other => quote!(#other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::snapshot::snapshot_tests! { expand =>
        typed_context_action_expansion: "action_with_context" => ("wire_transfer", context = WireContext) {
            /// Move money.
            #[derive(Debug)]
            pub struct WireTransfer;
        }
        plain_action_expansion: "action" => ("deploy_to_production", crate = ::my_atlasent) {
            pub struct DeployToProduction;
        }
    }

    fn errors_of(attr: TokenStream, item: TokenStream) -> String {
        let out = expand(attr, item).to_string();
        assert!(out.contains("compile_error"), "{out}");
        assert!(
            !out.contains("impl"),
            "an invalid action is not implemented: {out}"
        );
        out
    }

    #[test]
    fn every_error_is_reported_and_the_struct_is_kept() {
        let out = errors_of(
            quote!("", colour = red, context = A, context = B),
            quote!(
                struct S<T>(T);
            ),
        );
        for needle in [
            "the action name must not be empty",
            "unknown option `colour`",
            "duplicate option `context`",
            "an action type is a unit struct",
            "cannot be generic",
            "struct S",
        ] {
            assert!(out.contains(needle), "{out} lacks {needle:?}");
        }
    }
}
