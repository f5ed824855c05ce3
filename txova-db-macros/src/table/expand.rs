//! The generated code: the `Table` and `PrimaryKey` impls, one typed column constant
//! per field, and the sort enum. Runtime items are reached through
//! `::txova_db::__private` only.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned as _;

use super::ast::{Container, Field, pascal_case};
use super::rust_type::FieldType;

/// The columns as the typed builder selects them, `"t"."a", "t"."b"`, with `quote` as
/// the identifier quote: rendered here once rather than for every statement. A quote
/// inside a name is doubled, as the runtime's `SqlWriter::ident` does (a runtime test
/// holds the two to the same text).
fn select_list(table: &str, columns: &[&Field<'_>], quote: char) -> String {
    let ident = |name: &str| {
        let doubled = name.replace(quote, &format!("{quote}{quote}"));
        format!("{quote}{doubled}{quote}")
    };
    let table = ident(table);
    columns
        .iter()
        .map(|field| format!("{table}.{}", ident(&field.column_name)))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn expand(container: &Container<'_>) -> TokenStream {
    let ident = container.ident;
    let table_name = &container.table_name;
    let columns: Vec<&Field<'_>> = container
        .fields
        .iter()
        .filter(|f| f.skip.is_none())
        .collect();

    let infos = columns.iter().map(|field| {
        let ty = field.ty;
        let name = &field.column_name;
        let field_name = field.name();
        let pk = field.primary_key.is_some();
        let generated = field.generated;
        let sortable = field.sortable;
        let secret = field.secret;
        quote_spanned! {ty.span()=>
            ::txova_db::__private::ColumnInfo::new(
                #name,
                #field_name,
                #pk,
                #generated,
                #sortable,
                #secret,
                ::txova_db::__private::type_name_of::<#ty>,
                ::txova_db::__private::sql_type_of::<#ty>,
            )
        }
    });

    let decode_fields = container.fields.iter().map(|field| {
        let field_ident = field.ident;
        match columns.iter().position(|c| c.ident == field.ident) {
            Some(index) => quote_spanned! {field.ty.span()=>
                #field_ident: row.try_get(offset + #index)?
            },
            None => quote_spanned! {field.ty.span()=>
                #field_ident: ::core::default::Default::default()
            },
        }
    });

    let decode_named_fields = container.fields.iter().map(|field| {
        let field_ident = field.ident;
        if field.skip.is_none() {
            let name = &field.column_name;
            quote_spanned! {field.ty.span()=>
                #field_ident: row.try_get(#name)?
            }
        } else {
            quote_spanned! {field.ty.span()=>
                #field_ident: ::core::default::Default::default()
            }
        }
    });

    let push_values = |keep: &dyn Fn(&Field<'_>) -> bool| -> Vec<TokenStream> {
        columns
            .iter()
            .filter(|f| keep(f))
            .map(|field| {
                let field_ident = field.ident;
                let value = quote_spanned! {field.ty.span()=>
                    ::core::clone::Clone::clone(&self.#field_ident)
                };
                let value = redacted_if_secret(field, value);
                quote_spanned! {field.ty.span()=>
                    out.push(::txova_db::__private::Arc::new(#value));
                }
            })
            .collect()
    };
    let insert_values = push_values(&|f| !f.generated);
    let visit_insert_values = columns.iter().filter(|f| !f.generated).map(|field| {
        let field_ident = field.ident;
        if field.secret {
            quote_spanned! {field.ty.span()=>
                visit(&::txova_db::__private::Redacted(&self.#field_ident));
            }
        } else {
            quote_spanned! {field.ty.span()=>
                visit(&self.#field_ident);
            }
        }
    });
    let insert_arrays = columns.iter().filter(|f| !f.generated).map(|field| {
        let field_ident = field.ident;
        let ty = field.ty;
        quote_spanned! {field.ty.span()=>
            out.push({
                #[allow(unused_imports)]
                use ::txova_db::__private::{ArrayParamFallback as _, ArrayParamViaPostgres as _};
                (&::txova_db::__private::ArrayProbe::<#ty>::new()).array_param(
                    rows.iter().map(|row| ::core::clone::Clone::clone(&row.#field_ident)),
                )?
            });
        }
    });
    let update_values = push_values(&|f| !f.generated && f.primary_key.is_none());

    let column_consts = columns.iter().enumerate().map(|(index, field)| {
        let field_ident = field.ident;
        let vis = field.vis;
        let ty = field.ty;
        let name = &field.column_name;
        let doc = format!("Column `{name}` of table `{table_name}`.");
        let nullability = if FieldType::read(ty).optional {
            quote!(::txova_db::__private::MaybeNull)
        } else {
            quote!(::txova_db::__private::NotNull)
        };
        quote_spanned! {field.ident.span()=>
            #[doc = #doc]
            #vis const #field_ident: ::txova_db::__private::Column<#ident, #ty, #nullability> =
                ::txova_db::__private::Column::new(#index, #name, |row: &#ident| &row.#field_ident);
        }
    });

    let primary_key = columns
        .iter()
        .find(|f| f.primary_key.is_some())
        .map(|field| {
            let ty = field.ty;
            let field_ident = field.ident;
            quote! {
                impl ::txova_db::__private::PrimaryKey for #ident {
                    type Key = #ty;
                    const KEY: ::txova_db::__private::Column<Self, #ty> = #ident::#field_ident;
                }
            }
        });

    let [quoted_list, backticked_list] =
        ['"', '`'].map(|quote| select_list(table_name, &columns, quote));
    let sort_enum = sort_enum(container, &columns);
    let value_types = columns.iter().map(|field| field.ty);

    quote! {
        #[automatically_derived]
        impl ::txova_db::__private::Table for #ident {
            const NAME: &'static str = #table_name;
            const COLUMNS: &'static [::txova_db::__private::ColumnInfo] = &[#(#infos),*];
            const __SELECT_LIST: ::core::option::Option<[&'static str; 2]> =
                ::core::option::Option::Some([#quoted_list, #backticked_list]);
            type Values = (#(#value_types,)*);

            fn __decode(
                row: &::txova_db::__private::Row,
                offset: usize,
            ) -> ::core::result::Result<Self, ::txova_db::__private::Error> {
                ::core::result::Result::Ok(Self { #(#decode_fields),* })
            }

            fn __decode_named(
                row: &::txova_db::__private::Row,
            ) -> ::core::result::Result<Self, ::txova_db::__private::Error> {
                ::core::result::Result::Ok(Self { #(#decode_named_fields),* })
            }

            fn __insert_values(
                &self,
                out: &mut ::std::vec::Vec<::txova_db::__private::Arc<dyn ::txova_db::__private::Param>>,
            ) {
                #(#insert_values)*
            }

            fn __visit_insert_values(
                &self,
                visit: &mut dyn ::core::ops::FnMut(&dyn ::txova_db::__private::Param),
            ) {
                #(#visit_insert_values)*
            }

            fn __update_values(
                &self,
                out: &mut ::std::vec::Vec<::txova_db::__private::Arc<dyn ::txova_db::__private::Param>>,
            ) {
                #(#update_values)*
            }

            // `(&ArrayProbe::<T>::new())` picks the array impl or the fallback by
            // autoref: the borrow is the dispatch, not a needless one.
            #[allow(clippy::needless_borrow)]
            fn __insert_arrays(
                rows: &[&Self],
            ) -> ::core::option::Option<
                ::std::vec::Vec<::txova_db::__private::Arc<dyn ::txova_db::__private::Param>>,
            > {
                let mut out = ::std::vec::Vec::new();
                #(#insert_arrays)*
                ::core::option::Option::Some(out)
            }
        }

        #primary_key

        #[automatically_derived]
        #[allow(non_upper_case_globals, dead_code)]
        impl #ident {
            #(#column_consts)*
        }

        #sort_enum
    }
}

/// A field's value as its column binds it: wrapped in `Redacted` for a
/// `#[column(secret)]` field, so no statement's `Display` or `Debug` shows it.
fn redacted_if_secret(field: &Field<'_>, value: TokenStream) -> TokenStream {
    if field.secret {
        quote_spanned!(field.ty.span()=> ::txova_db::__private::Redacted(#value))
    } else {
        value
    }
}

/// `UserSort`: one variant per sortable column and direction, parsed from `name` /
/// `+name` / `-name`, so a sort key from user input can only name sortable columns.
fn sort_enum(container: &Container<'_>, columns: &[&Field<'_>]) -> Option<TokenStream> {
    let sortable: Vec<&&Field<'_>> = columns.iter().filter(|f| f.sortable).collect();
    if sortable.is_empty() {
        return None;
    }
    let ident = container.ident;
    let vis = container.vis;
    let table_name = &container.table_name;
    let enum_ident = format_ident!("{}Sort", ident);
    let mut variants = Vec::new();
    let mut parse_arms = Vec::new();
    let mut key_arms = Vec::new();
    let mut order_arms = Vec::new();
    let mut keys = Vec::new();
    for field in &sortable {
        let key = field.name();
        let field_ident = field.ident;
        let base = pascal_case(&key);
        for (suffix, direction, text) in [
            ("Asc", quote!(Asc), key.clone()),
            ("Desc", quote!(Desc), format!("-{key}")),
        ] {
            let variant = syn::Ident::new(&format!("{base}{suffix}"), Span::call_site());
            let doc = format!(
                "Sort by `{key}`, {}.",
                if suffix == "Asc" {
                    "ascending"
                } else {
                    "descending"
                }
            );
            variants.push(quote!(#[doc = #doc] #variant));
            key_arms.push(quote!(Self::#variant => #text));
            order_arms.push(quote! {
                Self::#variant => ::txova_db::__private::Order::__from_column(
                    #ident::#field_ident,
                    ::txova_db::__private::Direction::#direction,
                )
            });
            if suffix == "Asc" {
                let plus = format!("+{key}");
                parse_arms
                    .push(quote!(#text | #plus => ::core::result::Result::Ok(Self::#variant)));
            } else {
                parse_arms.push(quote!(#text => ::core::result::Result::Ok(Self::#variant)));
            }
            keys.push(text);
        }
    }
    let expected = sortable
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(", ");
    let doc = format!(
        "The sortable columns of [`{ident}`], for `?sort=` parameters: `\"name\"` sorts ascending, `\"-name\"` descending. Any other text is refused, so user input can only sort by these columns."
    );
    Some(quote! {
        #[doc = #doc]
        #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy, ::core::cmp::PartialEq, ::core::cmp::Eq, ::core::hash::Hash)]
        #[allow(dead_code)]
        #vis enum #enum_ident {
            #(#variants),*
        }

        #[automatically_derived]
        impl #enum_ident {
            /// Every accepted sort key.
            pub const KEYS: &'static [&'static str] = &[#(#keys),*];

            /// The key this value parses from.
            pub fn key(self) -> &'static str {
                match self { #(#key_arms),* }
            }
        }

        #[automatically_derived]
        impl ::core::str::FromStr for #enum_ident {
            type Err = ::txova_db::__private::InvalidSortKey;

            fn from_str(key: &str) -> ::core::result::Result<Self, Self::Err> {
                match key {
                    #(#parse_arms,)*
                    other => ::core::result::Result::Err(::txova_db::__private::InvalidSortKey {
                        table: #table_name,
                        key: ::std::borrow::ToOwned::to_owned(other),
                        expected: #expected,
                    }),
                }
            }
        }

        #[automatically_derived]
        impl ::core::fmt::Display for #enum_ident {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.key())
            }
        }

        #[automatically_derived]
        impl ::txova_db::__private::OrderTerm for #enum_ident {
            type Table = #ident;

            fn into_order(self) -> ::txova_db::__private::Order<#ident> {
                match self { #(#order_arms),* }
            }
        }

        #[automatically_derived]
        impl ::txova_db::__private::serde::Serialize for #enum_ident {
            fn serialize<S: ::txova_db::__private::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::core::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.key())
            }
        }

        #[automatically_derived]
        impl<'de> ::txova_db::__private::serde::Deserialize<'de> for #enum_ident {
            fn deserialize<D: ::txova_db::__private::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::core::result::Result<Self, D::Error> {
                let key = <::std::string::String as ::txova_db::__private::serde::Deserialize>::deserialize(deserializer)?;
                key.parse().map_err(<D::Error as ::txova_db::__private::serde::de::Error>::custom)
            }
        }
    })
}
