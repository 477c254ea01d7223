//! `tools::rdb_salvage` against real dumps.
//!
//! A private redis-server 7.0 is filled with keys of every type (with and without expiries, in
//! two dbs) and SAVEs. The dump is then damaged in several ways (garbage over part of a value,
//! bytes deleted, a range across records deleted, a zeroed block, inserted garbage, truncation,
//! a wrong checksum, damage in a preamble AOF). For each, the salvaged RDB must pass
//! `redis-check-rdb`, load into a fresh redis-server, and hold exactly the keys whose records
//! the damage did not touch, each with its original value (DEBUG DIGEST-VALUE) and expiry (and,
//! as documented, string records with binary keys right after the damage may be lost too: a
//! resync starts on one only right after a damaged record that still framed).
//!
//! Also: every RDB of the corpus that `redkit check-rdb` accepts salvages clean, byte for byte.

mod common;

use common::*;
use redkit::tools::rdb_salvage::{salvage, Salvage};
use redkit_formats::rdb::read::{parse_header, Item, Parser, HEADER_LEN};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

const DBS: [u64; 2] = [0, 3];
/// 2100-01-01 in ms: these expiries never fire during a test.
const FAR_FUTURE_MS: u64 = 4_102_444_800_000;

type Key = (u64, Vec<u8>);
/// (TYPE, DEBUG DIGEST-VALUE, PEXPIRETIME) per key.
type Snapshot = BTreeMap<Key, (String, Vec<u8>, i64)>;

/// One key record of the original dump.
#[derive(Debug, Clone)]
struct Rec {
    start: usize,
    /// The type byte, after any expiry / LRU / LFU prefixes.
    body: usize,
    end: usize,
    value_offset: usize,
    key: Key,
    rdb_type: u8,
}

struct Dump {
    bytes: Vec<u8>,
    recs: Vec<Rec>,
    snapshot: Snapshot,
}

/// Fill a server with a few hundred keys of every type and SAVE.
fn make_dump() -> Dump {
    check_tool("redis-check-rdb");
    let mut srv = RedisServer::start(&[]);
    let mut rng = Rng::new(7);
    for (dbi, &db) in DBS.iter().enumerate() {
        let mut cmds: Vec<Cmd> = vec![cmdv!["SELECT", db.to_string()]];
        let per_type = if dbi == 0 { 50 } else { 25 };
        for i in 0..per_type {
            let tag = format!("{db}:{i}");
            let big = i % 5 == 0;
            let n = if big { 200 } else { 3 + rng.below(10) as usize };
            // Strings: short text, integers, long compressible text, binary.
            cmds.push(cmdv!["SET", format!("str:{tag}"), rng.alnum(12)]);
            cmds.push(cmdv![
                "SET",
                format!("int:{tag}"),
                (i * 1000 + 7).to_string()
            ]);
            cmds.push(cmdv!["SET", format!("long:{tag}"), "abcdefgh".repeat(40)]);
            let mut bin = vec![0xff, 0x00, b'\n'];
            bin.extend(rng.bytes(20));
            cmds.push(cmdv!["SET", [b"bin:".to_vec(), bin.clone()].concat(), bin]);
            let list: Vec<Vec<u8>> = (0..n).map(|_| rng.alnum(8)).collect();
            let mut c = cmdv!["RPUSH", format!("list:{tag}")];
            c.extend(list);
            cmds.push(c);
            let mut c = cmdv!["SADD", format!("iset:{tag}")];
            c.extend((0..n).map(|j| (j as u64 * 3 + rng.below(3)).to_string().into_bytes()));
            cmds.push(c);
            let mut c = cmdv!["SADD", format!("set:{tag}")];
            c.extend((0..n).map(|j| format!("m{j}-{}", rng.below(1000)).into_bytes()));
            cmds.push(c);
            let mut c = cmdv!["ZADD", format!("zset:{tag}")];
            for j in 0..n {
                c.push(format!("{}.5", rng.below(100)).into_bytes());
                c.push(format!("member{j}").into_bytes());
            }
            cmds.push(c);
            let mut c = cmdv!["HSET", format!("hash:{tag}")];
            for j in 0..n {
                c.push(format!("field{j}").into_bytes());
                c.push(rng.alnum(6));
            }
            cmds.push(c);
            let skey = format!("stream:{tag}");
            for j in 0..(n.min(30)) {
                cmds.push(cmdv![
                    "XADD",
                    skey.as_str(),
                    format!("{}-{}", 1_700_000_000_000u64 + i as u64, j + 1),
                    "f",
                    rng.alnum(5),
                    "g",
                    j.to_string()
                ]);
            }
            if i % 2 == 0 {
                cmds.push(cmdv!["XGROUP", "CREATE", skey.as_str(), "grp", "0"]);
                cmds.push(cmdv![
                    "XREADGROUP",
                    "GROUP",
                    "grp",
                    "alice",
                    "COUNT",
                    "2",
                    "STREAMS",
                    skey.as_str(),
                    ">"
                ]);
            }
            // Every third key of a kind expires (far in the future).
            if i % 3 == 0 {
                for k in ["str", "list", "zset", "hash", "stream"] {
                    cmds.push(cmdv![
                        "PEXPIREAT",
                        format!("{k}:{tag}"),
                        (FAR_FUTURE_MS + i as u64).to_string()
                    ]);
                }
            }
        }
        srv.pipeline_ok(&cmds);
    }
    let snapshot = snapshot(&mut srv);
    let bytes = std::fs::read(srv.save()).unwrap();
    let recs = frame(&bytes);
    assert_eq!(recs.len(), snapshot.len(), "records in the dump vs keys");
    Dump {
        bytes,
        recs,
        snapshot,
    }
}

