//! Byte-level codecs for Redis persistence formats.
//!
//! Everything here is a pure function over byte slices: no I/O policy, no keyspace, no CLI, so
//! every decoder can be fuzzed on its own. Decoders never panic on bad input and never allocate
//! in proportion to a length field they have not yet checked against the bytes available.
//!
//! Layouts are described at the top of each module and, in prose, in `formats/README.md`.

pub mod aofwrite;
pub mod crc64;
pub mod cstr;
pub mod error;
pub mod intset;
pub mod length;
pub mod listpack;
pub mod lzf;
pub mod manifest;
pub mod rdb;
pub mod resp;
pub mod string;
pub mod value;
pub mod ziplist;
pub mod zipmap;

pub use error::{Error, ErrorKind, Result};

/// One element of a compact encoding (listpack, ziplist, intset): either raw bytes or an integer
/// the encoding stored in binary form. Redis treats both as the same string; `Int(5)` is "5".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem<'a> {
    Bytes(&'a [u8]),
    Int(i64),
}

impl<'a> Elem<'a> {
    /// Append the element's string form (what Redis would return) to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match *self {
            Elem::Bytes(b) => out.extend_from_slice(b),
            Elem::Int(i) => out.extend_from_slice(fmt_i64(i, &mut [0u8; 20])),
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_to(&mut v);
        v
    }
}

/// Render bytes for a one-line message: printable ASCII as is, everything else `\xNN` / `\n`.
pub fn escape_key(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len().min(256));
    for &c in b.iter().take(256) {
        match c {
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            b'\'' => s.push_str("\\'"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    if b.len() > 256 {
        s.push_str("...");
    }
    s
}

/// Format an integer in decimal into `buf` without allocating; returns the digits.
pub fn fmt_i64(v: i64, buf: &mut [u8; 20]) -> &[u8] {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let mut n = v.unsigned_abs();
    let mut i = buf.len();
    while n >= 100 {
        let d = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        buf[i] = PAIRS[d];
        buf[i + 1] = PAIRS[d + 1];
    }
    if n >= 10 {
        let d = n as usize * 2;
        i -= 2;
        buf[i] = PAIRS[d];
        buf[i + 1] = PAIRS[d + 1];
    } else {
        i -= 1;
        buf[i] = b'0' + n as u8;
    }
    if v < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fmt_i64_matches_to_string_at_the_edges() {
        for v in [
            0,
            1,
            -1,
            9,
            10,
            -10,
            99,
            100,
            -100,
            101,
            12345,
            i64::MAX,
            i64::MIN,
        ] {
            assert_eq!(fmt_i64(v, &mut [0; 20]), v.to_string().as_bytes());
        }
    }
}
