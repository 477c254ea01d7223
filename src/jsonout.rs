//! JSON rendering of Redis byte strings and values, written straight into a byte buffer.
//!
//! A byte string becomes a JSON string when it is valid UTF-8 and `{"base64":"..."}` otherwise,
//! so nothing is lost. Scores use the shortest text that reads back as the same double.

use redkit_formats::Elem;

/// Append `b` as a JSON byte string (see the module comment).
pub fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    match std::str::from_utf8(b) {
        Ok(s) => string(out, s),
        Err(_) => {
            out.extend_from_slice(b"{\"base64\":\"");
            base64(out, b);
            out.extend_from_slice(b"\"}");
        }
    }
}

/// Append an element: integers as their decimal string.
pub fn elem(out: &mut Vec<u8>, e: Elem<'_>) {
    match e {
        Elem::Bytes(b) => bytes(out, b),
        Elem::Int(i) => {
            out.push(b'"');
            out.extend_from_slice(itoa(i).as_bytes());
            out.push(b'"');
        }
    }
}

pub fn itoa(i: i64) -> String {
    i.to_string()
}

/// Is the element valid UTF-8 (integers always are)?
pub fn elem_is_utf8(e: Elem<'_>) -> bool {
    match e {
        Elem::Bytes(b) => std::str::from_utf8(b).is_ok(),
        Elem::Int(_) => true,
    }
}

/// Append a JSON string literal with the escapes JSON requires.
pub fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let b = s.as_bytes();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&b[start..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(c >> 4) as usize]);
            out.push(HEX[(c & 15) as usize]);
        } else {
            out.extend_from_slice(esc);
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
    } else if f.fract() == 0.0 && f.abs() < 1e15 {
        out.extend_from_slice((f as i64).to_string().as_bytes());
    } else {
        // serde_json prints finite doubles in shortest round-trip form (ryu).
        out.extend_from_slice(
            serde_json::Number::from_f64(f)
                .map_or_else(|| "null".to_string(), |n| n.to_string())
                .as_bytes(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl Fn(&mut Vec<u8>)) -> String {
        let mut v = Vec::new();
        f(&mut v);
        String::from_utf8(v).unwrap()
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
        ] {
            let out = s(|v| score(v, f));
            assert_eq!(out, t);
            if f.is_finite() {
                let back: f64 = serde_json::from_str(&out).unwrap();
                assert_eq!(back.to_bits(), f.to_bits(), "{f}");
            }
        }
        let out = s(|v| score(v, 123456.789e-10));
        assert_eq!(out.parse::<f64>().unwrap(), 123456.789e-10);
    }
}