/// Every key record of an RDB, with where it lies.
fn frame(bytes: &[u8]) -> Vec<Rec> {
    let mut p = Parser::new(parse_header(bytes).unwrap());
    let mut pos = HEADER_LEN;
    let mut recs = Vec::new();
    loop {
        let f = p.next(bytes, pos, 0).unwrap();
        match f.item {
            Item::Key(r) => recs.push(Rec {
                start: f.start as usize,
                body: r.key_offset as usize - 1,
                end: f.end,
                value_offset: r.value_offset as usize,
                key: (r.db, r.key.to_vec(0).unwrap()),
                rdb_type: r.rdb_type,
            }),
            Item::Eof => return recs,
            _ => {}
        }
        pos = f.end;
    }
}

/// Every key of every db with its type, digest and expiry.
fn snapshot(srv: &mut RedisServer) -> Snapshot {
    let mut out = Snapshot::new();
    for db in 0..16u64 {
        srv.ok(&["SELECT", &db.to_string()]);
        let mut cursor = b"0".to_vec();
        let mut keys = Vec::new();
        loop {
            let r = srv.cmd(&[b"SCAN", &cursor, b"COUNT", b"1000"]);
            let a = r.array();
            cursor = a[0].bulk().to_vec();
            keys.extend(a[1].bulks());
            if cursor == b"0" {
                break;
            }
        }
        for k in keys {
            let t = srv.cmd(&[b"TYPE", &k]).text();
            let d = match srv.cmd(&[b"DEBUG", b"DIGEST-VALUE", &k]) {
                Reply::Array(Some(a)) => a[0].bulk().to_vec(),
                other => other.bulk().to_vec(),
            };
            let e = srv.cmd(&[b"PEXPIRETIME", &k]).int();
            out.insert((db, k), (t, d, e));
        }
    }
    srv.ok(&["SELECT", "0"]);
    out
}

/// Salvage `damaged`, check the output with redis-check-rdb and a real server, and compare
/// with the original: exactly the keys of `expect_lost` are gone, everything else is intact.
fn check(name: &str, dump: &Dump, damaged: &[u8], expect_lost: &BTreeSet<Key>) -> Salvage {
    check_tolerant(name, dump, damaged, expect_lost, &BTreeSet::new())
}

