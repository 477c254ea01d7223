//! Golden tests on samples/*.rdb (written by a real redis-server 7.0 with bin/make-samples).
//!
//! - `samples_match_golden_json`: `redkit json --meta --now 1700000000000 samples/X.rdb` must equal
//!   samples/X.json byte for byte. Run with `REDKIT_BLESS=1` to rewrite the .json files from the
//!   current redkit instead (then review the diff: `samples_match_real_redis` must still pass).
//! - `samples_match_real_redis`: each sample is loaded into a fresh redis-server and every record
//!   of its golden .json is compared with what the server holds, so the golden files are known to
//!   describe the data Redis itself reads from the file.

mod common;

use common::*;
use std::path::PathBuf;

const NOW: &str = "1700000000000";

fn sample_rdbs() -> Vec<PathBuf> {
    let dir = samples_dir();
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rdb"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no samples/*.rdb: run bin/make-samples");
    v
}

fn golden_path(rdb: &std::path::Path) -> PathBuf {
    rdb.with_extension("json")
}

fn redkit_output(rdb: &std::path::Path) -> Vec<u8> {
    run_redkit(&[
        "json".as_ref(),
        "--meta".as_ref(),
        "--now".as_ref(),
        NOW.as_ref(),
        rdb.as_os_str(),
    ])
}

#[test]
fn samples_match_golden_json() {
    let bless = std::env::var_os("REDKIT_BLESS").is_some_and(|v| v == "1");
    let mut failures = Vec::new();
    for rdb in sample_rdbs() {
        let got = redkit_output(&rdb);
        let golden = golden_path(&rdb);
        if bless {
            std::fs::write(&golden, &got)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", golden.display()));
            eprintln!("blessed {}", golden.display());
            continue;
        }
        let want = std::fs::read(&golden).unwrap_or_else(|e| {
            panic!(
                "cannot read {} ({e}): run bin/make-samples or REDKIT_BLESS=1",
                golden.display()
            )
        });
        if got != want {
            let g = String::from_utf8_lossy(&got);
            let w = String::from_utf8_lossy(&want);
            let gl: Vec<&str> = g.lines().collect();
            let wl: Vec<&str> = w.lines().collect();
            let i = (0..gl.len().max(wl.len()))
                .find(|&i| gl.get(i) != wl.get(i))
                .unwrap_or(gl.len());
            failures.push(format!(
                "{}: output differs from {} at line {}:\n  expected: {:.400}\n  got:      {:.400}",
                rdb.display(),
                golden.display(),
                i + 1,
                wl.get(i).unwrap_or(&"<end>"),
                gl.get(i).unwrap_or(&"<end>")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(REDKIT_BLESS=1 rewrites the golden files)",
        failures.join("\n")
    );
}

#[test]
fn samples_match_real_redis() {
    for rdb in sample_rdbs() {
        let golden = golden_path(&rdb);
        let text = std::fs::read(&golden).unwrap_or_else(|e| {
            panic!(
                "cannot read {} ({e}): run bin/make-samples",
                golden.display()
            )
        });
        let records =
            parse_json_lines(&text).unwrap_or_else(|e| panic!("{}: {e}", golden.display()));
        let mut server = RedisServer::start_with_rdb(&rdb, &[]);
        let (errs, cov) = compare_with_server(&mut server, &records);
        assert_no_mismatch(&golden.display().to_string(), &errs);
        let name = rdb.file_stem().unwrap().to_string_lossy().into_owned();
        // What each sample is documented (samples/README.md) to hold.
        match name.as_str() {
            "all-types" => {
                cov.assert_every_encoding(&name);
                assert!(
                    cov.functions >= 2 && cov.expired_keys == 1 && cov.pel_entries > 0,
                    "{name}: {cov:?}"
                );
                assert!(cov.dbs.len() >= 2, "{name}: {cov:?}");
            }
            "strings" => {
                for enc in ["int", "string", "lzf"] {
                    assert!(cov.has("string", enc), "{name}: no {enc} string");
                }
            }
            "streams" => assert!(
                cov.streams_with_groups > 0 && cov.pel_entries > 0,
                "{name}: {cov:?}"
            ),
            "function" => assert!(cov.functions == 2 && cov.keys == 0, "{name}: {cov:?}"),
            "multidb-expiry" => {
                assert!(
                    cov.expired_keys == 1 && cov.with_expiry > 3 && cov.dbs.len() == 4,
                    "{name}: {cov:?}"
                )
            }
            _ => {}
        }
        eprintln!("{name}: {} keys match redis-server", cov.keys);
    }
}
