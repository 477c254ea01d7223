//! RDB length encoding.
//!
//! The top two bits of the first byte say how long the length is:
//! - `00xxxxxx`: a 6-bit length in this byte.
//! - `01xxxxxx yyyyyyyy`: a 14-bit length, big-endian over the two bytes.
//! - `10000000` + 4 bytes: a 32-bit big-endian length.
//! - `10000001` + 8 bytes: a 64-bit big-endian length.
//! - `11xxxxxx`: not a length but a special string encoding numbered by the low 6 bits (see
//!   `string.rs`); only valid where a string is expected.
//!
//! Any other `10xxxxxx` byte is invalid.

use crate::{Error, ErrorKind, Result};

/// A decoded length field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Len {
    Len(u64),
    /// The `11xxxxxx` form: a special string encoding (low 6 bits).
    Encoded(u8),
}

/// Decode a length field at the start of `data`. Returns the field and how many bytes it used.
/// Errors are relative to `data`'s start.
#[inline]
pub fn decode(data: &[u8]) -> Result<(Len, usize)> {
    let Some(&first) = data.first() else {
        return Err(Error::eof(1, 0, "length"));
    };
    match first >> 6 {
        0 => Ok((Len::Len(u64::from(first & 0x3f)), 1)),
        1 => match data.get(1) {
            Some(&b) => Ok((Len::Len((u64::from(first & 0x3f) << 8) | u64::from(b)), 2)),
            None => Err(Error::eof(1, 1, "length")),
        },
        3 => Ok((Len::Encoded(first & 0x3f), 1)),
        _ => match first {
            0x80 => match data.get(1..5) {
                Some(b) => Ok((
                    Len::Len(u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))),
                    5,
                )),
                None => Err(Error::eof(5 - (data.len() as u64 - 1).min(4), 1, "length")),
            },
            0x81 => match data.get(1..9) {
                Some(b) => {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    Ok((Len::Len(u64::from_be_bytes(a)), 9))
                }
                None => Err(Error::eof(9 - (data.len() as u64 - 1).min(8), 1, "length")),
            },
            _ => Err(Error::new(
                ErrorKind::Corrupt(format!("invalid length prefix byte 0x{first:02x}")),
                0,
                "length",
            )),
        },
    }
}

/// Append the shortest encoding of `len`, as Redis writes it.
pub fn encode(len: u64, out: &mut Vec<u8>) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.push(0x40 | (len >> 8) as u8);
        out.push(len as u8);
    } else if len <= u64::from(u32::MAX) {
        out.push(0x80);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(n: u64) -> usize {
        let mut v = Vec::new();
        encode(n, &mut v);
        assert_eq!(decode(&v).unwrap(), (Len::Len(n), v.len()), "len {n}");
        v.len()
    }

    #[test]
    fn every_width_boundary_round_trips_with_the_expected_size() {
        for (n, size) in [
            (0, 1),
            (63, 1),
            (64, 2),
            (16383, 2),
            (16384, 5),
            (u64::from(u32::MAX), 5),
            (u64::from(u32::MAX) + 1, 9),
            (u64::MAX, 9),
        ] {
            assert_eq!(rt(n), size, "len {n}");
        }
    }

    #[test]
    fn special_encoding_and_bad_prefixes() {
        assert_eq!(decode(&[0xc3]).unwrap(), (Len::Encoded(3), 1));
        assert!(decode(&[0x82]).is_err());
        assert!(decode(&[0xbf]).is_err());
    }

    #[test]
    fn truncation_is_reported_as_incomplete() {
        for full in [
            vec![0x40, 1],
            vec![0x80, 0, 0, 1, 0],
            vec![0x81, 0, 0, 0, 0, 0, 0, 1, 0],
        ] {
            for cut in 0..full.len() {
                let e = decode(&full[..cut]).unwrap_err();
                assert!(e.is_incomplete(), "{full:?} cut at {cut}: {e}");
            }
        }
    }
}
