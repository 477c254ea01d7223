//! Intset: parse, random access, iteration both ways, shallow and deep validation; a deep-valid
//! intset re-encoded from its values must decode to the same values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redkit_formats::intset::{encode, validate, Intset};

fuzz_target!(|data: &[u8]| {
    let shallow = validate(data, false);
    let deep = validate(data, true);
    let Ok(set) = Intset::parse(data) else {
        assert!(shallow.is_err() && deep.is_err());
        return;
    };
    let values: Vec<i64> = set.iter().collect();
    assert_eq!(values.len(), set.len());
    let mut rev: Vec<i64> = set.iter().rev().collect();
    rev.reverse();
    assert_eq!(rev, values);
    for (i, v) in values.iter().enumerate() {
        assert_eq!(set.get(i), Some(*v));
    }
    assert_eq!(set.get(values.len()), None);
    let Ok(n) = deep else { return };
    assert_eq!(shallow.ok(), Some(n));
    let again = encode(&values);
    assert!(
        again.len() <= data.len(),
        "re-encoding is wider than the original"
    );
    assert_eq!(validate(&again, true).ok(), Some(n));
    let back: Vec<i64> = Intset::parse(&again).unwrap().iter().collect();
    assert_eq!(back, values);
});