/// [`check`], where the keys of `tolerate` may be lost or kept with any value (records whose
/// header is intact but whose unchecked data was damaged: only the checksum tells).
fn check_tolerant(
    name: &str,
    dump: &Dump,
    damaged: &[u8],
    expect_lost: &BTreeSet<Key>,
    tolerate: &BTreeSet<Key>,
) -> Salvage {
    let s = salvage(damaged).unwrap_or_else(|e| panic!("{name}: {e}"));
    let dir = TempDir::new("salvage");
    let path = dir.file("salvaged.rdb", &s.rdb);
    let out = Command::new("redis-check-rdb")
        .arg(&path)
        .output()
        .expect("run redis-check-rdb");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && text.contains("RDB looks OK"),
        "{name}: redis-check-rdb refuses the output:\n{text}\nlost: {:#?}",
        s.lost
    );
    let mut srv = RedisServer::start_with_rdb(&path, &[]);
    let got = snapshot(&mut srv);
    let mut errs = Vec::new();
    let mut strangers = 0;
    for (k, v) in &got {
        match dump.snapshot.get(k) {
            _ if tolerate.contains(k) => {}
            None if strangers < tolerate.len() => strangers += 1,
            None => errs.push(format!("{name}: key {k:?} is not in the original")),
            Some(orig) if orig != v => {
                errs.push(format!("{name}: key {k:?} differs: {v:?} vs {orig:?}"))
            }
            _ => {}
        }
    }
    let missing: BTreeSet<Key> = dump
        .snapshot
        .keys()
        .filter(|k| !got.contains_key(*k) && !tolerate.contains(*k))
        .cloned()
        .collect();
    // The binary-keyed strings right after the damage that `overlapping` adds come back when
    // the damaged record before them still framed (its end is then a trusted resync point).
    let binary_string = |k: &Key| {
        dump.recs.iter().any(|r| {
            &r.key == k
                && r.rdb_type == 0
                && std::str::from_utf8(&k.1).map_or(true, |t| t.chars().any(char::is_control))
        })
    };
    let expect_lost: &BTreeSet<Key> = &expect_lost
        .difference(tolerate)
        .filter(|k| !(got.contains_key(*k) && binary_string(k)))
        .cloned()
        .collect();
    if &missing != expect_lost {
        errs.push(format!(
            "{name}: lost {} keys, expected {}: extra {:?}, kept {:?}",
            missing.len(),
            expect_lost.len(),
            missing.difference(expect_lost).take(5).collect::<Vec<_>>(),
            expect_lost.difference(&missing).take(5).collect::<Vec<_>>(),
        ));
    }
    // A reported key is the damaged record's, or junk read where damage broke the framing;
    // never a key that came through intact.
    for l in &s.lost {
        if let (Some(k), Some(db)) = (&l.key, l.db) {
            if got.contains_key(&(db, k.clone())) && !tolerate.contains(&(db, k.clone())) {
                errs.push(format!("{name}: reported key {k:?} (db {db}) was kept"));
            }
        }
    }
    if s.kept_keys != got.len() as u64 && tolerate.is_empty() {
        errs.push(format!(
            "{name}: kept_keys {} but the server loaded {}",
            s.kept_keys,
            got.len()
        ));
    }
    assert!(errs.is_empty(), "{}\nlost: {:#?}", errs.join("\n"), s.lost);
    s
}

/// Keys whose records overlap [a, b) of the original, plus the documented extra: string
/// records with binary keys right after the damage (taken as the resync point only right after
/// a damaged record that framed; `check_tolerant` accepts them back).
fn overlapping(dump: &Dump, a: usize, b: usize) -> BTreeSet<Key> {
    let mut lost: BTreeSet<Key> = dump
        .recs
        .iter()
        .filter(|r| r.start < b && r.end > a)
        .map(|r| r.key.clone())
        .collect();
    let binary =
        |k: &[u8]| std::str::from_utf8(k).map_or(true, |t| t.chars().any(char::is_control));
    for r in dump.recs.iter().filter(|r| r.start >= b) {
        if r.rdb_type != 0 || !binary(&r.key.1) {
            break;
        }
        lost.insert(r.key.clone());
    }
    lost
}

/// Records whose key prefixes (expiry, LRU, LFU) overlap [a, b) but whose type byte lies
/// after it: they may come back without their TTL (documented), or be lost.
fn prefix_only(dump: &Dump, a: usize, b: usize) -> BTreeSet<Key> {
    dump.recs
        .iter()
        .filter(|r| r.start < b && r.body >= b && r.end > a)
        .map(|r| r.key.clone())
        .collect()
}

/// The range of bytes where `d` differs from `orig` (same length).
fn changed(orig: &[u8], d: &[u8]) -> (usize, usize) {
    let a = orig.iter().zip(d).position(|(x, y)| x != y).unwrap();
    let b = orig.len()
        - orig
            .iter()
            .rev()
            .zip(d.iter().rev())
            .position(|(x, y)| x != y)
            .unwrap();
    (a, b)
}

/// Listpack-based value types (hash, zset, list): their entry lengths, back-lengths and
/// terminator make any cut or overwrite detectable. (An intset cut short can read on into a
/// few foreign bytes that happen to sort; a stream's counters after its listpacks are plain
/// numbers.)
const LISTPACK_TYPES: [u8; 3] = [16, 17, 18];

