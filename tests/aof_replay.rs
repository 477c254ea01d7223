//! AOF replay checked against redis-server 7.0: a server with `appendonly yes` runs a mixed
//! workload (every type, expiries, MULTI blocks, several dbs, commands Redis rewrites when it
//! propagates them), a second server starts from a copy of its appendonlydir, and redkit's
//! replay of the same directory must hold exactly the keyspace that second server loaded.

mod common;
mod oracle;

use std::path::{Path, PathBuf};

use common::{Cmd, RedisServer, Rng, TempDir};
use oracle::Pair;
use redkit::cmd::{Executor, Session};
use redkit::keyspace::Keyspace;
use redkit::replay::{replay, ReplayOptions};

/// One random write of any type (the commands redis then writes to its AOF, possibly
/// rewritten: SPOP as SREM, XREADGROUP as XCLAIM, INCRBYFLOAT as SET KEEPTTL, EXPIRE as
/// PEXPIREAT...).
fn write_cmd(rng: &mut Rng, far: i64) -> Cmd {
    let n = rng.below(8);
    let k = |t: &str| format!("{t}:{n}").into_bytes();
    let v = || -> Vec<u8> { format!("v{}", n * 7).into_bytes() };
    let _ = v;
    match rng.below(30) {
        0 => args![b"SET", k("s"), rng.alnum(8)],
        1 => args![
            b"SET",
            k("s"),
            rng.below(1000).to_string(),
            b"PX",
            b"100000000"
        ],
        2 => args![b"INCRBY", k("n"), rng.below(100).to_string()],
        3 => args![b"INCRBYFLOAT", k("f"), b"1.5"],
        4 => args![b"APPEND", k("s"), b"xy"],
        5 => args![b"RPUSH", k("l"), rng.alnum(5), rng.below(100).to_string()],
        6 => args![b"LPOP", k("l")],
        7 => args![b"LPUSH", k("l"), rng.alnum(70)],
        8 => args![b"SADD", k("set"), rng.below(20).to_string(), rng.alnum(3)],
        9 => args![b"SPOP", k("set")],
        10 => args![b"SREM", k("set"), rng.below(20).to_string()],
        11 => args![b"ZADD", k("z"), rng.below(50).to_string(), rng.alnum(4)],
        12 => args![b"ZINCRBY", k("z"), b"2.5", rng.alnum(1)],
        13 => args![b"ZPOPMIN", k("z")],
        14 => args![b"HSET", k("h"), rng.alnum(2), rng.alnum(6)],
        15 => args![b"HINCRBY", k("h"), b"cnt", b"3"],
        16 => args![b"HDEL", k("h"), rng.alnum(2)],
        17 => args![b"XADD", k("x"), b"*", b"f", rng.alnum(4)],
        18 => args![
            b"XADD",
            k("x"),
            b"MAXLEN",
            b"20",
            b"*",
            b"a",
            b"1",
            b"b",
            b"2"
        ],
        19 => args![b"XGROUP", b"CREATE", k("x"), b"g", b"0", b"MKSTREAM"],
        20 => args![
            b"XREADGROUP",
            b"GROUP",
            b"g",
            b"c1",
            b"COUNT",
            b"2",
            b"STREAMS",
            k("x"),
            b">"
        ],
        21 => args![b"EXPIRE", k("s"), b"100000"],
        22 => args![b"PEXPIREAT", k("l"), far.to_string()],
        23 => args![b"DEL", k("s")],
        24 => args![b"PFADD", k("hll"), rng.alnum(3), rng.alnum(3)],
        25 => args![b"SETBIT", k("bits"), rng.below(200).to_string(), b"1"],
        26 => args![b"GETEX", k("s"), b"EX", b"50000"],
        27 => args![b"SELECT", rng.below(3).to_string()],
        28 => args![b"RENAME", k("h"), format!("h:{}", rng.below(8))],
        _ => args![
            b"LMOVE",
            k("l"),
            format!("l:{}", rng.below(8)),
            b"LEFT",
            b"RIGHT"
        ],
    }
}

/// Run the workload on `srv`: batches of writes, some inside MULTI/EXEC.
fn workload(srv: &mut RedisServer, seed: u64, commands: usize) {
    let mut rng = Rng::new(seed);
    let far = srv.now_ms() + 86_400_000 * 365;
    let mut cmds = Vec::new();
    while cmds.len() < commands {
        if rng.chance(1, 10) {
            cmds.push(args![b"MULTI"]);
            for _ in 0..rng.range(1, 5) {
                cmds.push(write_cmd(&mut rng, far));
            }
            cmds.push(args![b"EXEC"]);
        } else {
            cmds.push(write_cmd(&mut rng, far));
        }
    }
    // Errors (WRONGTYPE, a RENAME of a missing key...) are fine: redis does not log them.
    srv.pipeline(&cmds);
}

fn aof_dir(srv: &RedisServer) -> PathBuf {
    srv.dir.join("appendonlydir")
}

