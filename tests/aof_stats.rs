//! `redkit stats` on AOF inputs (the library's `tools::aof_stats::run`): files from the corpus,
//! and the multi-part AOF a live redis-server 7.0 writes.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{corpus_dir, corpus_file, RedisServer};
use redkit::tools::aof_stats::{self, AofStats};

fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    redkit_formats::resp::encode_command(args, &mut out);
    out
}

/// name -> (commands, bytes, argc), from the stats.
fn names(st: &AofStats) -> BTreeMap<String, (u64, u64, u64)> {
    st.by_name
        .iter()
        .map(|n| {
            (
                String::from_utf8_lossy(&n.name).into_owned(),
                (n.commands, n.bytes, n.argc),
            )
        })
        .collect()
}

#[test]
fn rdb_preamble_file() {
    let p = corpus_file("valkey/tests/assets/rdb-preamble.aof");
    let st = aof_stats::run(&p, 10).unwrap();
    assert!(st.warnings.is_empty(), "{:?}", st.warnings);
    assert!(!st.damaged);
    assert_eq!(st.files.len(), 1);
    let f = &st.files[0];
    assert_eq!((f.role, f.format, f.size), ("aof", "rdb+resp", 169));
    // The RESP tail is `SELECT 0` and `set k3 v3`, 52 bytes.
    let tail = [encode(&[b"SELECT", b"0"]), encode(&[b"set", b"k3", b"v3"])];
    let tail_len: usize = tail.iter().map(Vec::len).sum();
    assert_eq!(f.resp_offset, 169 - tail_len as u64);
    assert_eq!(f.resp_bytes, tail_len as u64);
    let rdb = f.rdb.as_ref().unwrap();
    assert_eq!(rdb.version, "REDIS0010", "{rdb:?}");
    assert_eq!(rdb.bytes, f.resp_offset);
    assert_eq!((rdb.keys, rdb.expires), (2, 0));
    assert_eq!(rdb.dbs.get(&0), Some(&(2, 0)));
    let want: BTreeMap<String, (u64, u64, u64)> = [
        ("select".to_string(), (1, tail[0].len() as u64, 2)),
        ("set".to_string(), (1, tail[1].len() as u64, 3)),
    ]
    .into_iter()
    .collect();
    assert_eq!(names(&st), want);
    assert_eq!(st.by_db.len(), 1);
    assert_eq!(st.by_db[&0].commands, 2);
    let text = st.render_text();
    assert!(text.contains("RDB preamble of"), "{text}");
}

#[test]
fn multi_part_with_lf_line_endings_is_damaged() {
    // RedisShake's test AOF: an RDB base, and an incr file whose line endings were converted
    // to LF, which Redis cannot load.
    let dir = corpus_dir().join("RedisShake/test/aof_test/appendonlydir");
    let st = aof_stats::run(&dir, 10).unwrap();
    assert_eq!(st.files.len(), 2);
    let (base, incr) = (&st.files[0], &st.files[1]);
    assert_eq!((base.role, base.format), ("base", "rdb"));
    assert!(!base.damaged);
    let rdb = base.rdb.as_ref().unwrap();
    assert_eq!(rdb.bytes, base.size);
    assert!(rdb.keys > 0, "{rdb:?}");
    assert_eq!(rdb.keys, rdb.dbs.values().map(|(k, _)| k).sum::<u64>());
    assert_eq!((incr.role, incr.format), ("incr", "resp"));
    assert!(incr.damaged);
    assert_eq!((incr.commands, incr.resp_bytes), (0, 0));
    assert!(st.damaged);
    assert_eq!(st.commands, 0);
    assert_eq!(st.warnings.len(), 1, "{:?}", st.warnings);
    let w = &st.warnings[0];
    // `*2\n`: the byte after the count must be CR.
    assert!(
        w.contains("appendonly.aof.2.incr.aof") && w.contains("[offset 2] (line 1)"),
        "{w}"
    );
    assert!(w.contains("redkit check-aof"), "{w}");
    let text = st.render_text();
    assert!(text.contains("damaged"), "{text}");
    let j = st.to_json();
    assert_eq!(j["damaged"], true);
    assert_eq!(j["files"][1]["damaged"], true);
}

