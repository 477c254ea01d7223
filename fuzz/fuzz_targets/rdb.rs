//! Frame a whole RDB file item by item, then decode every key's value twice: with the deep
//! checks of `check-rdb` and with the shallow ones. Errors are fine; panics, hangs and
//! unbounded allocations are what this looks for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redkit_formats::rdb::read::{
    decode_value, parse_header, Ctx, Group, Item, Parser, Sink, StreamId, StreamMeta, Walker,
    HEADER_LEN,
};
use redkit_formats::Elem;

/// Takes every callback and touches the data a little, so nothing is optimised away.
#[derive(Default)]
struct Null(u64);

impl Sink for Null {
    fn string(&mut self, v: &[u8]) {
        self.0 += v.len() as u64;
    }
    fn list_elem(&mut self, _e: Elem<'_>) {
        self.0 += 1;
    }
    fn set_member(&mut self, _e: Elem<'_>) {
        self.0 += 1;
    }
    fn zset_member(&mut self, _m: Elem<'_>, _score: f64) {
        self.0 += 1;
    }
    fn hash_field(&mut self, _f: Elem<'_>, _v: Elem<'_>, _expire_ms: Option<i64>) {
        self.0 += 1;
    }
    fn stream_entry(&mut self, _id: StreamId, fields: &[(Elem<'_>, Elem<'_>)]) {
        self.0 += fields.len() as u64;
    }
    fn stream_meta(&mut self, m: &StreamMeta) {
        self.0 = self.0.wrapping_add(m.length);
    }
    fn stream_group(&mut self, g: &Group) {
        self.0 += g.consumers.len() as u64;
    }
    fn module(&mut self, _id: u64, raw: &[u8]) {
        self.0 += raw.len() as u64;
    }
    fn blob(&mut self, _t: u8, bytes: &[u8]) {
        self.0 += bytes.len() as u64;
    }
}

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
                let mut sink = Null::default();
                let deep_ok = decode_value(&deep, &mut walker, &rec, &mut sink).is_ok();
                let mut sink = Null::default();
                let shallow_ok = decode_value(&shallow, &mut walker, &rec, &mut sink).is_ok();
                // Deep checking only adds checks: whatever passes it passes the shallow walk.
                assert!(!deep_ok || shallow_ok, "deep decode passed, shallow failed");
            }
            _ => {}
        }
    }
});
