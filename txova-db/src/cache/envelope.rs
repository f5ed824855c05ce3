//! The stored form of a cached value: JSON in a versioned envelope.
//!
//! A value is `{"v":1,"d":<value as JSON>}`; a cached absence ("cached-none": the
//! source said there is nothing, and that answer is cached too) is `{"v":1}`. A value
//! whose JSON is `null` (`None`, `()`) is stored as a cached absence. The version lets
//! a later release change the layout: an entry of another version reads as a miss and
//! is overwritten.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::CacheError;

/// The envelope version this build writes and reads.
pub(crate) const VERSION: u32 = crate::error::ENVELOPE_VERSION;

const VALUE_PREFIX: &[u8] = br#"{"v":1,"d":"#;
const NONE: &[u8] = br#"{"v":1}"#;

/// What an entry holds.
#[derive(Debug, PartialEq)]
pub(crate) enum Stored<T> {
    Value(T),
    None,
}

/// Encodes `value`; a value whose JSON is `null` becomes a cached absence.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CacheError> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(VALUE_PREFIX);
    serde_json::to_writer(&mut out, value).map_err(CacheError::Encode)?;
    if &out[VALUE_PREFIX.len()..] == b"null" {
        return Ok(encode_none());
    }
    out.push(b'}');
    Ok(out)
}

/// A cached absence.
pub(crate) fn encode_none() -> Vec<u8> {
    NONE.to_vec()
}

#[derive(Deserialize)]
struct Envelope<T> {
    v: u32,
    #[serde(default = "Option::default")]
    d: Option<T>,
}

#[derive(Deserialize)]
struct VersionOnly {
    v: u32,
}

/// Decodes an entry written by [`encode`] or [`encode_none`].
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<Stored<T>, CacheError> {
    match serde_json::from_slice::<Envelope<T>>(bytes) {
        Ok(Envelope { v: VERSION, d }) => Ok(d.map_or(Stored::None, Stored::Value)),
        Ok(Envelope { v, .. }) => Err(CacheError::Version(v)),
        Err(err) => match serde_json::from_slice::<VersionOnly>(bytes) {
            Ok(VersionOnly { v }) if v != VERSION => Err(CacheError::Version(v)),
            _ => Err(CacheError::Decode(err)),
        },
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::{Stored, decode, encode};
    use crate::cache::CacheError;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Profile {
        id: i64,
        name: String,
    }

    #[test]
    fn round_trips_values_and_absences() {
        let profile = Profile {
            id: 7,
            name: "Ana".into(),
        };
        let bytes = encode(&profile).unwrap();
        assert_eq!(bytes, br#"{"v":1,"d":{"id":7,"name":"Ana"}}"#);
        assert_eq!(decode::<Profile>(&bytes).unwrap(), Stored::Value(profile));
        let none = encode(&None::<Profile>).unwrap();
        assert_eq!(none, br#"{"v":1}"#);
        assert_eq!(decode::<Profile>(&none).unwrap(), Stored::None);
        assert_eq!(
            decode::<Option<i32>>(&encode(&Some(3)).unwrap()).unwrap(),
            Stored::Value(Some(3))
        );
    }

    #[test]
    fn other_versions_and_shapes_are_errors() {
        assert!(matches!(
            decode::<i32>(br#"{"v":2,"d":1}"#),
            Err(CacheError::Version(2))
        ));
        assert!(matches!(
            decode::<i32>(br#"{"v":2,"d":{"new":"shape"}}"#),
            Err(CacheError::Version(2))
        ));
        assert!(matches!(
            decode::<i32>(br#"{"v":1,"d":"text"}"#),
            Err(CacheError::Decode(_))
        ));
        assert!(matches!(
            decode::<i32>(b"garbage"),
            Err(CacheError::Decode(_))
        ));
    }
}
