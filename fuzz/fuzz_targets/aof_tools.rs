//! The AOF tools over arbitrary bytes: the redis-check-aof model (`walk`) stops inside the
//! input; the repair planner keeps ranges that are in order, inside the input, and (in salvage
//! mode) made only of records that read; `restore_crlf` output, when produced, reads completely.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redkit::tools::aof_repair::{analyze, restore_crlf, Mode};
use redkit::tools::aof_scan::walk;
use redkit_formats::resp::next_record;

fuzz_target!(|data: &[u8]| {
    let w = walk(data, 0, 1, 0, true, "f");
    assert!(w.ok_up_to <= data.len() as u64);
    let _ = walk(data, 0, 1, 1_700_000_000, false, "f");
    for mode in [Mode::Truncate, Mode::Salvage] {
        let a = analyze(data, 0, 1, mode);
        let mut last = 0;
        let mut kept = Vec::new();
        for r in &a.keep {
            assert!(r.start >= last && r.start < r.end && r.end <= data.len());
            last = r.end;
            kept.extend_from_slice(&data[r.clone()]);
        }
        // What is kept reads from start to end.
        let mut pos = 0;
        while pos < kept.len() {
            pos = next_record(&kept, pos, 0, 1).expect("kept bytes read").end();
        }
    }
    if let Ok(out) = restore_crlf(data) {
        let mut pos = 0;
        while pos < out.len() {
            pos = next_record(&out, pos, 0, 1).expect("restored bytes read").end();
        }
    }
});
