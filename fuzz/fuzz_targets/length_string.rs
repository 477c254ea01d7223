//! RDB length and string encodings: decode, render the string (decompressing LZF), and check
//! that what decodes re-encodes to the same length field; and `fmt_i64` on the first 8 bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redkit_formats::length::{self, Len};
use redkit_formats::string::{self, Str};

fuzz_target!(|data: &[u8]| {
    if let Ok((l, used)) = length::decode(data) {
        assert!(used >= 1 && used <= data.len());
        if let Len::Len(n) = l {
            let mut v = Vec::new();
            length::encode(n, &mut v);
            assert_eq!(length::decode(&v).ok(), Some((Len::Len(n), v.len())));
            assert!(
                v.len() <= used,
                "shortest encoding is longer than the input's"
            );
        }
    }
    if let Ok((s, used)) = string::decode(data) {
        assert!(used >= 1 && used <= data.len());
        let mut scratch = Vec::new();
        if let Ok(b) = s.bytes(&mut scratch, 0) {
            assert_eq!(b.len(), s.decoded_len());
            if let Str::Int(i) = s {
                assert_eq!(b, i.to_string().as_bytes());
            }
        }
        let _ = s.encoding_name();
    }
    // The allocation-free integer formatter agrees with the standard one.
    if let Some(b) = data.first_chunk::<8>() {
        let v = i64::from_le_bytes(*b);
        let mut buf = [0u8; 20];
        assert_eq!(
            redkit_formats::fmt_i64(v, &mut buf),
            v.to_string().as_bytes()
        );
    }
});
