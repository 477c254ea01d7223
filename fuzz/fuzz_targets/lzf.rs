//! LZF: decompress the input after its first two bytes, which give the expected length
//! (u16 LE); and compress the whole input, which must decompress back to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redkit_formats::lzf::{compress, decompress, decompress_into, max_decompressed_len};

fuzz_target!(|data: &[u8]| {
    if let [a, b, rest @ ..] = data {
        let expected = usize::from(u16::from_le_bytes([*a, *b]));
        match decompress(rest, expected) {
            Ok(out) => {
                assert_eq!(out.len(), expected);
                assert!(out.len() <= max_decompressed_len(rest.len()));
            }
            Err(_) => {
                // The same failure with a reused, dirty buffer.
                let mut out = vec![0xAA; 17];
                assert!(decompress_into(rest, expected, &mut out).is_err());
            }
        }
    }
    if let Some(c) = compress(data) {
        assert!(c.len() < data.len(), "compress returned no saving");
        let d = decompress(&c, data.len()).expect("own compressed output does not decompress");
        assert_eq!(d, data, "round trip changed the data");
    }
});
