//! Grammar, checked model and SQL generation for pghistory-diesel.
//!
//! This crate is shared by the `tracked_table!` macro and the `pghistory-diesel` CLI, so
//! both read schema.rs the same way and install the same SQL. It does no I/O and needs no
//! database. It is an implementation detail: its API follows the macro and CLI, not semver.
//!
//! A one-way pipeline, one module per stage, each importing only from the stages before
//! it: [`parse`] (syntax, spans) → `attr` (our options, typed) → [`model`] (names resolved,
//! rules checked, errors collected in a [`Ctxt`]) → [`sql`] (SQL text) → [`expand`] (Rust
//! tokens, embedding SQL). The last two cannot fail on a checked model. [`symbol`],
//! [`types`] and `ctxt` are leaves every stage may use.

mod attr;
mod ctxt;
pub mod expand;
pub mod model;
pub mod parse;
pub mod sql;
pub mod symbol;
pub mod types;

pub use ctxt::Ctxt;
pub use model::condition;
pub use model::TrackedTable;

use proc_macro2::TokenStream;
use quote::quote;

/// Parses and checks one `tracked_table!` body.
pub fn table_from_tokens(input: TokenStream) -> Result<TrackedTable, syn::Error> {
    let decl: parse::TableDecl = syn::parse2(input)?;
    let cx = Ctxt::new();
    let table = model::build(&cx, &decl);
    cx.check()?;
    table.ok_or_else(|| syn::Error::new(decl.name.span(), "invalid tracked table"))
}

/// The whole expansion of `tracked_table!`.
///
/// On error it still emits the plain Diesel table (our attributes removed), so the only
/// errors the user sees are ours, not a cascade of "cannot find `posts`".
pub fn expand_tracked_table(input: TokenStream) -> TokenStream {
    let decl: parse::TableDecl = match syn::parse2(input) {
        Ok(decl) => decl,
        Err(err) => return err.to_compile_error(),
    };
    let cx = Ctxt::new();
    let table = model::build(&cx, &decl);
    match (cx.check(), table) {
        (Ok(()), Some(table)) => expand::expand(&table),
        (result, _) => {
            let errors = result.err().map(|e| e.to_compile_error());
            let fallback = fallback_table(&decl);
            quote! {
                #errors
                #fallback
            }
        }
    }
}

fn fallback_table(decl: &parse::TableDecl) -> TokenStream {
    let mut clean = decl.clone();
    clean
        .attrs
        .retain(|a| !a.path().is_ident(symbol::PGHISTORY));
    for col in &mut clean.columns {
        col.attrs.retain(|a| !a.path().is_ident(symbol::PGHISTORY));
    }
    // A missing, empty or unknown key would make Diesel add its own errors to the one we
    // reported about it, so the fallback borrows the first column as its key.
    let is_column = |key: &syn::Ident| clean.columns.iter().any(|c| c.name == *key);
    let key_ok = match &clean.primary_key {
        Some(keys) => !keys.is_empty() && keys.iter().all(is_column),
        None => clean.columns.iter().any(|c| c.name == "id"),
    };
    if !key_ok {
        clean.primary_key = clean
            .columns
            .first()
            .map(|first| std::iter::once(first.name.clone()).collect());
    }
    quote!(::diesel::table! { #clean })
}

/// Every `tracked_table!` in a Rust source file (schema.rs), in order.
///
/// Finds invocations whose macro path ends in `tracked_table`, at the top level and inside
/// inline modules, and checks them against each other and against the file's plain
/// `table!`s: an events table may not take a name another table has. Every error of every
/// table is returned, combined.
pub fn tables_in_file(file: &syn::File) -> Result<Vec<TrackedTable>, syn::Error> {
    let cx = Ctxt::new();
    let mut tables = Vec::new();
    let mut declared = Vec::new();
    collect(&cx, &file.items, &mut tables, &mut declared);
    model::check::check_file(&cx, &tables, &declared);
    cx.check()?;
    Ok(tables)
}

fn collect(
    cx: &Ctxt,
    items: &[syn::Item],
    tables: &mut Vec<TrackedTable>,
    declared: &mut Vec<model::check::DeclaredTable>,
) {
    for item in items {
        match item {
            syn::Item::Macro(m) => {
                let Some(last) = m.mac.path.segments.last() else {
                    continue;
                };
                if last.ident == "tracked_table" {
                    match table_from_tokens(m.mac.tokens.clone()) {
                        Ok(t) => tables.push(t),
                        Err(e) => cx.syn_error(e),
                    }
                } else if last.ident == "table" {
                    // Diesel reports its own syntax errors; a `table!` we cannot read
                    // simply takes no name here.
                    if let Ok(decl) = syn::parse2::<parse::TableDecl>(m.mac.tokens.clone()) {
                        declared.push(model::declared_table(&decl));
                    }
                }
            }
            syn::Item::Mod(m) => {
                if let Some((_, items)) = &m.content {
                    collect(cx, items, tables, declared);
                }
            }
            _ => {}
        }
    }
}