/// Send a command; panics on an error reply.
fn send(srv: &mut RedisServer, args: &[&str]) {
    let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
    let r = srv.cmd(&a);
    assert!(!r.is_error(), "{args:?}: {r:?}");
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn live_server_aof() {
    let mut srv = RedisServer::start(&[
        ("appendonly", "yes"),
        ("appendfsync", "always"),
        ("aof-timestamp-enabled", "yes"),
    ]);
    let t0 = unix_now();
    // What the client sends, and what Redis appends for it: (db the AOF is in, argv).
    let mut expected: Vec<(u64, Vec<&[u8]>)> = Vec::new();
    expected.push((0, vec![b"SELECT", b"0"]));
    for c in [
        &["SET", "a", "1"][..],
        &["SET", "b", "2"],
        &["RPUSH", "l", "x", "y", "z"],
        &["INCR", "n"],
    ] {
        send(&mut srv, c);
        expected.push((0, c.iter().map(|s| s.as_bytes()).collect()));
    }
    send(&mut srv, &["GET", "a"]); // read-only: not in the AOF
    send(&mut srv, &["MULTI"]);
    send(&mut srv, &["SET", "c", "3"]);
    send(&mut srv, &["INCR", "n"]);
    send(&mut srv, &["EXEC"]);
    for c in [
        &["MULTI"][..],
        &["SET", "c", "3"],
        &["INCR", "n"],
        &["EXEC"],
    ] {
        expected.push((0, c.iter().map(|s| s.as_bytes()).collect()));
    }
    // Another second, so there are at least two #TS stamps.
    std::thread::sleep(Duration::from_millis(1100));
    send(&mut srv, &["SELECT", "1"]);
    // Redis writes the SELECT before the first write in db 1; it counts under db 0.
    expected.push((0, vec![b"SELECT", b"1"]));
    for c in [
        &["SET", "a", "1"][..],
        &["HSET", "h", "f", "v"],
        &["SADD", "s", "m1", "m2"],
        &["DEL", "a"],
    ] {
        send(&mut srv, c);
        expected.push((1, c.iter().map(|s| s.as_bytes()).collect()));
    }
    send(&mut srv, &["MULTI"]);
    send(&mut srv, &["SET", "x", "1"]);
    send(&mut srv, &["SET", "y", "2"]);
    send(&mut srv, &["EXEC"]);
    for c in [
        &["MULTI"][..],
        &["SET", "x", "1"],
        &["SET", "y", "2"],
        &["EXEC"],
    ] {
        expected.push((1, c.iter().map(|s| s.as_bytes()).collect()));
    }
    send(&mut srv, &["SELECT", "0"]);
    expected.push((1, vec![b"SELECT", b"0"]));
    send(&mut srv, &["DEL", "b"]);
    expected.push((0, vec![b"DEL", b"b"]));
    let t1 = unix_now();

    let dir = srv.dir.join("appendonlydir");
    let st = aof_stats::run(&dir, 100).unwrap();
    assert!(st.warnings.is_empty(), "{:?}", st.warnings);
    assert!(!st.damaged);
    assert_eq!(st.truncated_tail, None);

    // Files: an RDB base written at startup (no keys), then the incr file with everything.
    assert_eq!(st.files.len(), 2, "{:?}", st.files);
    let (base, incr) = (&st.files[0], &st.files[1]);
    assert_eq!((base.role, base.format), ("base", "rdb"));
    let rdb = base.rdb.as_ref().unwrap();
    assert!(rdb.version.starts_with("REDIS"), "{rdb:?}");
    assert_eq!((rdb.keys, rdb.bytes), (0, base.size));
    assert_eq!((incr.role, incr.format), ("incr", "resp"));
    assert_eq!(incr.resp_bytes, incr.size);

    // Exact counts by name and by db.
    let mut want_names: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    let mut want_dbs: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for (db, args) in &expected {
        let bytes = encode(args).len() as u64;
        let e = want_names
            .entry(String::from_utf8_lossy(args[0]).to_lowercase())
            .or_default();
        e.0 += 1;
        e.1 += bytes;
        e.2 += args.len() as u64;
        let d = want_dbs.entry(*db).or_default();
        d.0 += 1;
        d.1 += bytes;
    }
    assert_eq!(names(&st), want_names);
    let got_dbs: BTreeMap<u64, (u64, u64)> = st
        .by_db
        .iter()
        .map(|(db, d)| (*db, (d.commands, d.bytes)))
        .collect();
    assert_eq!(got_dbs, want_dbs);
    assert_eq!(want_dbs[&0].0, 11);
    assert_eq!(want_dbs[&1].0, 9);
    assert_eq!(st.commands, expected.len() as u64);
    assert_eq!((st.multi_blocks, st.commands_in_multi), (2, 4));
    assert_eq!(st.invalid_selects, 0);

    // Annotations: only #TS stamps, at least two, inside the test's wall time, and the bytes
    // of the incr file are the commands plus the stamps.
    assert!(st.ts_annotations >= 2, "{st:?}");
    assert_eq!(st.annotations, st.ts_annotations);
    assert_eq!(st.other_annotations + st.invalid_ts + st.ts_backwards, 0);
    let (first, last) = (st.first_ts.unwrap(), st.last_ts.unwrap());
    assert!(
        first >= t0.floor() as i64 && first < last && last <= t1.ceil() as i64,
        "#TS {first}..{last} outside the test's wall time {t0}..{t1}"
    );
    let cmd_bytes: u64 = want_names.values().map(|v| v.1).sum();
    assert!(incr.resp_bytes > cmd_bytes);

    let text = st.render_text();
    for needle in [
        "commands by name (9 of 9)",
        "commands by db",
        "2 MULTI/EXEC block(s), 4 command(s) inside",
        &aof_stats::iso8601_utc(first),
        "stats --replay",
    ] {
        assert!(text.contains(needle), "no {needle:?} in:\n{text}");
    }
    let j = st.to_json();
    assert_eq!(j["by_db"]["1"]["commands"], 9);
    assert_eq!(j["annotations"]["first_ts"]["unix"], first);
    assert_eq!(j["transactions"]["multi_exec_blocks"], 2);
}
