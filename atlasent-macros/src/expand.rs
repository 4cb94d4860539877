//! Code generation: remove the `Permit` parameter, obtain the permit first,
//! then run the original body with it bound.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, Pat, Path, ReturnType, Signature, Token, Type, Visibility};

use crate::attr::{ActionSpec, Args, RawArgs};

/// A function whose body is kept as tokens, so that a half-typed body still
/// gets the function emitted (tracing-attributes #1634).
struct MaybeItemFn {
    outer_attrs: Vec<Attribute>,
    inner_attrs: Vec<Attribute>,
    vis: Visibility,
    sig: Signature,
    body: TokenStream,
}

impl Parse for MaybeItemFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let outer_attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let sig: Signature = input.parse()?;
        let content;
        syn::braced!(content in input);
        let inner_attrs = content.call(Attribute::parse_inner)?;
        let body: TokenStream = content.parse()?;
        Ok(Self {
            outer_attrs,
            inner_attrs,
            vis,
            sig,
            body,
        })
    }
}

/// The removed `Permit` parameter.
struct PermitParam {
    pat: Box<Pat>,
    ty: Box<Type>,
    by_ref: bool,
}

/// `#[protect(attr)] item` → the guarded function, or the function plus
/// every error found.
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let raw = syn::parse2::<RawArgs>(attr).unwrap_or_else(|e| {
        let mut raw = RawArgs::default();
        raw.errors = Some(e);
        raw
    });
    let krate: Path = raw
        .krate()
        .cloned()
        .unwrap_or_else(|| syn::parse_quote!(::atlasent));
    let mut func = match syn::parse2::<MaybeItemFn>(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let span = item
                .clone()
                .into_iter()
                .next()
                .map_or_else(Span::call_site, |t| t.span());
            let error = syn::Error::new(
                span,
                "#[atlasent::protect] applies to a function with a body (`fn` or `async fn`, free or a method)",
            );
            let mut out = error.into_compile_error();
            out.extend(item);
            return out;
        }
    };

    let mut errors: Vec<syn::Error> = Vec::new();
    let args = raw.finish().map_err(|e| errors.push(e)).ok();
    if let Some(constness) = &func.sig.constness {
        errors.push(syn::Error::new_spanned(
            constness,
            "#[atlasent::protect] cannot guard a `const fn`: obtaining a permit is a call to the decision server",
        ));
    }
    let permits = match take_permit(&mut func.sig) {
        Ok(p) => vec![p],
        Err((e, found)) => {
            errors.push(e);
            found
        }
    };
    if let Err(e) = check_return(&func.sig) {
        errors.push(e);
    }

    if let (Some(args), [permit]) = (&args, permits.as_slice()) {
        if let Some(e) = typed_permit_under_literal(args, permit) {
            errors.push(e);
        }
    }

    match (args, permits.as_slice(), errors.is_empty()) {
        (Some(args), [permit], true) => guarded(&func, &args, permit, &krate),
        _ => {
            let mut out = TokenStream::new();
            for e in errors {
                out.extend(e.into_compile_error());
            }
            out.extend(unexpanded(&func, &permits, &krate));
            out
        }
    }
}

/// Whether `ty` names the `Permit` type (`Permit`, `atlasent::Permit`,
/// `Permit<DeployToProduction>`, …).
fn is_permit(ty: &Type) -> bool {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().is_some_and(|s| {
            s.ident == "Permit"
                && match &s.arguments {
                    syn::PathArguments::None => true,
                    syn::PathArguments::AngleBracketed(a) => a.args.len() == 1,
                    syn::PathArguments::Parenthesized(_) => false,
                }
        }),
        Type::Paren(p) => is_permit(&p.elem),
        Type::Group(g) => is_permit(&g.elem),
        _ => false,
    }
}

