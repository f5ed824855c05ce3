//! A field's Rust type as the schema check reads it: whether it is an `Option`, and
//! the kind of value inside, known by name. A type the check does not know (a newtype,
//! an enum deriving `sqlx::Type`, an alias) is `Unknown` and its SQL type goes
//! unchecked; its nullability is still checked.

use quote::ToTokens as _;

/// What the field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Int {
        bits: u8,
        signed: bool,
    },
    Float {
        bits: u8,
    },
    Bool,
    String,
    Bytes,
    Uuid,
    Json,
    Decimal,
    /// `chrono::DateTime<_>`, `time::OffsetDateTime`.
    ZonedDateTime,
    /// `chrono::NaiveDateTime`, `time::PrimitiveDateTime`.
    LocalDateTime,
    Date,
    Time,
    Unknown,
}

/// A field's type, read.
pub(crate) struct FieldType {
    /// `Option<…>`.
    pub(crate) optional: bool,
    pub(crate) kind: Kind,
    /// The type inside the `Option` (or the whole type), as written.
    pub(crate) inner: String,
}

impl FieldType {
    pub(crate) fn read(ty: &syn::Type) -> Self {
        match option_inner(ty) {
            Some(inner) => Self {
                optional: true,
                kind: kind_of(inner),
                inner: text(inner),
            },
            None => Self {
                optional: false,
                kind: kind_of(ty),
                inner: text(ty),
            },
        }
    }

    /// `T` or `Option<T>` with this field's optionality.
    pub(crate) fn with_inner(&self, inner: &str) -> String {
        if self.optional {
            format!("Option<{inner}>")
        } else {
            inner.to_owned()
        }
    }
}

fn text(ty: &syn::Type) -> String {
    ty.to_token_stream()
        .to_string()
        .replace(" < ", "<")
        .replace(" <", "<")
        .replace("< ", "<")
        .replace(" >", ">")
        .replace(" :: ", "::")
        .replace(" , ", ", ")
}

/// The `T` of `Option<T>`, `std::option::Option<T>`, `core::option::Option<T>`.
fn option_inner(ty: &syn::Type) -> Option<&syn::Type> {
    let syn::Type::Path(path) = ty else {
        return None;
    };
    if path.qself.is_some() {
        return None;
    }
    let segments: Vec<String> = path
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    let is_option = match segments.as_slice() {
        [only] => only == "Option",
        [root, module, last] => {
            matches!(root.as_str(), "std" | "core") && module == "option" && last == "Option"
        }
        _ => false,
    };
    if !is_option {
        return None;
    }
    single_type_argument(path.path.segments.last()?)
}

fn single_type_argument(segment: &syn::PathSegment) -> Option<&syn::Type> {
    let syn::PathArguments::AngleBracketed(args) = &segment.arguments else {
        return None;
    };
    let mut types = args.args.iter().filter_map(|arg| match arg {
        syn::GenericArgument::Type(ty) => Some(ty),
        _ => None,
    });
    let first = types.next()?;
    types.next().is_none().then_some(first)
}

fn kind_of(ty: &syn::Type) -> Kind {
    let syn::Type::Path(path) = ty else {
        return Kind::Unknown;
    };
    let Some(last) = path.path.segments.last() else {
        return Kind::Unknown;
    };
    let qualified_by = |module: &str| {
        path.path.segments.len() >= 2
            && path.path.segments[path.path.segments.len() - 2].ident == module
    };
    match last.ident.to_string().as_str() {
        "i8" => Kind::Int {
            bits: 8,
            signed: true,
        },
        "i16" => Kind::Int {
            bits: 16,
            signed: true,
        },
        "i32" => Kind::Int {
            bits: 32,
            signed: true,
        },
        "i64" => Kind::Int {
            bits: 64,
            signed: true,
        },
        "u8" => Kind::Int {
            bits: 8,
            signed: false,
        },
        "u16" => Kind::Int {
            bits: 16,
            signed: false,
        },
        "u32" => Kind::Int {
            bits: 32,
            signed: false,
        },
        "u64" => Kind::Int {
            bits: 64,
            signed: false,
        },
        "f32" => Kind::Float { bits: 32 },
        "f64" => Kind::Float { bits: 64 },
        "bool" => Kind::Bool,
        "String" => Kind::String,
        "Vec" => match single_type_argument(last).map(kind_of) {
            Some(Kind::Int {
                bits: 8,
                signed: false,
            }) => Kind::Bytes,
            _ => Kind::Unknown,
        },
        "Uuid" => Kind::Uuid,
        "JsonValue" | "Json" => Kind::Json,
        "Value" if qualified_by("serde_json") => Kind::Json,
        "Decimal" | "BigDecimal" => Kind::Decimal,
        "DateTime" | "OffsetDateTime" => Kind::ZonedDateTime,
        "NaiveDateTime" | "PrimitiveDateTime" => Kind::LocalDateTime,
        "NaiveDate" => Kind::Date,
        "Date" if qualified_by("time") => Kind::Date,
        "NaiveTime" => Kind::Time,
        "Time" if qualified_by("time") => Kind::Time,
        _ => Kind::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(ty: &str) -> FieldType {
        FieldType::read(&syn::parse_str(ty).expect("a type"))
    }

    #[test]
    fn options_and_kinds() {
        let t = read("Option<i64>");
        assert!(t.optional);
        assert_eq!(
            t.kind,
            Kind::Int {
                bits: 64,
                signed: true
            }
        );
        assert_eq!(t.inner, "i64");
        assert!(read("std::option::Option<String>").optional);
        assert_eq!(read("Vec<u8>").kind, Kind::Bytes);
        assert_eq!(
            read("chrono::DateTime<chrono::Utc>").kind,
            Kind::ZonedDateTime
        );
        assert_eq!(read("serde_json::Value").kind, Kind::Json);
        assert_eq!(read("Value").kind, Kind::Unknown);
        assert!(!read("my::Option<i64>").optional);
        assert_eq!(read("Option<Vec<u8>>").inner, "Vec<u8>");
    }
}
