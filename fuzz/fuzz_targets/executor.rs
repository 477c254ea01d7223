//! Run arbitrary commands through the command executor: one command per line, arguments split
//! on spaces (`\x` escapes nothing: bytes are taken as they are). Tiny encoding thresholds make
//! every conversion reachable from short inputs. Replies must encode; nothing may panic, hang or
//! allocate more than a command can legitimately ask for (Redis's own 512 MB string limit).
#![no_main]

use libfuzzer_sys::fuzz_target;
use redkit::cmd::{Executor, Session};
use redkit::keyspace::Keyspace;

fuzz_target!(|data: &[u8]| {
    let mut ks = Keyspace::default();
    for (name, value) in [
        ("hash-max-listpack-entries", "4"),
        ("hash-max-listpack-value", "8"),
        ("zset-max-listpack-entries", "4"),
        ("zset-max-listpack-value", "8"),
        ("set-max-intset-entries", "4"),
        ("list-max-listpack-size", "3"),
    ] {
        let _ = ks.config.set(name, value);
    }
    let mut ex = Executor::new(ks);
    ex.clock_ms = Some(1_700_000_000_000);
    ex.propagating = true;
    let mut sess = Session::default();
    let mut out = Vec::new();
    for line in data.split(|&c| c == b'\n').take(256) {
        let args: Vec<&[u8]> = line
            .split(|&c| c == b' ')
            .filter(|a| !a.is_empty())
            .collect();
        if args.is_empty() {
            continue;
        }
        let reply = ex.execute(&mut sess, &args);
        out.clear();
        reply.write_resp2(&mut out);
        ex.propagated.clear();
    }
});
