//! A list of bound values sent to Postgres as one array parameter, so `column IN (…)`
//! becomes `column = ANY($1)`: one placeholder whatever the list's length, so one
//! statement text (and one prepared statement in the connection's cache) for every
//! length, and one value to encode and send instead of one per element.

use std::sync::Arc;

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, Postgres};

use super::Param;
use super::backend::Arguments;

/// The values of an `IN` list as one Postgres array.
#[derive(Clone)]
pub(crate) struct PgArray {
    elements: Vec<Arc<dyn Param>>,
    element_oid: u32,
    array_oid: u32,
}

impl std::fmt::Debug for PgArray {
    /// The elements as each shows itself (so a redacted value stays redacted).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.elements).finish()
    }
}

impl PgArray {
    /// The array of `elements`, when they all encode as one built-in Postgres type
    /// that has an array type; `None` otherwise (a custom type, mixed types), for which
    /// the list keeps one placeholder per value.
    pub(crate) fn of(elements: &[Arc<dyn Param>]) -> Option<Self> {
        let element_oid = elements.first()?.postgres_oid()?;
        if elements[1..]
            .iter()
            .any(|e| e.postgres_oid() != Some(element_oid))
        {
            return None;
        }
        Some(Self {
            elements: elements.to_vec(),
            element_oid,
            array_oid: array_of(element_oid)?,
        })
    }

    /// Postgres' binary array: one dimension, the element type, the length and lower
    /// bound, then each element as a 32-bit length (-1 for NULL) and its bytes.
    fn encode(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        let len = i32::try_from(self.elements.len())
            .map_err(|_| format!("{} values are too many for one array", self.elements.len()))?;
        buf.extend_from_slice(&1_i32.to_be_bytes());
        buf.extend_from_slice(&0_i32.to_be_bytes()); // flags: the server sets "has NULLs"
        buf.extend_from_slice(&self.element_oid.to_be_bytes());
        buf.extend_from_slice(&len.to_be_bytes());
        buf.extend_from_slice(&1_i32.to_be_bytes());
        for element in &self.elements {
            let start = buf.len();
            buf.extend_from_slice(&0_i32.to_be_bytes());
            let size = match element.encode_postgres(buf)? {
                IsNull::Yes => {
                    buf.truncate(start + 4);
                    -1
                }
                IsNull::No => i32::try_from(buf.len() - start - 4)
                    .map_err(|_| "an array element over 2 GiB")?,
            };
            buf[start..start + 4].copy_from_slice(&size.to_be_bytes());
        }
        Ok(IsNull::No)
    }
}

/// The OID of the array type of the built-in type `element`.
fn array_of(element: u32) -> Option<u32> {
    Some(match element {
        16 => 1000,   // bool
        17 => 1001,   // bytea
        18 => 1002,   // "char"
        20 => 1016,   // int8
        21 => 1005,   // int2
        23 => 1007,   // int4
        25 => 1009,   // text
        26 => 1028,   // oid
        114 => 199,   // json
        700 => 1021,  // float4
        701 => 1022,  // float8
        1042 => 1014, // bpchar
        1043 => 1015, // varchar
        1082 => 1182, // date
        1083 => 1183, // time
        1114 => 1115, // timestamp
        1184 => 1185, // timestamptz
        1186 => 1187, // interval
        1700 => 1231, // numeric
        2950 => 2951, // uuid
        3802 => 3807, // jsonb
        _ => return None,
    })
}

/// What sqlx encodes: a wrapper, so `PgArray` itself never encodes on the other
/// backends' terms (were it `Encode`, with only Postgres enabled it would be a `Bind`,
/// and the blanket `Param` impl would cover it).
struct Encoded<'a>(&'a PgArray);

impl sqlx::Type<Postgres> for Encoded<'_> {
    /// Never asked: [`produces`](sqlx::Encode::produces) names the array's type.
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(sqlx::postgres::types::Oid(1009))
    }
}

impl sqlx::Encode<'_, Postgres> for Encoded<'_> {
    fn produces(&self) -> Option<PgTypeInfo> {
        Some(PgTypeInfo::with_oid(sqlx::postgres::types::Oid(
            self.0.array_oid,
        )))
    }

    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        self.0.encode(buf)
    }
}

impl Param for PgArray {
    fn add_to(&self, args: Arguments<'_>) -> Result<(), BoxDynError> {
        match args {
            Arguments::Postgres(args) => sqlx::Arguments::add(args, Encoded(self)),
            #[allow(unreachable_patterns)]
            _ => Err("a Postgres array is bound only on Postgres".into()),
        }
    }

    fn postgres_oid(&self) -> Option<u32> {
        Some(self.array_oid)
    }

    fn encode_postgres(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        self.encode(buf)
    }
}
