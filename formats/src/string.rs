//! RDB string encoding.
//!
//! A string starts with a length field (`length.rs`). A plain length `n` is followed by `n` raw
//! bytes. The special form `11xxxxxx` selects by its low 6 bits:
//! - 0: an 8-bit signed integer (1 byte follows),
//! - 1: a 16-bit little-endian signed integer,
//! - 2: a 32-bit little-endian signed integer,
//! - 3: LZF: a length field with the compressed size, a length field with the original size, then
//!   the compressed bytes.
//!
//! Integers stand for their decimal text: an int-encoded `-12` is the string "-12".

use crate::length::{self, Len};
use crate::{lzf, Error, ErrorKind, Result};

pub const ENC_INT8: u8 = 0;
pub const ENC_INT16: u8 = 1;
pub const ENC_INT32: u8 = 2;
pub const ENC_LZF: u8 = 3;

/// A string as stored, before any decompression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Str<'a> {
    Raw(&'a [u8]),
    Int(i64),
    Lzf { compressed: &'a [u8], len: usize },
}

impl<'a> Str<'a> {
    /// The string's bytes: borrowed when raw, otherwise rendered into `scratch`.
    /// `base` is the absolute offset of the compressed data, for error messages.
    pub fn bytes<'s>(&self, scratch: &'s mut Vec<u8>, base: u64) -> Result<&'s [u8]>
    where
        'a: 's,
    {
        match *self {
            Str::Raw(b) => Ok(b),
            Str::Int(i) => {
                scratch.clear();
                scratch.extend_from_slice(crate::fmt_i64(i, &mut [0u8; 20]));
                Ok(scratch)
            }
            Str::Lzf { compressed, len } => {
                lzf::decompress_into(compressed, len, scratch).map_err(|e| e.rebase(base))?;
                Ok(scratch)
            }
        }
    }

    /// Owned bytes of the string.
    pub fn to_vec(&self, base: u64) -> Result<Vec<u8>> {
        let mut v = Vec::new();
        let b = self.bytes(&mut v, base)?;
        Ok(b.to_vec())
    }

    /// Length of the string once decoded.
    pub fn decoded_len(&self) -> usize {
        match *self {
            Str::Raw(b) => b.len(),
            Str::Int(i) => i.to_string().len(),
            Str::Lzf { len, .. } => len,
        }
    }

    /// The name `redkit json` uses for this string encoding.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            Str::Raw(_) => "string",
            Str::Int(_) => "int",
            Str::Lzf { .. } => "lzf",
        }
    }
}

