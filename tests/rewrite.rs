//! `redkit rewrite` (an offline BGREWRITEAOF) checked by redis-server 7.0: a server with
//! `appendonly yes` runs a mixed workload, rewrites, runs more (so its appendonlydir holds a base
//! and an incr file of every kind of command); redkit rewrites that directory, a fresh
//! redis-server starts from redkit's directory, and it must hold what a server started from the
//! original directory holds ([`assert_same_server`], shared with tests/convert.rs, says what is
//! compared and what is not). A rewrite with a RESP base is held to what Redis's own rewrite of
//! the same data keeps ([`redis_own_aof_rewrite`]); one with an RDB preamble to everything.
//! The rewrite of a rewrite (same `--now`) must be byte-identical, file by file.

mod common;

use std::path::Path;

use common::*;

use common::same_server::*;

/// The `--now` of every rewrite in this process: the real time (plus a minute) when first
/// asked, so times in the data (XCLAIM ... TIME, taken from the server's clock) are not in the
/// future of the replay's clock (a server clamps such times to its now), yet fixed for both
/// rewrites that must be byte-identical.
fn now_arg() -> &'static str {
    static NOW: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NOW.get_or_init(|| {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        (ms + 60_000).to_string()
    })
}

/// `redkit rewrite INPUT -o OUT --now NOW EXTRA...`; returns the report.
fn rewrite(input: &Path, out: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        os("rewrite"),
        input.as_os_str(),
        os("-o"),
        out.as_os_str(),
        os("--now"),
        os(now_arg()),
    ];
    args.extend(extra.iter().map(|s| os(s)));
    redkit_ok(&args)
}

/// Panics unless the two directories hold the same files with the same bytes.
fn assert_same_files(a: &Path, b: &Path) {
    let fa = dir_files(a);
    let fb = dir_files(b);
    assert_eq!(
        fa.keys().collect::<Vec<_>>(),
        fb.keys().collect::<Vec<_>>(),
        "file names of {} and {}",
        a.display(),
        b.display()
    );
    for (name, bytes) in &fa {
        assert_same_bytes(
            &format!("{name} in {} and {}", a.display(), b.display()),
            bytes,
            &fb[name],
        );
    }
}

/// Panics with the first differing bytes (and some context) unless `x == y`.
fn assert_same_bytes(what: &str, x: &[u8], y: &[u8]) {
    if x == y {
        return;
    }
    let i = x
        .iter()
        .zip(y)
        .position(|(p, q)| p != q)
        .unwrap_or(x.len().min(y.len()));
    let from = i.saturating_sub(40);
    panic!(
        "{what}: {} vs {} bytes, first difference at byte {i}:\n  a: {}\n  b: {}",
        x.len(),
        y.len(),
        show_bytes(&x[from..x.len().min(i + 80)]),
        show_bytes(&y[from..y.len().min(i + 80)])
    );
}

/// The manifest's base file name and kind.
fn base_of(dir: &Path) -> String {
    let m = std::fs::read_to_string(dir.join("appendonly.aof.manifest"))
        .unwrap_or_else(|e| panic!("{}: no manifest: {e}", dir.display()));
    m.lines()
        .find(|l| l.ends_with("type b"))
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or_else(|| panic!("no base in manifest:\n{m}"))
        .to_string()
}