/// Replay `dir` with redkit and compare with a fresh redis-server that loaded a copy of it.
fn compare_replay(dir: &Path) -> redkit::replay::ReplayReport {
    let mut ex = Executor::new(Keyspace::default());
    let report = replay(dir, &mut ex, &ReplayOptions::default())
        .unwrap_or_else(|e| panic!("replay of {} failed: {e}", dir.display()));
    let loaded = RedisServer::start_with_aof_dir(dir, &[]);
    let mut pair = Pair {
        redis: loaded,
        ex,
        sess: Session::default(),
        history: Vec::new(),
    };
    pair.compare_keyspace();
    report
}

fn bgrewrite(srv: &mut RedisServer) {
    srv.ok(&["BGREWRITEAOF"]);
    for _ in 0..200 {
        let info = srv.ok(&["INFO", "persistence"]).text();
        if info.contains("aof_rewrite_in_progress:0") && info.contains("aof_rewrite_scheduled:0") {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("BGREWRITEAOF did not finish");
}

fn multi_part(preamble: &str, seed: u64) {
    let mut srv = RedisServer::start(&[
        ("appendonly", "yes"),
        ("appendfsync", "always"),
        ("aof-use-rdb-preamble", preamble),
        ("aof-timestamp-enabled", "yes"),
    ]);
    workload(&mut srv, seed, 1500);
    bgrewrite(&mut srv);
    // The incr file after the rewrite: mixed writes on top of the base.
    workload(&mut srv, seed + 1, 1500);
    let dir = aof_dir(&srv);
    let report = compare_replay(&dir);
    assert_eq!(report.files.len(), 2, "base + incr expected");
    assert!(report.commands > 100, "{report:?}");
    assert_eq!(
        report.files[0].rdb.is_some(),
        preamble == "yes",
        "base file kind: {report:?}"
    );
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

#[test]
fn replay_multi_part_with_resp_base_matches_redis() {
    multi_part("no", 11);
}

#[test]
fn replay_multi_part_with_rdb_base_matches_redis() {
    multi_part("yes", 22);
}

#[test]
fn replay_of_a_single_plain_file_matches_redis() {
    // The incr file alone is a plain AOF (no base): what Redis had from that file only.
    let mut srv = RedisServer::start(&[("appendonly", "yes"), ("appendfsync", "always")]);
    workload(&mut srv, 33, 2000);
    let dir = aof_dir(&srv);
    let incr = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .expect("an incr file");
    let mut ex = Executor::new(Keyspace::default());
    replay(&incr, &mut ex, &ReplayOptions::default()).expect("replay");
    // The base of a fresh server is empty, so the whole dir holds the same keyspace.
    let loaded = RedisServer::start_with_aof_dir(&dir, &[]);
    let mut pair = Pair {
        redis: loaded,
        ex,
        sess: Session::default(),
        history: Vec::new(),
    };
    pair.compare_keyspace();
}

/// A dir whose incr file is then damaged by `edit`.
fn damaged_dir(seed: u64, edit: impl FnOnce(&mut Vec<u8>)) -> (TempDir, PathBuf, PathBuf) {
    let mut srv = RedisServer::start(&[("appendonly", "yes"), ("appendfsync", "always")]);
    workload(&mut srv, seed, 800);
    let tmp = TempDir::new("replay-damaged");
    let dst = tmp.path().join("appendonlydir");
    std::fs::create_dir_all(&dst).unwrap();
    let mut incr = PathBuf::new();
    for e in std::fs::read_dir(aof_dir(&srv)).unwrap() {
        let p = e.unwrap().path();
        let to = dst.join(p.file_name().unwrap());
        std::fs::copy(&p, &to).unwrap();
        if to.to_string_lossy().ends_with(".incr.aof") {
            incr = to;
        }
    }
    let mut bytes = std::fs::read(&incr).unwrap();
    edit(&mut bytes);
    std::fs::write(&incr, &bytes).unwrap();
    (tmp, dst, incr)
}

#[test]
fn truncated_last_command_is_dropped_like_aof_load_truncated() {
    let (_tmp, dir, incr) = damaged_dir(44, |b| {
        let n = b.len();
        b.truncate(n - 7);
    });
    let report = compare_replay(&dir);
    // The cut may fall inside a MULTI block: then the open transaction is reported too.
    assert!(
        report.warnings.iter().any(
            |w| w.contains("truncated last command") && w.contains(&incr.display().to_string())
        ),
        "{:?}",
        report.warnings
    );
}

#[test]
fn unterminated_multi_at_the_end_is_reverted() {
    let (_tmp, dir, _incr) = damaged_dir(55, |b| {
        b.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$6\r\nmulti1\r\n$1\r\n1\r\n");
    });
    let report = compare_replay(&dir);
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("MULTI without EXEC")),
        "{:?}",
        report.warnings
    );
}

#[test]
fn unknown_and_failing_commands_are_errors_with_offset_or_skipped() {
    let bytes = b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$6\r\nNOSUCH\r\n$1\r\na\r\n*2\r\n$5\r\nLPUSH\r\n$1\r\na\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n";
    let tmp = TempDir::new("replay-bad");
    let f = tmp.file("bad.aof", bytes);
    let mut ex = Executor::new(Keyspace::default());
    let err = replay(&f, &mut ex, &ReplayOptions::default())
        .expect_err("unknown command must fail")
        .to_string();
    assert!(
        err.contains("[offset 27] (line 8)") && err.contains("unknown command 'NOSUCH'"),
        "{err}"
    );
    // Skipping: the unknown command and the arity error of LPUSH are counted, the rest runs.
    let mut ex = Executor::new(Keyspace::default());
    let report = replay(
        &f,
        &mut ex,
        &ReplayOptions {
            skip_errors: true,
            ..Default::default()
        },
    )
    .expect("replay");
    assert_eq!(report.skipped_errors, 2, "{:?}", report.warnings);
    assert_eq!(ex.ks.dbs[0].len(), 2);
}

#[test]
fn lua_scripts_in_old_aofs_are_reported_not_guessed() {
    let bytes = b"*3\r\n$4\r\nEVAL\r\n$8\r\nreturn 1\r\n$1\r\n0\r\n";
    let tmp = TempDir::new("replay-eval");
    let f = tmp.file("old.aof", bytes);
    let mut ex = Executor::new(Keyspace::default());
    let err = replay(&f, &mut ex, &ReplayOptions::default())
        .expect_err("EVAL cannot be replayed")
        .to_string();
    assert!(
        err.contains(
            "[offset 0] (line 1) EVAL cannot be replayed: redkit does not run Lua scripts"
        ),
        "{err}"
    );
}

/// The RDB loader (used for preambles and `stats --keyspace`) against redis-server loading the
/// same dump: a dump of the mixed workload, then every bundled sample (all types and encodings).
#[test]
fn rdb_load_into_the_keyspace_matches_redis() {
    let mut srv = RedisServer::start(&[]);
    workload(&mut srv, 66, 3000);
    let mut rdbs = vec![srv.save()];
    for e in std::fs::read_dir(common::samples_dir()).expect("samples dir") {
        let p = e.expect("dir entry").path();
        if p.extension().is_some_and(|x| x == "rdb") {
            rdbs.push(p);
        }
    }
    assert!(rdbs.len() > 2, "no samples found");
    for rdb in rdbs {
        let data = std::fs::read(&rdb).unwrap();
        let mut ks = Keyspace::default();
        let report = redkit::keyspace::load::load_rdb(&data, &mut ks, &Default::default())
            .unwrap_or_else(|e| panic!("{}: {e}", rdb.display()));
        assert_eq!(report.end, data.len(), "{}", rdb.display());
        let mut pair = Pair {
            redis: RedisServer::start_with_rdb(&rdb, &[]),
            ex: Executor::new(ks),
            sess: Session::default(),
            history: Vec::new(),
        };
        pair.compare_keyspace();
    }
}

/// `redkit json` of an appendonlydir (replayed) says the same as `redkit json` of a dump of the
/// same data; only the encoding names (on-disk vs in-memory) and the key order differ.
#[test]
fn json_of_an_aof_matches_json_of_an_rdb_of_the_same_data() {
    let mut srv = RedisServer::start(&[("appendonly", "yes"), ("appendfsync", "always")]);
    workload(&mut srv, 77, 2000);
    let rdb = srv.save();
    let canon = |path: &Path| -> Vec<String> {
        let run = common::redkit_run([std::ffi::OsStr::new("json"), path.as_os_str()]);
        assert_eq!(run.code, 0, "{}: {}", run.shown, run.stderr);
        let mut lines: Vec<String> = String::from_utf8(run.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                let o = v.as_object_mut().unwrap();
                o.remove("encoding");
                // Redis itself does not carry these through an AOF: a consumer's seen time is
                // the load time, and XCLAIM ... LASTID (how XREADGROUP is logged) leaves a
                // group's read counter unknown. The keyspace tests compare XINFO GROUPS with a
                // server that loaded the same AOF.
                if o["type"] == "stream" {
                    for g in o["value"]["groups"].as_array_mut().into_iter().flatten() {
                        g["entries_read"] = serde_json::Value::Null;
                        for c in g["consumers"].as_array_mut().into_iter().flatten() {
                            c["seen_time_ms"] = serde_json::Value::Null;
                        }
                    }
                }
                if o["type"] == "set" {
                    if let Some(a) = o.get_mut("value").and_then(|x| x.as_array_mut()) {
                        a.sort_by_key(|x| x.to_string());
                    }
                }
                v.to_string()
            })
            .collect();
        lines.sort();
        lines
    };
    let from_rdb = canon(&rdb);
    let from_aof = canon(&aof_dir(&srv));
    assert!(from_rdb.len() > 20, "{from_rdb:?}");
    let only_rdb: Vec<&String> = from_rdb.iter().filter(|l| !from_aof.contains(l)).collect();
    let only_aof: Vec<&String> = from_aof.iter().filter(|l| !from_rdb.contains(l)).collect();
    assert!(
        only_rdb.is_empty() && only_aof.is_empty(),
        "only in the RDB's json: {only_rdb:#?}\nonly in the AOF's json: {only_aof:#?}"
    );
}
