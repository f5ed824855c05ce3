//! Rows in Postgres' binary `COPY` format: the payload of
//! [`insert_many`](crate::Table::insert_many)'s bulk path.
//!
//! The format (Postgres manual, "COPY", Binary Format): an 11-byte signature, a 32-bit
//! flags field and a 32-bit header-extension length; per row a 16-bit field count and
//! each field as a 32-bit length (-1 for NULL) followed by the value in the type's
//! binary send/receive format; a 16-bit -1 trailer. Binary values are read as exactly
//! the column's type, with no cast, so each value's type is checked against its
//! column's before it is written.

use sqlx::encode::IsNull;
use sqlx::postgres::PgArgumentBuffer;

use super::Param;

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// Postgres type OIDs the check below names.
mod oid {
    pub(super) const TEXT: u32 = 25;
    pub(super) const BPCHAR: u32 = 1042;
    pub(super) const VARCHAR: u32 = 1043;
}

/// Why rows could not be written in binary format.
#[derive(Debug)]
pub(crate) enum CopyRefused {
    /// A value is not of its column's type (or its type has no OID): the rows go
    /// another way, where the server casts.
    TypeMismatch,
    /// A value failed to encode.
    Encode(sqlx::error::BoxDynError),
}

/// Writes rows for `COPY … FROM STDIN (FORMAT binary)` into one buffer.
pub(crate) struct BinaryCopy<'t> {
    buf: PgArgumentBuffer,
    /// The OID of each column's type, in the `COPY` column order.
    columns: &'t [u32],
    /// The column the next value goes to, while a row is open.
    at: Option<usize>,
    refused: Option<CopyRefused>,
}

impl<'t> BinaryCopy<'t> {
    /// A payload for columns of types `columns`, with room for about `rows` rows.
    pub(crate) fn new(columns: &'t [u32], rows: usize) -> Self {
        let mut buf = PgArgumentBuffer::default();
        buf.reserve(19 + rows * (2 + columns.len() * 12) + 2);
        buf.extend_from_slice(SIGNATURE);
        buf.extend_from_slice(&0_i32.to_be_bytes()); // flags: no OIDs
        buf.extend_from_slice(&0_i32.to_be_bytes()); // no header extension
        Self {
            buf,
            columns,
            at: None,
            refused: None,
        }
    }

    /// Starts a row; its values follow with [`value`](Self::value).
    pub(crate) fn start_row(&mut self) {
        self.end_row();
        self.at = Some(0);
        // A table has at most 1,600 columns: the count fits an i16.
        let count = i16::try_from(self.columns.len()).unwrap_or(i16::MAX);
        self.buf.extend_from_slice(&count.to_be_bytes());
    }

    /// Writes the row's next value. After a refusal, does nothing.
    pub(crate) fn value(&mut self, value: &dyn Param) {
        if self.refused.is_some() {
            return;
        }
        let Some(at) = self.at.filter(|&at| at < self.columns.len()) else {
            self.refused = Some(CopyRefused::TypeMismatch);
            return;
        };
        let column = self.columns[at];
        self.at = Some(at + 1);
        if !value.postgres_oid().is_some_and(|oid| accepts(column, oid)) {
            self.refused = Some(CopyRefused::TypeMismatch);
            return;
        }
        let start = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        let len = match value.encode_postgres(&mut self.buf) {
            Ok(IsNull::No) => match i32::try_from(self.buf.len() - start - 4) {
                Ok(len) => len,
                Err(_) => {
                    self.refused = Some(CopyRefused::Encode(
                        "a value is larger than Postgres' 1 GB field limit".into(),
                    ));
                    return;
                }
            },
            Ok(IsNull::Yes) => {
                self.buf.truncate(start + 4);
                -1
            }
            Err(error) => {
                self.refused = Some(CopyRefused::Encode(error));
                return;
            }
        };
        self.buf[start..start + 4].copy_from_slice(&len.to_be_bytes());
    }

    /// The payload, or why there is none.
    pub(crate) fn finish(mut self) -> Result<Vec<u8>, CopyRefused> {
        self.end_row();
        if let Some(refused) = self.refused {
            return Err(refused);
        }
        self.buf.extend_from_slice(&(-1_i16).to_be_bytes());
        Ok(std::mem::take(&mut *self.buf))
    }
}

impl BinaryCopy<'_> {
    /// Closes the open row: it must have had a value for every column.
    fn end_row(&mut self) {
        if self.at.take().is_some_and(|at| at != self.columns.len()) && self.refused.is_none() {
            self.refused = Some(CopyRefused::TypeMismatch);
        }
    }
}

/// Whether a column of type `column` reads a binary value of type `value` as that
/// value: the same type, or text into `varchar` and `char(n)`, whose binary format is
/// text's (their length limits still apply, as on `INSERT`).
fn accepts(column: u32, value: u32) -> bool {
    column == value || (value == oid::TEXT && matches!(column, oid::VARCHAR | oid::BPCHAR))
}

#[cfg(test)]
mod tests {
    use super::*;

    const INT8: u32 = 20;
    const INT4: u32 = 23;

    #[test]
    fn writes_the_documented_layout() {
        let columns = [INT8, oid::TEXT];
        let mut copy = BinaryCopy::new(&columns, 2);
        copy.start_row();
        copy.value(&7_i64);
        copy.value(&"ab");
        copy.start_row();
        copy.value(&-1_i64);
        copy.value(&None::<String>);
        let out = copy.finish().unwrap();
        let mut want = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0".to_vec();
        want.extend_from_slice(&[
            0, 2, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 2, b'a', b'b',
        ]);
        want.extend_from_slice(&[0, 2, 0, 0, 0, 8]);
        want.extend_from_slice(&(-1_i64).to_be_bytes());
        want.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        want.extend_from_slice(&[0xff, 0xff]);
        assert_eq!(out, want);
    }

    #[test]
    fn refuses_a_value_of_another_type() {
        let columns = [INT4];
        let mut copy = BinaryCopy::new(&columns, 1);
        copy.start_row();
        copy.value(&7_i64);
        assert!(matches!(copy.finish(), Err(CopyRefused::TypeMismatch)));
    }

    #[test]
    fn text_goes_into_varchar_and_char_but_not_the_reverse() {
        assert!(accepts(oid::VARCHAR, oid::TEXT));
        assert!(accepts(oid::BPCHAR, oid::TEXT));
        assert!(!accepts(oid::TEXT, oid::VARCHAR));
        assert!(!accepts(INT8, INT4));
    }

    #[test]
    fn refuses_a_row_short_of_values() {
        let columns = [INT8, INT8];
        let mut copy = BinaryCopy::new(&columns, 1);
        copy.start_row();
        copy.value(&1_i64);
        assert!(matches!(copy.finish(), Err(CopyRefused::TypeMismatch)));
    }

    #[test]
    fn refuses_more_values_than_columns() {
        let columns = [INT8];
        let mut copy = BinaryCopy::new(&columns, 1);
        copy.start_row();
        copy.value(&1_i64);
        copy.value(&2_i64);
        assert!(matches!(copy.finish(), Err(CopyRefused::TypeMismatch)));
    }
}
