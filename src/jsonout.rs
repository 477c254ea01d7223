//! JSON rendering of Redis byte strings and values, written straight into a byte buffer.
//!
//! A byte string becomes a JSON string when it is valid UTF-8 and `{"base64":"..."}` otherwise,
//! so nothing is lost. Scores use the shortest text that reads back as the same double.

use redkit_formats::Elem;

/// Append `b` as a JSON byte string (see the module comment). Returns false when the bytes
/// were not UTF-8 and went out as base64.
#[inline]
pub fn bytes(out: &mut Vec<u8>, b: &[u8]) -> bool {
    // Most strings are plain ASCII without anything to escape: copy them in one go.
    if is_plain(b) {
        out.reserve(b.len() + 2);
        out.push(b'"');
        out.extend_from_slice(b);
        out.push(b'"');
        true
    } else if std::str::from_utf8(b).is_ok() {
        escaped(out, b);
        true
    } else {
        out.extend_from_slice(b"{\"base64\":\"");
        base64(out, b);
        out.extend_from_slice(b"\"}");
        false
    }
}

/// True when every byte is ASCII and needs no JSON escape; eight bytes at a time (the last
/// word overlaps the previous one).
#[inline]
fn is_plain(b: &[u8]) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    #[inline(always)]
    fn bad(w: u64) -> bool {
        let q = w ^ (LO * 0x22);
        let bs = w ^ (LO * 0x5c);
        // A byte is zero in q / bs, below 0x20 in w, or has its high bit set.
        let flags = (q.wrapping_sub(LO) & !q)
            | (bs.wrapping_sub(LO) & !bs)
            | (w.wrapping_sub(LO * 0x20) & !w)
            | w;
        flags & HI != 0
    }
    let word = |s: &[u8]| {
        let mut t = [0u8; 8];
        t.copy_from_slice(&s[..8]);
        u64::from_le_bytes(t)
    };
    let n = b.len();
    if n < 8 {
        // Two overlapping 4-byte loads (no copy into a padded buffer: that stalls the load).
        if n >= 4 {
            let lo = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let hi = u32::from_le_bytes([b[n - 4], b[n - 3], b[n - 2], b[n - 1]]);
            return !bad(u64::from(lo) | (u64::from(hi) << 32));
        }
        return b.iter().all(|&c| c < 0x80 && !NEEDS_ESCAPE[c as usize]);
    }
    let mut i = 0;
    while i + 8 < n {
        if bad(word(&b[i..])) {
            return false;
        }
        i += 8;
    }
    !bad(word(&b[n - 8..]))
}

/// Append an element: integers as their decimal string.
#[inline]
pub fn elem(out: &mut Vec<u8>, e: Elem<'_>) -> bool {
    match e {
        Elem::Bytes(b) => bytes(out, b),
        Elem::Int(i) => {
            out.push(b'"');
            int(out, i);
            out.push(b'"');
            true
        }
    }
}

/// Append an integer as a JSON number.
#[inline]
pub fn int(out: &mut Vec<u8>, i: i64) {
    out.extend_from_slice(redkit_formats::fmt_i64(i, &mut [0u8; 20]));
}

/// Append an unsigned integer as a JSON number.
#[inline]
pub fn uint(out: &mut Vec<u8>, v: u64) {
    match i64::try_from(v) {
        Ok(i) => int(out, i),
        Err(_) => out.extend_from_slice(v.to_string().as_bytes()),
    }
}

/// Append `b` as a JSON string; bytes that are not valid UTF-8 become one character each
/// (U+0000 to U+00FF), which is how redis-rdb-tools writes them.
pub fn bytes_latin1(out: &mut Vec<u8>, b: &[u8]) {
    if is_plain(b) || std::str::from_utf8(b).is_ok() {
        escaped(out, b);
    } else {
        let s: String = b.iter().map(|&c| c as char).collect();
        string(out, &s);
    }
}

/// Is the element valid UTF-8 (integers always are)?
pub fn elem_is_utf8(e: Elem<'_>) -> bool {
    match e {
        Elem::Bytes(b) => b.is_ascii() || std::str::from_utf8(b).is_ok(),
        Elem::Int(_) => true,
    }
}

/// Append a JSON string literal with the escapes JSON requires.
pub fn string(out: &mut Vec<u8>, s: &str) {
    escaped(out, s.as_bytes());
}

/// Bytes that need an escape inside a JSON string: controls, the quote and the backslash.
const fn escape_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
}
static NEEDS_ESCAPE: [bool; 256] = escape_table();

