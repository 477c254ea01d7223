//! Read arbitrary bytes as redkit JSON Lines: records or a one-line error, never a panic, a hang
//! or an allocation sized by the input's claims; every record moves the reader forward.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redkit::jsonin::JsonReader;
use redkit_formats::value::ValueBuf;

fuzz_target!(|data: &[u8]| {
    let mut r = JsonReader::new(data);
    let mut v = ValueBuf::default();
    let mut last = None;
    while let Ok(Some(_)) = r.next(&mut v) {
        let at = r.offset();
        assert!(last.is_none_or(|l| at > l), "no progress at {at}");
        assert!(at as usize <= data.len());
        last = Some(at);
    }
});