/// A literal action makes an untyped permit: a `Permit<SomeAction>`
/// parameter under `action = "..."` is refused here, naming the fix (the
/// trait error would name `AnyAction`, which the user never wrote).
fn typed_permit_under_literal(args: &Args, permit: &PermitParam) -> Option<syn::Error> {
    let ActionSpec::Literal(action) = &args.action else {
        return None;
    };
    let declared = match unwrap_type(&permit.ty) {
        Type::Reference(r) => unwrap_type(&r.elem),
        other => other,
    };
    let Type::Path(p) = declared else { return None };
    let last = p.path.segments.last()?;
    let syn::PathArguments::AngleBracketed(generics) = &last.arguments else {
        return None;
    };
    let arg = generics.args.first()?;
    if let syn::GenericArgument::Type(Type::Path(t)) = arg {
        if t.path
            .segments
            .last()
            .is_some_and(|s| s.ident == "AnyAction")
        {
            return None;
        }
    }
    let named = arg.to_token_stream().to_string().replace(' ', "");
    Some(syn::Error::new_spanned(
        declared,
        format!(
            "`action = {:?}` is a string, so the permit is an untyped `Permit`, not a \
             `Permit<{named}>`: name the action type instead (`action = {named}`), or take \
             `Permit`",
            action.value()
        ),
    ))
}

/// Find the one `Permit` parameter, remove it from the signature, return it;
/// on error, every permit parameter found (all removed) goes with the error.
fn take_permit(sig: &mut Signature) -> Result<PermitParam, (syn::Error, Vec<PermitParam>)> {
    let mut found: Vec<(usize, PermitParam)> = Vec::new();
    let mut problems: Option<syn::Error> = None;
    let mut push = |e: syn::Error| match &mut problems {
        Some(all) => all.combine(e),
        None => problems = Some(e),
    };
    for (i, arg) in sig.inputs.iter().enumerate() {
        let FnArg::Typed(pt) = arg else { continue };
        let (by_ref, inner) = match &*pt.ty {
            Type::Reference(r) if is_permit(&r.elem) => {
                if let Some(m) = &r.mutability {
                    push(syn::Error::new_spanned(
                        m,
                        "take the permit by value (`Permit`) or by shared reference (`&Permit`), not `&mut`",
                    ));
                }
                (true, true)
            }
            other => (false, is_permit(other)),
        };
        if !inner {
            continue;
        }
        if !found.is_empty() {
            push(syn::Error::new_spanned(
                pt,
                "a #[atlasent::protect] function takes exactly one `Permit` parameter; this is a second one",
            ));
        }
        found.push((
            i,
            PermitParam {
                pat: pt.pat.clone(),
                ty: pt.ty.clone(),
                by_ref,
            },
        ));
    }
    if found.is_empty() {
        push(syn::Error::new(
            sig.paren_token.span.join(),
            "a #[atlasent::protect] function receives the permit it runs under: add a parameter \
             `permit: atlasent::Permit` (or `&Permit`); callers do not pass it",
        ));
    }
    if let Some(e) = problems {
        // Still remove every permit parameter, so the emitted function is
        // callable the way the guarded one will be.
        let indices: Vec<usize> = found.iter().map(|(i, _)| *i).collect();
        remove_inputs(sig, &indices);
        return Err((e, found.into_iter().map(|(_, p)| p).collect()));
    }
    let (index, permit) = found.remove(0);
    remove_inputs(sig, &[index]);
    Ok(permit)
}

fn remove_inputs(sig: &mut Signature, indices: &[usize]) {
    let kept: Punctuated<FnArg, Token![,]> = std::mem::take(&mut sig.inputs)
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !indices.contains(i))
        .map(|(_, arg)| arg)
        .collect();
    sig.inputs = kept;
}

