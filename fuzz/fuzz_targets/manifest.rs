//! Multi-part AOF manifest: parse never panics and keeps its invariants; what parses is
//! written back with `format` and must parse to the same manifest whenever every line reads
//! back (and must not when some line does not).
#![no_main]

use libfuzzer_sys::fuzz_target;
use redkit_formats::manifest::{
    format, line_reads_back, looks_like_manifest, parse, FileType, ERR_EMPTY, ERR_TOO_LONG,
};

fuzz_target!(|data: &[u8]| {
    let _ = looks_like_manifest(data);
    let m = match parse(data) {
        Ok(m) => m,
        Err(e) => {
            assert!(e.offset <= data.len());
            assert_eq!(e.line_no.is_some(), e.line.is_some());
            assert_eq!(
                e.line.is_none(),
                e.message == ERR_EMPTY || e.message == ERR_TOO_LONG
            );
            let _ = e.to_string();
            assert!(e.redis_log_lines().len() >= 2);
            return;
        }
    };
    assert!(m.base.iter().all(|i| i.kind == FileType::Base));
    assert!(m.history.iter().all(|i| i.kind == FileType::History));
    assert!(m.incr.iter().all(|i| i.kind == FileType::Incr));
    assert!(m.incr.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(m.incr.first().map_or(true, |i| i.seq > 0));
    for i in m.base.iter().chain(&m.history).chain(&m.incr) {
        assert!(i.seq != 0);
        assert!(!i.name.iter().any(|&b| matches!(b, 0 | b'/' | b'\\')));
    }
    let text = format(&m);
    let empty = m.base.is_none() && m.history.is_empty() && m.incr.is_empty();
    let readable = m
        .base
        .iter()
        .chain(&m.history)
        .chain(&m.incr)
        .all(line_reads_back);
    let again = parse(&text);
    if empty {
        // Only comments: Redis writes nothing, and refuses an empty manifest.
        assert!(text.is_empty());
        assert_eq!(again.err().map(|e| e.message), Some(ERR_EMPTY));
    } else if readable {
        assert!(looks_like_manifest(&text));
        assert_eq!(again.as_ref(), Ok(&m));
    } else {
        assert_ne!(again.as_ref(), Ok(&m));
    }
});