/// A record of db `db` near the middle of its db, with a listpack-based value of at least
/// `min_len` bytes.
fn pick(dump: &Dump, db: u64, min_len: usize, nth: usize) -> Rec {
    let of_db: Vec<&Rec> = dump.recs.iter().filter(|r| r.key.0 == db).collect();
    of_db[of_db.len() / 2..]
        .iter()
        .filter(|r| LISTPACK_TYPES.contains(&r.rdb_type) && r.end - r.value_offset >= min_len)
        .nth(nth)
        .map(|r| (*r).clone())
        .expect("no suitable record")
}

#[test]
fn salvage_real_dumps_after_damage() {
    let dump = make_dump();
    let orig = &dump.bytes;
    let mut rng = Rng::new(99);
    let none = BTreeSet::new();

    // Intact: unchanged, clean.
    let s = check("intact", &dump, orig, &none);
    assert!(s.clean && s.rdb == *orig && s.rdb_end == Some(orig.len() as u64));

    // Only the checksum is wrong.
    let mut d = orig.clone();
    let n = d.len();
    d[n - 5] ^= 0x21;
    let s = check("crc", &dump, &d, &none);
    assert!(!s.clean && s.crc_was_wrong && s.lost.is_empty());
    assert_eq!(s.rdb, *orig);

    // Garbage over the middle of one value, in each db.
    for db in DBS {
        let r = pick(&dump, db, 40, 0);
        let at = r.value_offset + (r.end - r.value_offset) / 2;
        let mut d = orig.clone();
        d[at..at + 16].copy_from_slice(&rng.bytes(16));
        let (a, b) = changed(orig, &d);
        let s = check(
            &format!("overwrite db {db}"),
            &dump,
            &d,
            &overlapping(&dump, a, b),
        );
        assert_eq!(s.lost.len(), 1, "{:?}", s.lost);
        assert_eq!(s.lost[0].key.as_ref(), Some(&r.key.1));
        assert_eq!(s.lost[0].db, Some(db));
        assert!(s.crc_was_wrong);
    }

    // A few bytes deleted inside one value.
    let r = pick(&dump, 0, 40, 1);
    let at = r.value_offset + (r.end - r.value_offset) / 3;
    let d = [&orig[..at], &orig[at + 7..]].concat();
    let s = check(
        "delete in a value",
        &dump,
        &d,
        &overlapping(&dump, at, at + 7),
    );
    assert_eq!(s.lost.len(), 1, "{:?}", s.lost);

    // A range deleted across several records: from the middle of a listpack-based record (a
    // string, plain set or intset cut short can read on undetectably) to the middle of the
    // third after.
    let of3: Vec<&Rec> = dump.recs.iter().filter(|r| r.key.0 == 3).collect();
    let ia = (10..of3.len() - 4)
        .find(|&i| LISTPACK_TYPES.contains(&of3[i].rdb_type))
        .unwrap();
    let (ra, rc) = (of3[ia], of3[ia + 3]);
    let a = (ra.start + ra.end) / 2;
    let b = (rc.start + rc.end) / 2;
    let d = [&orig[..a], &orig[b..]].concat();
    let mut lost = overlapping(&dump, a, b);
    assert!(lost.len() >= 4);
    // Documented superset: when the cut record still frames (its value fails the deep check)
    // and its framing ends exactly where a record begins, it is skipped whole, with the
    // records its claimed extent covers.
    let mut p = Parser::new(parse_header(&d).unwrap());
    p.db = 3;
    let cut = b - a;
    let moved = |r: &Rec| (r.start >= b).then(|| (r.start - cut, r.end - cut));
    if let Ok(f) = p.next(&d, ra.start, 0) {
        if dump.recs.iter().filter_map(moved).any(|(s, _)| s == f.end) {
            lost.extend(
                dump.recs
                    .iter()
                    .filter(|r| moved(r).is_some_and(|(_, e)| e <= f.end))
                    .map(|r| r.key.clone()),
            );
        }
    }
    check("delete across records", &dump, &d, &lost);

    // A zeroed 4 KiB block (a lost disk sector).
    let a = orig.len() / 3;
    let mut d = orig.clone();
    d[a..a + 4096].fill(0);
    let (a, b) = changed(orig, &d);
    // The record that starts before the block may only have data zeroed that no check covers
    // (a key's or a string's text, a stream's trailing counters): it may be lost, or kept with
    // another value or even another key.
    let tolerate: BTreeSet<Key> = dump
        .recs
        .iter()
        .filter(|r| r.start < a && r.end > a)
        .map(|r| r.key.clone())
        .chain(prefix_only(&dump, a, b))
        .collect();
    check_tolerant(
        "zeroed block",
        &dump,
        &d,
        &overlapping(&dump, a, b),
        &tolerate,
    );

    // 64 KiB of garbage inserted between two records: nothing lost.
    let at = of3[5].end;
    let junk = rng.bytes(1 << 16);
    let d = [&orig[..at], &junk[..], &orig[at..]].concat();
    let extra = overlapping(&dump, at, at);
    let s = check("inserted garbage", &dump, &d, &extra);
    assert_eq!(s.lost.len(), 1, "{:?}", s.lost);
    assert_eq!(s.lost[0].offset, at as u64);
    if extra.is_empty() {
        assert_eq!(s.lost[0].len, 1 << 16);
    }

    // Truncated in the middle of a record of db 0: that one and everything after is lost.
    let r = pick(&dump, 0, 40, 2);
    let t = r.value_offset + 10;
    let s = check(
        "truncated",
        &dump,
        &orig[..t],
        &overlapping(&dump, t, orig.len()),
    );
    assert_eq!(s.rdb_end, None);

    // A preamble AOF with damage in its RDB part: the RESP tail is found after it.
    let r = pick(&dump, 3, 40, 1);
    let at = r.value_offset + (r.end - r.value_offset) / 2;
    let mut d = orig.clone();
    d[at..at + 16].copy_from_slice(&rng.bytes(16));
    d.extend_from_slice(
        b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
    );
    let (a, b) = changed(orig, &d[..orig.len()]);
    let s = check("preamble aof", &dump, &d, &overlapping(&dump, a, b));
    assert_eq!(s.rdb_end, Some(orig.len() as u64));
}

