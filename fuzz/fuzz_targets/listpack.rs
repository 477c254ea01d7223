//! Listpack: header parse, lazy iteration, shallow and deep validation; a deep-valid listpack
//! rebuilt from its elements must be deep-valid too and hold the same elements.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redkit_formats::listpack::{validate, Builder, Listpack};
use redkit_formats::Elem;

fuzz_target!(|data: &[u8]| {
    let shallow = validate(data, false);
    let deep = validate(data, true);
    let Ok(lp) = Listpack::parse(data) else {
        assert!(shallow.is_err() && deep.is_err());
        return;
    };
    let _ = lp.count();
    let elems: Result<Vec<Elem<'_>>, _> = lp.iter().collect();
    let Ok(n) = deep else { return };
    let elems = elems.expect("deep-valid listpack failed to iterate");
    assert_eq!(n as usize, elems.len());
    if let Ok(s) = shallow {
        assert_eq!(s, n, "shallow and deep counts differ");
    }
    let mut b = Builder::new();
    for e in &elems {
        b.push(*e);
    }
    let again = b.finish();
    assert_eq!(validate(&again, true).ok(), Some(n));
    let back: Vec<Elem<'_>> = Listpack::parse(&again)
        .unwrap()
        .iter()
        .map(|e| e.unwrap())
        .collect();
    assert_eq!(back, elems);
});