/// The function must return `Result<T, E>`, spelled as a path whose last
/// segment ends in `Result` (`Result`, `std::result::Result`, `io::Result`,
/// `anyhow::Result`, `AppResult`): a macro sees tokens, not types, so an
/// alias named otherwise cannot be told from a type that is no `Result`.
fn check_return(sig: &Signature) -> syn::Result<()> {
    const RULE: &str =
        "a #[atlasent::protect] function returns `Result<T, E>` with `E: From<atlasent::Error>`, \
         so that a refused authorization reaches the caller as an error";
    let ty = match &sig.output {
        ReturnType::Default => return Err(syn::Error::new(sig.ident.span(), RULE)),
        ReturnType::Type(_, ty) => ty,
    };
    match unwrap_type(ty) {
        Type::Path(p) => {
            let Some(last) = p.path.segments.last() else {
                return Err(syn::Error::new_spanned(ty, RULE));
            };
            let name = last.ident.to_string();
            if name.ends_with("Result") {
                Ok(())
            } else if p.path.segments.len() == 1 && NOT_AN_ALIAS.contains(&name.as_str()) {
                Err(syn::Error::new_spanned(ty, RULE))
            } else {
                let alias = p
                    .path
                    .segments
                    .iter()
                    .map(|s| s.ident.to_string())
                    .collect::<Vec<_>>()
                    .join("::");
                Err(syn::Error::new_spanned(
                    ty,
                    format!(
                        "`{alias}` is not spelled as a `Result`, and #[atlasent::protect] reads \
                         the return type as written: it cannot resolve a type alias. If `{alias}` \
                         is an alias of `Result`, write `Result<…>` in its place, or rename the \
                         alias so that its name ends in `Result` (as `io::Result` and \
                         `anyhow::Result` do). The function returns `Result<T, E>` with \
                         `E: From<atlasent::Error>`, so that a refused authorization reaches the \
                         caller as an error"
                    ),
                ))
            }
        }
        _ => Err(syn::Error::new_spanned(ty, RULE)),
    }
}

/// Return types that are certainly not an alias of `Result`: no alias hint
/// for them.
const NOT_AN_ALIAS: &[&str] = &[
    "bool", "char", "str", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64",
    "i128", "isize", "f32", "f64", "Self", "String", "Option", "Vec", "Box",
];

/// `ty` without the invisible groups of a `macro_rules!` expansion and
/// without parentheses.
fn unwrap_type(ty: &Type) -> &Type {
    match ty {
        Type::Group(g) => unwrap_type(&g.elem),
        Type::Paren(p) => unwrap_type(&p.elem),
        other => other,
    }
}