/// The first byte of db 3's SELECTDB destroyed: its keys land in db 0 (the last db selected),
/// as documented; nothing else is lost (but binary-keyed strings right after the damage).
#[test]
fn a_lost_selectdb_moves_keys_to_the_previous_db() {
    let dump = make_dump();
    let orig = &dump.bytes;
    let first3 = dump.recs.iter().find(|r| r.key.0 == 3).unwrap();
    // SELECTDB 3 and RESIZEDB sit right before the first record of db 3.
    let sel = orig[..first3.start]
        .windows(2)
        .rposition(|w| w == [0xfe, 3])
        .unwrap();
    let mut d = orig.clone();
    d[sel] = 0x77;
    let s = salvage(&d).unwrap();
    assert_eq!(s.lost.len(), 1, "{:?}", s.lost);
    assert_eq!(s.lost[0].db, Some(0));
    assert!(
        s.lost[0].reason.contains("stay in db 0"),
        "{}",
        s.lost[0].reason
    );
    let dir = TempDir::new("salvage");
    let path = dir.file("salvaged.rdb", &s.rdb);
    let mut srv = RedisServer::start_with_rdb(&path, &[]);
    let got = snapshot(&mut srv);
    // Binary-keyed strings right after the damage go with it (documented).
    let followers = overlapping(&dump, first3.start, first3.start);
    let moved: Snapshot = dump
        .snapshot
        .iter()
        .filter(|(k, _)| !followers.contains(*k))
        .map(|((_, k), v)| ((0, k.clone()), v.clone()))
        .collect();
    assert_eq!(got.len(), moved.len(), "every other key survives, in db 0");
    assert_eq!(got, moved);
}

/// Every RDB of the corpus that `redkit check-rdb` accepts salvages clean and unchanged.
#[test]
fn corpus_files_that_check_ok_salvage_clean() {
    use redkit::rdbfile::RdbReader;
    use redkit::tools::check_rdb::{run, CheckOpts};
    let mut files = Vec::new();
    walk(&corpus_dir(), &mut files);
    let mut checked = 0;
    for path in files {
        let data = std::fs::read(&path).unwrap();
        if !(data.starts_with(b"REDIS") || data.starts_with(b"VALKEY")) {
            continue;
        }
        let report = run(
            &path.display().to_string(),
            || RdbReader::open(&path),
            &CheckOpts {
                now_ms: 0,
                dup_keys: true,
                progress: false,
            },
        );
        if !report.ok() {
            continue;
        }
        let s = salvage(&data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let end = data.len() - report.trailing_bytes as usize;
        assert!(
            s.clean,
            "{}: not clean: crc_was_wrong {} lost {:?}",
            path.display(),
            s.crc_was_wrong,
            s.lost
        );
        assert_eq!(s.rdb_end, Some(end as u64), "{}", path.display());
        assert!(s.rdb == data[..end], "{}: output differs", path.display());
        checked += 1;
    }
    assert!(checked >= 50, "only {checked} corpus files checked");
    eprintln!("{checked} corpus files salvage clean");
}

fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}