fn multi_part_rewrite(source_preamble: bool, seed: u64) {
    let src = aof_server(source_preamble, seed);
    let dir = src.dir.join("appendonlydir");
    assert_eq!(files_ending(&dir, ".incr.aof").len(), 1);
    let mut a = server_from_aof_dir(&dir);
    let tmp = TempDir::new("rewrite-mp");

    // RDB preamble: exact.
    let pre = tmp.path().join("pre");
    let report = rewrite(&dir, &pre, &["--preamble"]);
    assert!(report.contains("wrote"), "{report}");
    assert!(base_of(&pre).ends_with(".base.rdb"), "{}", base_of(&pre));
    assert_check_aof_valid(&pre.join("appendonly.aof.manifest"));
    let mut b = server_from_aof_dir(&pre);
    let st = assert_same_server(&mut a, &mut b, "rewrite --preamble");
    assert!(
        st.keys() > 20 && st.libraries == 1,
        "too little data: {} keys, {} libraries",
        st.keys(),
        st.libraries
    );
    assert!(
        st.dbs
            .values()
            .flat_map(|d| d.values())
            .any(|k| k.ty == "stream"
                && k.stream
                    .as_deref()
                    .is_some_and(|s| s.contains("pending=[["))),
        "no stream with a PEL in the workload"
    );
    drop(b);

    // RESP base: as faithful as Redis's own rewrite.
    let resp = tmp.path().join("resp");
    rewrite(&dir, &resp, &[]);
    assert!(base_of(&resp).ends_with(".base.aof"), "{}", base_of(&resp));
    assert_check_aof_valid(&resp.join("appendonly.aof.manifest"));
    let mut b = server_from_aof_dir(&resp);
    let mut c = redis_own_aof_rewrite(&mut a);
    assert_same_server_with(&mut c, &mut b, "rewrite (RESP base)", COMMANDS);
    drop(b);

    // Deterministic, and the rewrite of a rewrite changes nothing.
    for (first, extra) in [(&pre, &["--preamble"][..]), (&resp, &[][..])] {
        let again = tmp.path().join(format!(
            "{}-again",
            first.file_name().unwrap().to_string_lossy()
        ));
        rewrite(&dir, &again, extra);
        assert_same_files(first, &again);
        let twice = tmp.path().join(format!(
            "{}-twice",
            first.file_name().unwrap().to_string_lossy()
        ));
        rewrite(first, &twice, extra);
        assert_same_files(first, &twice);
    }
}

#[test]
fn rewrite_of_a_multi_part_dir_with_resp_base_loads_the_same_and_is_a_fixpoint() {
    multi_part_rewrite(false, 41);
}

#[test]
fn rewrite_of_a_multi_part_dir_with_rdb_base_loads_the_same_and_is_a_fixpoint() {
    multi_part_rewrite(true, 42);
}

/// Put one AOF file in an appendonlydir of its own (base, empty incr, manifest) and start a
/// server on it.
fn server_from_single_file(file: &Path, tmp: &TempDir, name: &str) -> RedisServer {
    let dir = tmp.path().join(format!("{name}.dir"));
    std::fs::create_dir(&dir).unwrap();
    let rdb = std::fs::read(file).unwrap().starts_with(b"REDIS");
    let base = if rdb {
        "appendonly.aof.1.base.rdb"
    } else {
        "appendonly.aof.1.base.aof"
    };
    std::fs::copy(file, dir.join(base)).unwrap();
    std::fs::write(dir.join("appendonly.aof.1.incr.aof"), b"").unwrap();
    std::fs::write(
        dir.join("appendonly.aof.manifest"),
        format!("file {base} seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"),
    )
    .unwrap();
    server_from_aof_dir(&dir)
}

