//! Zipmap: parse, iteration, shallow and deep validation; a deep-valid zipmap re-encoded from
//! its pairs must be deep-valid too and hold the same pairs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redkit_formats::zipmap::{encode, validate, Zipmap};

fuzz_target!(|data: &[u8]| {
    let shallow = validate(data, false);
    let deep = validate(data, true);
    let Ok(zm) = Zipmap::parse(data) else {
        assert!(shallow.is_err() && deep.is_err());
        return;
    };
    let _ = zm.header_count();
    let pairs: Result<Vec<(&[u8], &[u8])>, _> = zm.iter().collect();
    let Ok(n) = deep else { return };
    let pairs = pairs.expect("deep-valid zipmap failed to iterate");
    assert_eq!(n as usize, pairs.len());
    let again = encode(&pairs);
    assert_eq!(validate(&again, true).ok(), Some(n));
    let back: Vec<(&[u8], &[u8])> = Zipmap::parse(&again)
        .unwrap()
        .iter()
        .map(|p| p.unwrap())
        .collect();
    assert_eq!(back, pairs);
});