/// The guarded function.
fn guarded(func: &MaybeItemFn, args: &Args, permit: &PermitParam, krate: &Path) -> TokenStream {
    let MaybeItemFn {
        outer_attrs,
        inner_attrs,
        vis,
        sig,
        body,
    } = func;
    // Generated locals live in the macro's hygiene context: the body cannot
    // name them and they cannot shadow anything of the user's.
    let site = Span::mixed_site();
    let obtained = syn::Ident::new("__atlasent_permit", site);
    let error = syn::Ident::new("__atlasent_error", site);
    let context_value = syn::Ident::new("__atlasent_context", site);

    let agent = &args.agent;
    let agent = quote_spanned!(agent.span()=> ::core::convert::AsRef::<str>::as_ref(&(#agent)));
    let context = match &args.context {
        Some(expr) => quote_spanned!(expr.span()=> &(#expr)),
        None => quote!(&()),
    };
    // With an action type, the context is checked where it is written (the
    // default `()` where the action is): `typed` reports a type that is no
    // action, or a context the action does not accept, once. A statement of
    // its own, so that `let` still extends the temporary's life; its
    // argument is the generated local, located at the context so that the
    // error points there.
    let check = match &args.action {
        ActionSpec::Literal(_) => TokenStream::new(),
        ActionSpec::Type(action) => {
            let at = args
                .context
                .as_ref()
                .map_or_else(|| action.span(), |e| e.span());
            let located = syn::Ident::new("__atlasent_context", site.located_at(at));
            quote_spanned!(at=>
                let #context_value = #krate::__private::typed::<#action, _>(#located);)
        }
    };
    let is_async = sig.asyncness.is_some();
    // Named by the blocking client when it refuses to block a runtime's
    // worker thread (tests/blocking_contexts.rs).
    let function = syn::LitStr::new(&sig.ident.unraw().to_string(), sig.ident.span());
    let (call, action_type, registration) = match &args.action {
        ActionSpec::Literal(action) => {
            let call = match (&args.client, is_async) {
                (Some(client), true) => quote_spanned!(client.span()=>
                    #krate::__private::protect_with(&(#client), #agent, #action, #context_value).await),
                (None, true) => {
                    quote!(#krate::__private::protect_default(#agent, #action, #context_value).await)
                }
                (Some(client), false) => quote_spanned!(client.span()=>
                    #krate::__private::protect_blocking_with(#function, &(#client), #agent, #action, #context_value)),
                (None, false) => quote!(
                    #krate::__private::protect_blocking_default(#function, #agent, #action, #context_value)
                ),
            };
            // The policy coverage check (atlasent::actions::registered) sees
            // literal actions through this registration.
            let ident = &sig.ident;
            let registration = quote! {
                const _: () = {
                    #krate::__private::inventory::submit! {
                        #krate::actions::RegisteredAction::__new(
                            #action,
                            ::core::concat!("fn ", ::core::module_path!(), "::", ::core::stringify!(#ident)),
                            ::core::file!(),
                            ::core::line!(),
                        )
                    }
                };
            };
            (call, quote!(#krate::AnyAction), registration)
        }
        ActionSpec::Type(action) => {
            let call = match (&args.client, is_async) {
                (Some(client), true) => quote_spanned!(client.span()=>
                    #krate::__private::protect_typed_with(&(#client), #agent, #context_value).await),
                (None, true) => quote!(
                    #krate::__private::protect_typed_default(#agent, #context_value).await),
                (Some(client), false) => quote_spanned!(client.span()=>
                    #krate::__private::protect_typed_blocking_with(#function, &(#client), #agent, #context_value)),
                (None, false) => quote!(
                    #krate::__private::protect_typed_blocking_default(#function, #agent, #context_value)),
            };
            // The action type registered itself.
            (call, quote!(#action), TokenStream::new())
        }
    };
    let require_blocking = if is_async {
        TokenStream::new()
    } else {
        quote_spanned!(sig.fn_token.span()=> #krate::__atlasent_require_blocking!();)
    };
    let output_span = match &sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => sig.ident.span(),
    };
    let convert = quote_spanned!(output_span=> #krate::__private::into_error(#error));
    let pat = &permit.pat;
    let ty = &permit.ty;
    let declared = match &**ty {
        Type::Reference(r) if permit.by_ref => &*r.elem,
        other => other,
    };
    let bind = syn::Ident::new("__atlasent_bound", site);
    let convert_permit = quote_spanned!(declared.span()=>
        <#declared as #krate::__private::BindPermit<#action_type>>::bind(#obtained));
    let bound = if permit.by_ref {
        quote!(&#bind)
    } else {
        quote!(#bind)
    };
    quote! {
        #(#outer_attrs)*
        #vis #sig {
            #(#inner_attrs)*
            #require_blocking
            #registration
            let #context_value = #context;
            #check
            let #obtained = match #call {
                ::core::result::Result::Ok(permit) => permit,
                ::core::result::Result::Err(#error) => {
                    return ::core::result::Result::Err(#convert);
                }
            };
            let #bind: #declared = #convert_permit;
            let #pat: #ty = #bound;
            {
                #body
            }
        }
    }
}

/// The function as the user wrote it minus the permit parameter, with the
/// permit bound to a value that never exists: emitted next to the errors so
/// that editors and call sites keep working.
fn unexpanded(func: &MaybeItemFn, permits: &[PermitParam], krate: &Path) -> TokenStream {
    let (outer_attrs, inner_attrs) = (&func.outer_attrs, &func.inner_attrs);
    let (vis, sig, body) = (&func.vis, &func.sig, &func.body);
    let binding = permits.iter().map(|p| {
        let (pat, ty) = (&p.pat, &p.ty);
        quote!(let #pat: #ty = #krate::__private::unexpanded();)
    });
    let mut sig = sig.clone();
    // A `const fn` calling the non-const helper would add a second error.
    sig.constness = None;
    let sig = sig.into_token_stream();
    quote! {
        #(#outer_attrs)*
        #[allow(unreachable_code, unused_variables)]
        #vis #sig {
            #(#inner_attrs)*
            #(#binding)*
            {
                #body
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::snapshot::snapshot_tests! { expand =>
        async_fn_expansion: "async_fn" => (
            action = "deploy_to_production",
            agent = "deploy-bot",
            context = json!({ "commit": commit })
        ) {
            /// Deploy a commit.
            pub async fn deploy(permit: Permit, commit: &str) -> Result<(), DeployError> {
                tracing::info!(permit_id = permit.permit_id(), "deploying");
                Ok(())
            }
        }
        sync_fn_expansion: "sync_fn" => (action = "drop_database", agent = "cli", client = &CLIENT) {
            fn drop_db(name: &str, _permit: &atlasent::Permit) -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
                Ok(name.len() as u64)
            }
        }
        method_expansion: "method" => (
            action = "wire_transfer",
            agent = self.name,
            context = Transfer { amount },
            client = self.client,
            crate = ::atlasent
        ) {
            pub(crate) async fn transfer<'a, T: Into<u64>>(&'a self, mut permit: Permit, amount: T) -> Result<Receipt<'a>, PayError>
            where
                T: Send,
            {
                self.ledger.pay(&mut permit, amount.into())
            }
        }
        typed_async_fn_expansion: "typed_async_fn" => (
            action = DeployToProduction,
            agent = "deploy-bot",
            context = json!({ "commit": commit })
        ) {
            /// Deploy a commit.
            pub async fn deploy(permit: Permit<DeployToProduction>, commit: &str) -> Result<(), DeployError> {
                tracing::info!(permit_id = permit.permit_id(), "deploying");
                Ok(())
            }
        }
        typed_method_expansion: "typed_method" => (
            action = actions::WireTransfer,
            agent = self.name,
            context = WireContext { amount, to },
            client = self.client
        ) {
            pub async fn wire(&self, amount: u64, to: &str, permit: &Permit<actions::WireTransfer>) -> Result<String, PayError> {
                Ok(permit.permit_id().to_owned())
            }
        }
        typed_action_untyped_permit_sync_fn_expansion: "typed_sync_fn_untyped_permit" => (action = DropDatabase, agent = "cli") {
            fn drop_db(name: &str, permit: atlasent::Permit) -> Result<u64, atlasent::Error> {
                Ok(name.len() as u64)
            }
        }
    }

    fn return_check(output: TokenStream) -> Result<(), String> {
        let sig: Signature = syn::parse2(quote!(fn f(p: Permit) -> #output)).expect("signature");
        check_return(&sig).map_err(|e| e.to_string())
    }

    #[test]
    fn a_return_type_spelled_as_a_result_is_accepted() {
        for output in [
            quote!(Result<(), E>),
            quote!(std::result::Result<(), E>),
            quote!(::core::result::Result<(), E>),
            quote!(io::Result<()>),
            quote!(anyhow::Result<()>),
            quote!(AppResult<()>),
            quote!((Result<(), E>)),
            quote!(<T as Tr>::Result),
        ] {
            assert_eq!(return_check(output.clone()), Ok(()), "{output}");
        }
    }

    #[test]
    fn an_alias_not_named_result_is_refused_by_name_with_the_fix() {
        let message = return_check(quote!(crate::R<()>)).expect_err("refused");
        for needle in [
            "`crate::R` is not spelled as a `Result`",
            "cannot resolve a type alias",
            "write `Result<…>` in its place",
            "name ends in `Result`",
        ] {
            assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        }
        let message = return_check(quote!(u32)).expect_err("refused");
        assert!(!message.contains("alias"), "{message}");
    }

    #[test]
    fn a_typed_permit_under_a_literal_action_is_refused_with_the_fix() {
        let fix = [
            "`action = \\\"deploy\\\"` is a string",
            "not a `Permit<actions::Deploy>`",
            "(`action = actions::Deploy`)",
        ];
        for (param, refused) in [
            (quote!(permit: Permit<actions::Deploy>), true),
            (quote!(permit: &atlasent::Permit<actions::Deploy>), true),
            (quote!(permit: Permit), false),
            (quote!(permit: Permit<AnyAction>), false),
        ] {
            let out = expand(
                quote!(action = "deploy", agent = "a"),
                quote!(
                    async fn f(#param) -> Result<(), E> {
                        Ok(())
                    }
                ),
            )
            .to_string();
            assert_eq!(out.contains("compile_error"), refused, "{param}: {out}");
            if refused {
                for needle in fix {
                    assert!(out.contains(needle), "{out} lacks {needle:?}");
                }
            }
        }
    }

    #[test]
    fn errors_keep_the_function_without_its_permit_parameter() {
        let out = expand(
            quote!(agent = "a"),
            quote!(
                async fn f(permit: Permit, x: u8) -> Result<(), E> {
                    Ok(())
                }
            ),
        )
        .to_string();
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("missing required option `action`"), "{out}");
        assert!(out.contains("async fn f (x : u8)"), "{out}");
    }
}