#[test]
fn rewrite_of_single_files_and_single_file_output() {
    let tmp = TempDir::new("rewrite-single");
    // A plain AOF: the incr file of a fresh server (its base is empty).
    let mut src = RedisServer::start(&[("appendonly", "yes"), ("aof-use-rdb-preamble", "no")]);
    workload(&mut src, 43, 1500);
    let dir = src.dir.join("appendonlydir");
    let incr = files_ending(&dir, ".incr.aof").remove(0);
    let mut a = server_from_aof_dir(&dir);

    let out = tmp.path().join("plain.aof");
    rewrite(&incr, &out, &[]);
    assert_check_aof_valid(&out);
    let mut b = server_from_single_file(&out, &tmp, "plain");
    let mut c = redis_own_aof_rewrite(&mut a);
    let st = assert_same_server_with(&mut c, &mut b, "rewrite of a plain AOF", COMMANDS);
    assert!(st.keys() > 20, "too little data: {} keys", st.keys());
    drop(b);

    // --single-file for a directory input; with --preamble: an RDB, then nothing.
    let out = tmp.path().join("single.aof");
    rewrite(&dir, &out, &["--single-file", "--preamble"]);
    assert!(out.is_file(), "{} is not a file", out.display());
    assert!(std::fs::read(&out).unwrap().starts_with(b"REDIS0010"));
    assert_check_aof_valid(&out);
    let mut b = server_from_single_file(&out, &tmp, "single");
    assert_same_server(
        &mut a,
        &mut b,
        "rewrite --single-file --preamble of a directory",
    );

    // The rewrite of the rewrite is the same file.
    let twice = tmp.path().join("plain-twice.aof");
    let first = tmp.path().join("plain.aof");
    rewrite(&first, &twice, &[]);
    assert_same_bytes(
        "plain.aof vs its rewrite",
        &std::fs::read(&first).unwrap(),
        &std::fs::read(&twice).unwrap(),
    );
}

/// A zset that is a skiplist can hold a -0 score; a listpack cannot (it stores an integral
/// score as an integer). A RESP rewrite must therefore not let a -0 member be added while the
/// rebuilt zset is still a listpack, or the second rewrite writes 0 where the first wrote -0.
#[test]
fn rewrite_keeps_negative_zero_scores_of_big_zsets_and_is_a_fixpoint() {
    let mut src = RedisServer::start(&[("appendonly", "yes"), ("aof-use-rdb-preamble", "no")]);
    let mut cmds = Vec::new();
    let mut c = cmdv!["ZADD", "big"];
    for i in 0..200 {
        c.push(format!("{}", i % 7).into_bytes());
        c.push(format!("m{i}").into_bytes());
    }
    cmds.push(c);
    // Added once the zset is a skiplist: the sign of zero is kept.
    for i in 0..20 {
        cmds.push(cmdv!["ZADD", "big", "-0", format!("z{i}")]);
    }
    src.pipeline_ok(&cmds);
    assert_eq!(src.ok(&["ZSCORE", "big", "z3"]).text(), "-0");
    let dir = src.dir.join("appendonlydir");
    let mut a = server_from_aof_dir(&dir);
    assert_eq!(
        a.ok(&["ZSCORE", "big", "z3"]).text(),
        "-0",
        "redis keeps -0 on replay"
    );

    let tmp = TempDir::new("rewrite-negzero");
    let once = tmp.path().join("once");
    rewrite(&dir, &once, &[]);
    let twice = tmp.path().join("twice");
    rewrite(&once, &twice, &[]);
    let mut b = server_from_aof_dir(&once);
    assert_same_server(&mut a, &mut b, "rewrite of a zset with -0 scores");
    assert_same_files(&once, &twice);
}

#[test]
fn rewrite_until_offset_stops_before_the_command_at_that_offset() {
    let mut aof = Vec::new();
    let mut offsets = Vec::new();
    for (i, k) in ["a", "b", "c"].iter().enumerate() {
        offsets.push(aof.len());
        redkit_formats::resp::encode_command(
            &[b"SET", k.as_bytes(), i.to_string().as_bytes()],
            &mut aof,
        );
    }
    let tmp = TempDir::new("rewrite-pitr");
    let f = tmp.file("x.aof", &aof);
    let out = tmp.path().join("out.aof");
    rewrite(&f, &out, &["--until-offset", &offsets[2].to_string()]);
    let mut want = Vec::new();
    redkit_formats::resp::encode_command(&[b"SELECT", b"0"], &mut want);
    let got = std::fs::read(&out).unwrap();
    assert!(got.starts_with(&want), "{}", show_bytes(&got));
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.contains("\r\na\r\n") && text.contains("\r\nb\r\n") && !text.contains("\r\nc\r\n"),
        "{text:?}"
    );
}
