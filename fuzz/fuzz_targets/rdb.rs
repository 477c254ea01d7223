//! Frame a whole RDB file item by item, then decode every key's value twice: with the deep
//! checks of `check-rdb` and with the shallow ones. Errors are fine; panics, hangs and
//! unbounded allocations are what this looks for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redkit_formats::rdb::read::{
    decode_value, parse_header, CountSink, Ctx, Item, Parser, Walker, HEADER_LEN,
};

fuzz_target!(|data: &[u8]| {
    let Ok(header) = parse_header(data) else {
        return;
    };
    let deep = Ctx::new(header, true);
    let shallow = Ctx::new(header, false);
    let mut parser = Parser::new(header);
    let mut walker = Walker::default();
    let mut pos = HEADER_LEN;
    loop {
        let Ok(framed) = parser.next(data, pos, 0) else {
            return;
        };
        assert!(framed.end > pos, "framing made no progress at {pos}");
        assert!(framed.end <= data.len());
        pos = framed.end;
        match framed.item {
            Item::Eof => return,
            Item::Key(rec) => {
                let mut sink = CountSink::default();
                let deep_ok = decode_value(&deep, &mut walker, &rec, &mut sink).is_ok();
                let mut sink = CountSink::default();
                let shallow_ok = decode_value(&shallow, &mut walker, &rec, &mut sink).is_ok();
                // Deep checking only adds checks: whatever passes it passes the shallow walk.
                assert!(!deep_ok || shallow_ok, "deep decode passed, shallow failed");
            }
            _ => {}
        }
    }
});
