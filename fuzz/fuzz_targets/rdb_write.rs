//! Re-encode what the RDB reader decodes: every key of a fuzzed RDB that decodes (deep checks)
//! is written by the RDB writer for each target version and read back; unless the target
//! reports a loss, the logical value must come back the same. Writers must never panic on
//! anything the reader accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redkit_formats::rdb::consts::{kind_of, Kind};
use redkit_formats::rdb::read::{
    decode_value, parse_header, Ctx, Item, Parser, Walker, HEADER_LEN,
};
use redkit_formats::rdb::write::{losses, Limits, Target, Writer};
use redkit_formats::value::ValueBuf;

/// A canonical text of a value's logical contents (order-free where Redis's order is).
fn canon(v: &ValueBuf) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = match v.kind() {
        Kind::String => vec![v.string().to_vec()],
        Kind::List => return v.elems().map(|e| e.to_vec()).collect(),
        Kind::Set => v.elems().map(|e| e.to_vec()).collect(),
        Kind::Zset => v
            .zset()
            .map(|(m, s)| {
                let mut b = m.to_vec();
                // -0 and 0 are one score to Redis.
                let s = if s == 0.0 { 0.0 } else { s };
                b.extend_from_slice(&s.to_bits().to_le_bytes());
                b
            })
            .collect(),
        Kind::Hash => v
            .hash()
            .map(|(f, x, t)| {
                let mut b = f.to_vec();
                b.push(0);
                b.extend_from_slice(&x.to_vec());
                b.extend_from_slice(format!("{t:?}").as_bytes());
                b
            })
            .collect(),
        Kind::Stream => v
            .entries()
            .iter()
            .map(|e| format!("{}", e.id).into_bytes())
            .collect(),
        Kind::Module => vec![v.module().1.to_vec()],
    };
    out.sort();
    out
}

fn read_back(file: &[u8], kind: Kind) -> Option<ValueBuf> {
    let header = parse_header(file).ok()?;
    let ctx = Ctx::new(header, true);
    let mut p = Parser::new(header);
    let mut w = Walker::default();
    let mut pos = HEADER_LEN;
    loop {
        let f = p.next(file, pos, 0).ok()?;
        pos = f.end;
        match f.item {
            Item::Key(rec) => {
                let mut v = ValueBuf::new(kind);
                decode_value(&ctx, &mut w, &rec, &mut v).ok()?;
                return Some(v);
            }
            Item::Eof => return None,
            _ => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(header) = parse_header(data) else {
        return;
    };
    let ctx = Ctx::new(header, true);
    let mut parser = Parser::new(header);
    let mut walker = Walker::default();
    let mut pos = HEADER_LEN;
    let mut v = ValueBuf::default();
    loop {
        let Ok(framed) = parser.next(data, pos, 0) else {
            return;
        };
        pos = framed.end;
        let rec = match framed.item {
            Item::Eof => return,
            Item::Key(rec) => rec,
            _ => continue,
        };
        let kind = kind_of(rec.rdb_type).unwrap_or(Kind::Module);
        v.start(kind);
        if decode_value(&ctx, &mut walker, &rec, &mut v).is_err() {
            continue;
        }
        for t in Target::ALL {
            let Ok(mut w) = Writer::new(Vec::new(), t, Limits::default()) else {
                continue;
            };
            if w.select_db(0, 1, 0).is_err() || w.key(b"k", None, &v).is_err() {
                continue;
            }
            let Ok(file) = w.finish() else { continue };
            let empty =
                matches!(kind, Kind::List | Kind::Set | Kind::Zset | Kind::Hash) && v.is_empty();
            if empty || !losses(&t, &v).is_empty() {
                continue;
            }
            let back = read_back(&file, kind).expect("a written value reads back");
            assert_eq!(canon(&back), canon(&v), "value changed through {t:?}");
        }
    }
});
