//! String values: `Value::Int`, `Value::Emb` and `Value::Raw`, chosen as Redis's
//! `tryObjectEncoding` and `createStringObject` choose them.

use std::borrow::Cow;

use super::{SStr, Value};
use crate::cmd::util::parse_i64;

/// Longest string Redis stores as `embstr`.
pub const EMBSTR_MAX: usize = 44;

/// A string value as SET stores it: `int` when it is a canonical integer of at most 20
/// characters, `embstr` up to 44 bytes, `raw` above.
pub fn string_value(b: &[u8]) -> Value {
    if b.len() <= 20 {
        if let Some(i) = parse_i64(b) {
            return Value::Int(i);
        }
    }
    if b.len() <= EMBSTR_MAX {
        Value::Emb(SStr::new(b))
    } else {
        Value::Raw(SStr::new(b))
    }
}

/// A string value built by modifying one in place (APPEND, SETRANGE, SETBIT...): always `raw`.
pub fn raw_value(b: Vec<u8>) -> Value {
    Value::Raw(SStr::from(b))
}

/// The bytes of a string value (`None` for other types).
pub fn string_bytes(v: &Value) -> Option<Cow<'_, [u8]>> {
    match v {
        Value::Int(i) => Some(Cow::Owned(i.to_string().into_bytes())),
        Value::Emb(s) | Value::Raw(s) => Some(Cow::Borrowed(s.as_bytes())),
        _ => None,
    }
}

/// Length of a string value in bytes.
pub fn string_len(v: &Value) -> Option<usize> {
    match v {
        Value::Int(i) => Some(crate::cmd::util::i64_bytes(*i).len()),
        Value::Emb(s) | Value::Raw(s) => Some(s.len()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(string_value(b"123"), Value::Int(123));
        assert_eq!(string_value(b"0123").encoding(), "embstr");
        assert_eq!(string_value(&[b'a'; 44]).encoding(), "embstr");
        assert_eq!(string_value(&[b'a'; 45]).encoding(), "raw");
        assert_eq!(string_value(b"-9223372036854775808"), Value::Int(i64::MIN));
        assert_eq!(
            string_bytes(&Value::Int(-5)).as_deref(),
            Some(b"-5".as_ref())
        );
    }
}
