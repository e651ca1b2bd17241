//! Diesel SQL types: which Rust type a column reads into, and which Postgres type it names.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{GenericArgument, PathArguments, Type};

/// The last path segment of a type and its single generic argument, if any.
fn head(ty: &Type) -> Option<(String, Option<&Type>)> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    let arg = match &last.arguments {
        PathArguments::AngleBracketed(args) if args.args.len() == 1 => match &args.args[0] {
            GenericArgument::Type(inner) => Some(inner),
            _ => None,
        },
        _ => None,
    };
    Some((last.ident.to_string(), arg))
}

/// Whether the SQL type is `Nullable<_>`.
pub fn is_nullable(ty: &Type) -> bool {
    matches!(head(ty), Some((name, Some(_))) if name == "Nullable")
}

/// The type inside `Nullable<_>`, or `ty` itself.
pub fn not_null(ty: &Type) -> &Type {
    match head(ty) {
        Some((name, Some(inner))) if name == "Nullable" => inner,
        _ => ty,
    }
}

/// The Rust type a column of this SQL type reads into with Diesel on Postgres, or `None`
/// for a type we do not know (a custom SQL type needs `#[pghistory(rust_type = "...")]`).
pub fn rust_type(ty: &Type) -> Option<TokenStream> {
    let (name, arg) = head(ty)?;
    let p = quote!(::pghistory_diesel::__private);
    let out = match (name.as_str(), arg) {
        ("Nullable", Some(inner)) => {
            let inner = rust_type(inner)?;
            quote!(::std::option::Option<#inner>)
        }
        ("Array", Some(inner)) => {
            let inner = rust_type(inner)?;
            quote!(::std::vec::Vec<#inner>)
        }
        ("Range", Some(inner)) => {
            let inner = rust_type(inner)?;
            quote!((::std::ops::Bound<#inner>, ::std::ops::Bound<#inner>))
        }
        (_, Some(_)) => return None,
        ("SmallInt" | "Int2" | "Smallint", None) => quote!(i16),
        ("Integer" | "Int4", None) => quote!(i32),
        ("BigInt" | "Int8" | "Bigint", None) => quote!(i64),
        ("Float" | "Float4", None) => quote!(f32),
        ("Double" | "Float8", None) => quote!(f64),
        ("Bool", None) => quote!(bool),
        ("Text" | "Varchar" | "VarChar" | "Citext" | "Bpchar", None) => {
            quote!(::std::string::String)
        }
        ("Binary" | "Bytea", None) => quote!(::std::vec::Vec<u8>),
        ("CChar", None) => quote!(u8),
        ("Oid", None) => quote!(u32),
        ("Uuid", None) => quote!(#p::uuid::Uuid),
        ("Json" | "Jsonb", None) => quote!(#p::serde_json::Value),
        ("Timestamptz" | "TimestamptzSqlite", None) => {
            quote!(#p::chrono::DateTime<#p::chrono::Utc>)
        }
        ("Timestamp", None) => quote!(#p::chrono::NaiveDateTime),
        ("Date", None) => quote!(#p::chrono::NaiveDate),
        ("Time", None) => quote!(#p::chrono::NaiveTime),
        ("Interval", None) => quote!(#p::PgInterval),
        ("Numeric" | "Decimal", None) => quote!(#p::PgNumeric),
        ("Money", None) => quote!(#p::PgMoney),
        ("Inet" | "Cidr", None) => quote!(#p::ipnetwork::IpNetwork),
        ("MacAddr", None) => quote!([u8; 6]),
        _ => return None,
    };
    Some(out)
}

/// The Postgres type name for DDL, for the types a primary key can reasonably have.
pub fn pg_type(ty: &Type) -> Option<String> {
    let (name, arg) = head(ty)?;
    let out = match (name.as_str(), arg) {
        ("Nullable", Some(inner)) => return pg_type(inner),
        ("Array", Some(inner)) => return pg_type(inner).map(|t| format!("{t}[]")),
        (_, Some(_)) => return None,
        ("SmallInt" | "Int2" | "Smallint", None) => "smallint",
        ("Integer" | "Int4", None) => "integer",
        ("BigInt" | "Int8" | "Bigint", None) => "bigint",
        ("Float" | "Float4", None) => "real",
        ("Double" | "Float8", None) => "double precision",
        ("Bool", None) => "boolean",
        ("Text", None) => "text",
        ("Varchar" | "VarChar", None) => "varchar",
        ("Bpchar", None) => "bpchar",
        ("Citext", None) => "citext",
        ("Binary" | "Bytea", None) => "bytea",
        ("Uuid", None) => "uuid",
        ("Json", None) => "json",
        ("Jsonb", None) => "jsonb",
        ("Timestamptz", None) => "timestamptz",
        ("Timestamp", None) => "timestamp",
        ("Date", None) => "date",
        ("Time", None) => "time",
        ("Interval", None) => "interval",
        ("Numeric" | "Decimal", None) => "numeric",
        ("Money", None) => "money",
        ("Inet", None) => "inet",
        ("Cidr", None) => "cidr",
        ("MacAddr", None) => "macaddr",
        ("Oid", None) => "oid",
        _ => return None,
    };
    Some(out.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nullable_and_arrays_nest() {
        let ty: Type = syn::parse_quote!(Nullable<Array<Nullable<Int4>>>);
        assert!(is_nullable(&ty));
        let rust = rust_type(&ty).unwrap().to_string().replace(' ', "");
        assert_eq!(
            rust,
            "::std::option::Option<::std::vec::Vec<::std::option::Option<i32>>>"
        );
        assert_eq!(pg_type(&ty).unwrap(), "integer[]");
    }

    #[test]
    fn custom_types_are_unknown() {
        let ty: Type = syn::parse_quote!(super::sql_types::Mood);
        assert!(rust_type(&ty).is_none());
        assert!(pg_type(&ty).is_none());
    }

    #[test]
    fn qualified_builtins_are_known() {
        let ty: Type = syn::parse_quote!(diesel::sql_types::Timestamptz);
        assert!(rust_type(&ty).unwrap().to_string().contains("DateTime"));
    }
}