/// Quote `b` (valid UTF-8) as a JSON string, copying runs without escapes in one go.
#[inline]
fn escaped(out: &mut Vec<u8>, b: &[u8]) {
    out.reserve(b.len() + 2);
    out.push(b'"');
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        if !NEEDS_ESCAPE[c as usize] {
            continue;
        }
        out.extend_from_slice(&b[start..i]);
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(c >> 4) as usize]);
                out.push(HEX[(c & 15) as usize]);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

/// Standard base64 with padding.
pub fn base64(out: &mut Vec<u8>, b: &[u8]) {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut chunks = b.chunks_exact(3);
    for c in &mut chunks {
        let n = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
        out.extend_from_slice(&[
            T[(n >> 18) as usize & 63],
            T[(n >> 12) as usize & 63],
            T[(n >> 6) as usize & 63],
            T[n as usize & 63],
        ]);
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.extend_from_slice(&[T[(n >> 18) as usize & 63], T[(n >> 12) as usize & 63]]);
            out.extend_from_slice(b"==");
        }
        [a, b2] => {
            let n = (u32::from(a) << 16) | (u32::from(b2) << 8);
            out.extend_from_slice(&[
                T[(n >> 18) as usize & 63],
                T[(n >> 12) as usize & 63],
                T[(n >> 6) as usize & 63],
            ]);
            out.push(b'=');
        }
        _ => {}
    }
}

/// A score: a JSON number in shortest round-trip form, or "inf" / "-inf" / "nan".
pub fn score(out: &mut Vec<u8>, f: f64) {
    if f.is_nan() {
        out.extend_from_slice(b"\"nan\"");
    } else if f.is_infinite() {
        out.extend_from_slice(if f > 0.0 { b"\"inf\"" } else { b"\"-inf\"" });
    } else if f == 0.0 && f.is_sign_negative() {
        // -0 stays distinguishable from 0; JSON parsers read "-0" back as -0.0.
        out.extend_from_slice(b"-0");
    } else if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 {
        // Integral and exact (up to 2^53): print it as an integer.
        int(out, f as i64);
    } else {
        // serde_json's shortest round-trip form (1e+300, 0.1), written straight into the buffer:
        // no allocation per score.
        let _ = serde_json::to_writer(&mut *out, &f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s<R>(f: impl Fn(&mut Vec<u8>) -> R) -> String {
        let mut v = Vec::new();
        f(&mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn plain_detection_agrees_with_a_byte_by_byte_check() {
        let mut seed = 7u64;
        for len in 0..40 {
            for _ in 0..200 {
                let b: Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        // Mostly printable, sometimes a special byte.
                        match seed % 16 {
                            0 => b'"',
                            1 => b'\\',
                            2 => (seed >> 8) as u8 % 0x20,
                            3 => 0x80 | (seed >> 8) as u8,
                            _ => 0x20 + ((seed >> 8) % 95) as u8,
                        }
                    })
                    .collect();
                let naive = b
                    .iter()
                    .all(|&c| (0x20..0x80).contains(&c) && c != b'"' && c != b'\\');
                assert_eq!(is_plain(&b), naive, "{b:?}");
            }
        }
    }

    #[test]
    fn utf8_and_binary_strings() {
        assert_eq!(s(|o| bytes(o, b"a\"b\\\n\x01")), r#""a\"b\\\n\u0001""#);
        assert_eq!(s(|o| bytes(o, "é".as_bytes())), "\"é\"");
        assert_eq!(s(|o| bytes(o, b"\xff\x00a")), r#"{"base64":"/wBh"}"#);
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(s(|v| base64(v, i.as_bytes())), o);
        }
    }

    #[test]
    fn scores_are_shortest_round_trip() {
        for (f, t) in [
            (1.0, "1"),
            (-2.0, "-2"),
            (0.5, "0.5"),
            (0.1, "0.1"),
            (1e300, "1e+300"),
            (f64::INFINITY, "\"inf\""),
            (f64::NEG_INFINITY, "\"-inf\""),
            (f64::NAN, "\"nan\""),
            (-0.0, "-0"),
            (0.00390625, "0.00390625"),
            (-12345.5, "-12345.5"),
        ] {
            let out = s(|v| score(v, f));
            assert_eq!(out, t);
            if f.is_finite() {
                let back: f64 = serde_json::from_str(&out).unwrap();
                assert_eq!(back.to_bits(), f.to_bits(), "{f}");
            }
        }
        for f in [123456.789e-10, 1e-5, 9.5e15, 1e16, 1.5e-6, 5e-324, f64::MAX] {
            let out = s(|v| score(v, f));
            let back: f64 = serde_json::from_str(&out).unwrap();
            assert_eq!(back.to_bits(), f.to_bits(), "{f} -> {out}");
        }
    }
}