/// Decode a string at the start of `data`; returns it and the bytes used. Offsets in errors are
/// relative to `data`. A truncated string gives an `UnexpectedEof` error.
#[inline]
pub fn decode(data: &[u8]) -> Result<(Str<'_>, usize)> {
    let (l, n) = length::decode(data)?;
    match l {
        Len::Len(len) => {
            let avail = (data.len() - n) as u64;
            if len > avail {
                return Err(Error::eof(len - avail, n as u64, "string"));
            }
            let end = n + len as usize;
            Ok((Str::Raw(&data[n..end]), end))
        }
        Len::Encoded(ENC_INT8) => match data.get(1) {
            Some(&b) => Ok((Str::Int(i64::from(b as i8)), 2)),
            None => Err(Error::eof(1, 1, "8-bit integer string")),
        },
        Len::Encoded(ENC_INT16) => match data.get(1..3) {
            Some(b) => Ok((Str::Int(i64::from(i16::from_le_bytes([b[0], b[1]]))), 3)),
            None => Err(Error::eof(2, 1, "16-bit integer string")),
        },
        Len::Encoded(ENC_INT32) => match data.get(1..5) {
            Some(b) => Ok((
                Str::Int(i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
                5,
            )),
            None => Err(Error::eof(4, 1, "32-bit integer string")),
        },
        Len::Encoded(ENC_LZF) => {
            let rest = &data[1..];
            let (clen, a) = length::decode(rest).map_err(|e| e.rebase(1))?;
            let (ulen, b) = length::decode(&rest[a..]).map_err(|e| e.rebase(1 + a as u64))?;
            let (Len::Len(clen), Len::Len(ulen)) = (clen, ulen) else {
                return Err(Error::corrupt(
                    "LZF string with an encoded length",
                    1,
                    "LZF string header",
                ));
            };
            let start = 1 + a + b;
            let avail = (data.len() - start) as u64;
            if clen > avail {
                return Err(Error::eof(clen - avail, start as u64, "LZF string"));
            }
            let ulen = usize::try_from(ulen).map_err(|_| {
                Error::new(
                    ErrorKind::BadLength(ulen),
                    1 + a as u64,
                    "LZF string header",
                )
            })?;
            let end = start + clen as usize;
            Ok((
                Str::Lzf {
                    compressed: &data[start..end],
                    len: ulen,
                },
                end,
            ))
        }
        Len::Encoded(e) => Err(Error::new(ErrorKind::UnknownStringEncoding(e), 0, "string")),
    }
}

/// Append `b` as a plain (length-prefixed) string.
pub fn encode_raw(b: &[u8], out: &mut Vec<u8>) {
    length::encode(b.len() as u64, out);
    out.extend_from_slice(b);
}

/// Append `v` in the smallest integer encoding, or None if it needs more than 32 bits.
pub fn encode_int(v: i64, out: &mut Vec<u8>) -> bool {
    if let Ok(x) = i8::try_from(v) {
        out.extend_from_slice(&[0xc0 | ENC_INT8, x as u8]);
    } else if let Ok(x) = i16::try_from(v) {
        out.push(0xc0 | ENC_INT16);
        out.extend_from_slice(&x.to_le_bytes());
    } else if let Ok(x) = i32::try_from(v) {
        out.push(0xc0 | ENC_INT32);
        out.extend_from_slice(&x.to_le_bytes());
    } else {
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_strings_round_trip_at_length_boundaries() {
        for n in [0usize, 1, 63, 64, 16383, 16384, 70000] {
            let s: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
            let mut v = Vec::new();
            encode_raw(&s, &mut v);
            let (d, used) = decode(&v).unwrap();
            assert_eq!(used, v.len());
            assert_eq!(d, Str::Raw(&s[..]));
        }
    }

    #[test]
    fn integers_round_trip_at_every_width_edge() {
        for v in [
            0i64,
            -1,
            127,
            -128,
            128,
            -129,
            32767,
            -32768,
            32768,
            i64::from(i32::MAX),
            i64::from(i32::MIN),
        ] {
            let mut out = Vec::new();
            assert!(encode_int(v, &mut out));
            let (d, used) = decode(&out).unwrap();
            assert_eq!((d, used), (Str::Int(v), out.len()));
            let mut scratch = Vec::new();
            assert_eq!(d.bytes(&mut scratch, 0).unwrap(), v.to_string().as_bytes());
        }
        assert!(!encode_int(i64::from(i32::MAX) + 1, &mut Vec::new()));
    }

    #[test]
    fn lzf_string_decodes() {
        let plain = b"abcabcabcabcabcabcabcabcabcabcabcabcabcabc".repeat(4);
        let c = lzf::compress(&plain).unwrap();
        let mut v = vec![0xc3];
        length::encode(c.len() as u64, &mut v);
        length::encode(plain.len() as u64, &mut v);
        v.extend_from_slice(&c);
        let (d, used) = decode(&v).unwrap();
        assert_eq!(used, v.len());
        assert_eq!(d.to_vec(0).unwrap(), plain);
        // Every truncation is incomplete, never a panic.
        for cut in 0..v.len() {
            assert!(decode(&v[..cut]).unwrap_err().is_incomplete());
        }
    }

    #[test]
    fn unknown_special_encoding_is_an_error() {
        assert_eq!(
            decode(&[0xc4]).unwrap_err().kind,
            ErrorKind::UnknownStringEncoding(4)
        );
    }
}
