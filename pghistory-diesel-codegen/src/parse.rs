//! The grammar of `tracked_table!`: exactly Diesel's `table!` grammar, with spans kept.
//!
//! ```text
//! TableDecl := ItemUse* OuterAttr* (Ident ".")? Ident ("(" Ident,* ")")? "{" ColumnDef,* "}"
//! ColumnDef := OuterAttr* Ident "->" Type
//! ```
//!
//! Our own `#[pghistory(...)]` attributes are ordinary outer attributes at this stage; the
//! model stage reads and strips them, so Diesel later sees exactly what the user wrote.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{braced, parenthesized, Attribute, Ident, ItemUse, Token, Type};

/// A parsed `table!` body.
#[derive(Clone)]
pub struct TableDecl {
    /// `use` items at the top of the body.
    pub uses: Vec<ItemUse>,
    /// Outer attributes of the table (docs, `#[sql_name]`, `#[pghistory(...)]`, ...).
    pub attrs: Vec<Attribute>,
    /// The schema in `schema.table`, when given.
    pub schema: Option<Ident>,
    /// The table's Rust name.
    pub name: Ident,
    /// The primary key columns in `(a, b)`, when given.
    pub primary_key: Option<Punctuated<Ident, Token![,]>>,
    /// The columns, in declaration order.
    pub columns: Vec<ColumnDecl>,
}

/// One `name -> Type` line of a `table!` body.
#[derive(Clone)]
pub struct ColumnDecl {
    /// Outer attributes (docs, `#[sql_name]`, `#[max_length]`, `#[pghistory(...)]`).
    pub attrs: Vec<Attribute>,
    /// The column's Rust name.
    pub name: Ident,
    /// The Diesel SQL type.
    pub ty: Type,
}

impl Parse for TableDecl {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut uses = Vec::new();
        while input.peek(Token![use]) {
            uses.push(input.parse()?);
        }
        let attrs = input.call(Attribute::parse_outer)?;
        let first: Ident = input.call(syn::ext::IdentExt::parse_any)?;
        let (schema, name) = if input.peek(Token![.]) {
            input.parse::<Token![.]>()?;
            (Some(first), input.call(syn::ext::IdentExt::parse_any)?)
        } else {
            (None, first)
        };
        let primary_key = if input.peek(syn::token::Paren) {
            let content;
            parenthesized!(content in input);
            Some(content.parse_terminated(Ident::parse, Token![,])?)
        } else {
            None
        };
        let content;
        braced!(content in input);
        let columns = content
            .parse_terminated(ColumnDecl::parse, Token![,])?
            .into_iter()
            .collect();
        if !input.is_empty() {
            return Err(input.error(
                "unexpected tokens after the table body\n\
                 help: `tracked_table!` takes exactly one table, as `diesel::table!` does",
            ));
        }
        Ok(TableDecl {
            uses,
            attrs,
            schema,
            name,
            primary_key,
            columns,
        })
    }
}

impl Parse for ColumnDecl {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let name = input.call(syn::ext::IdentExt::parse_any)?;
        input.parse::<Token![->]>()?;
        let ty = input.parse()?;
        Ok(ColumnDecl { attrs, name, ty })
    }
}

/// Writes the body back as `table!` input: what was parsed, in order, with the attributes
/// it still has (the model strips ours before Diesel sees it).
impl ToTokens for TableDecl {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let uses = &self.uses;
        let attrs = &self.attrs;
        let schema = self.schema.as_ref().map(|s| quote!(#s .));
        let name = &self.name;
        let pk = self.primary_key.as_ref().map(|keys| quote!((#keys)));
        let columns = &self.columns;
        tokens.extend(quote! {
            #(#uses)*
            #(#attrs)*
            #schema #name #pk {
                #(#columns,)*
            }
        });
    }
}

impl ToTokens for ColumnDecl {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let attrs = &self.attrs;
        let name = &self.name;
        let ty = &self.ty;
        tokens.extend(quote!(#(#attrs)* #name -> #ty));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_print_schema_style_body() {
        let decl: TableDecl = syn::parse_quote! {
            use diesel::sql_types::*;
            use super::sql_types::Mood;
            /// Posts.
            #[sql_name = "blog_posts"]
            app.posts (id) {
                id -> Int4,
                #[max_length = 200]
                title -> Varchar,
                #[sql_name = "type"]
                kind -> Nullable<Text>,
                mood -> Mood,
            }
        };
        assert_eq!(decl.uses.len(), 2);
        assert_eq!(decl.attrs.len(), 2);
        assert_eq!(decl.schema.unwrap(), "app");
        assert_eq!(decl.name, "posts");
        assert_eq!(decl.primary_key.unwrap().len(), 1);
        assert_eq!(decl.columns.len(), 4);
        assert_eq!(decl.columns[1].attrs.len(), 1);
    }

    #[test]
    fn a_body_is_written_back_as_it_was_read() {
        let text = "use diesel :: sql_types :: * ; # [sql_name = \"blog_posts\"] app . posts (id) { id -> Int4 , # [max_length = 200] title -> Varchar , }";
        let decl: TableDecl = syn::parse_str(text).unwrap();
        assert_eq!(decl.to_token_stream().to_string(), text);
    }

    #[test]
    fn primary_key_may_be_omitted() {
        let decl: TableDecl = syn::parse_quote! { users { id -> Int4, } };
        assert!(decl.primary_key.is_none());
        assert!(decl.schema.is_none());
    }

    #[test]
    fn rejects_a_second_table() {
        let err = syn::parse_str::<TableDecl>("a { id -> Int4 } b { id -> Int4 }")
            .err()
            .unwrap();
        assert!(err.to_string().contains("exactly one table"));
    }
}
