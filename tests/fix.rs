//! `redkit fix` against a real redis-server 7.0.15: AOFs written by the server are damaged in
//! known ways (garbage inserted between commands, bytes overwritten or deleted inside one
//! command, a command inside a MULTI/EXEC block damaged, a torn last command, CRLF turned into
//! LF, a trailing FLUSHALL), repaired, and then checked three ways: the repaired bytes against
//! what the damage says must survive (worked out here with a small RESP splitter of our own),
//! against `redis-check-aof --fix` where the two should agree, and by starting redis-server 7.0
//! from the result (with `aof-load-truncated no`) and comparing `DEBUG DIGEST` with a server
//! loaded from the expected bytes. Multi-part directories, the missing-file manifest repair,
//! backups, `--dry-run`, the confirmation question and RDB salvage are covered too.
//!
//! Every input comes from a live server and fixed seeds, so a failure reproduces exactly.

mod common;

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{show_bytes, Cmd, Json, RedisServer, Rng, TempDir};

const REDIS_CHECK_AOF: &str = "redis-check-aof";
const REDIS_CHECK_RDB: &str = "redis-check-rdb";

// ---------------------------------------------------------------------------------------------
// Running redkit fix and the redis tools
// ---------------------------------------------------------------------------------------------

struct Run {
    shown: String,
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

impl Run {
    fn text(&self) -> String {
        format!("{}\n{}", String::from_utf8_lossy(&self.stdout), self.stderr)
    }

    /// The `--json` report.
    fn json(&self) -> Json {
        let text = String::from_utf8_lossy(&self.stdout);
        let line = text.trim_end_matches('\n');
        assert!(
            !line.contains('\n'),
            "`{}` printed more than one line with --json:\n{text}",
            self.shown
        );
        Json::parse(line).unwrap_or_else(|e| panic!("`{}`: bad JSON ({e}):\n{text}", self.shown))
    }
}

/// Run `program args` with `stdin` (None: /dev/null).
fn run_tool(program: &OsStr, args: &[OsString], stdin: Option<&[u8]>) -> Run {
    let shown = format!(
        "{} {}",
        Path::new(program)
            .file_name()
            .unwrap_or(program)
            .to_string_lossy(),
        args.iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `{shown}`: {e}"));
    if let Some(input) = stdin {
        let mut w = child.stdin.take().expect("stdin");
        // The tool may exit without reading everything: a broken pipe is fine.
        let _ = w.write_all(input);
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("`{shown}`: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out
        .status
        .code()
        .unwrap_or_else(|| panic!("`{shown}` was killed by a signal:\n{stderr}"));
    Run {
        shown,
        code,
        stdout: out.stdout,
        stderr,
    }
}

/// `redkit fix ARGS... PATH`; must exit 0 or 1 without panicking.
fn fix(args: &[&str], path: &Path, stdin: Option<&[u8]>) -> Run {
    let mut a: Vec<OsString> = vec!["fix".into()];
    a.extend(args.iter().map(OsString::from));
    a.push(path.as_os_str().to_os_string());
    let r = run_tool(OsStr::new(env!("CARGO_BIN_EXE_redkit")), &a, stdin);
    assert!(
        !r.stderr.contains("panicked"),
        "`{}` panicked:\n{}",
        r.shown,
        r.stderr
    );
    assert!(
        r.code == 0 || r.code == 1,
        "`{}` exited with {}:\n{}",
        r.shown,
        r.code,
        r.text()
    );
    r
}

/// `redkit fix --json ARGS... PATH` that must succeed: its report.
fn fix_ok_json(args: &[&str], path: &Path) -> Json {
    let mut a = args.to_vec();
    a.push("--json");
    let r = fix(&a, path, None);
    assert_eq!(r.code, 0, "`{}` failed:\n{}", r.shown, r.text());
    let j = r.json();
    assert_eq!(j.at("ok"), &Json::Bool(true), "`{}`: {j}", r.shown);
    assert_eq!(j.at("exit_code").i64(), 0, "`{}`: {j}", r.shown);
    j
}

/// `redis-check-aof --fix FILE`, answering "y".
fn redis_check_aof_fix(file: &Path) -> Run {
    run_tool(
        OsStr::new(REDIS_CHECK_AOF),
        &["--fix".into(), file.as_os_str().to_os_string()],
        Some(b"y\n"),
    )
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

fn write(p: &Path, bytes: &[u8]) {
    std::fs::write(p, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", p.display()));
}

/// Names of the entries of `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    v.sort();
    v
}

/// `<name>.bak.<digits>` files next to `file`.
fn backups_of(file: &Path) -> Vec<PathBuf> {
    let dir = file.parent().expect("parent");
    let prefix = format!(
        "{}.bak.",
        file.file_name().expect("file name").to_string_lossy()
    );
    listing(dir)
        .into_iter()
        .filter(|n| {
            n.strip_prefix(&prefix)
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|n| dir.join(n))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------------------------

fn info_field(srv: &mut RedisServer, section: &str, field: &str) -> String {
    let info = srv.cmd(&[b"INFO", section.as_bytes()]);
    let text = String::from_utf8_lossy(info.bulk()).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("INFO {section} has no {field}"))
        .trim()
        .to_string()
}

/// Wait until no AOF rewrite is running or scheduled.
fn wait_rewrite(srv: &mut RedisServer) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if info_field(srv, "persistence", "aof_rewrite_in_progress") == "0"
            && info_field(srv, "persistence", "aof_rewrite_scheduled") == "0"
        {
            break;
        }
        assert!(Instant::now() < deadline, "AOF rewrite did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        info_field(srv, "persistence", "aof_last_bgrewrite_status"),
        "ok"
    );
}

/// A server writing a multi-part AOF (RESP base unless `preamble`), fsyncing every write.
fn aof_server(preamble: bool) -> RedisServer {
    let mut srv = RedisServer::start(&[
        ("appendonly", "yes"),
        ("aof-use-rdb-preamble", if preamble { "yes" } else { "no" }),
        ("appendfsync", "always"),
        ("auto-aof-rewrite-percentage", "0"),
    ]);
    wait_rewrite(&mut srv);
    srv
}

/// The files of a server's appendonlydir (temp files left out).
fn aof_dir_files(srv: &RedisServer) -> BTreeMap<String, Vec<u8>> {
    let dir = srv.dir.join("appendonlydir");
    listing(&dir)
        .into_iter()
        .filter(|n| !n.starts_with("temp-"))
        .map(|n| {
            let b = read(&dir.join(&n));
            (n, b)
        })
        .collect()
}

/// The manifest's entries: (file name, seq, type letter).
fn manifest_entries(text: &[u8]) -> Vec<(String, u64, String)> {
    String::from_utf8_lossy(text)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            assert!(
                w.len() == 6 && w[0] == "file" && w[2] == "seq" && w[4] == "type",
                "unexpected manifest line {l:?}"
            );
            (
                w[1].to_string(),
                w[3].parse().expect("seq"),
                w[5].to_string(),
            )
        })
        .collect()
}

/// The single incr file (name, bytes) of a server's appendonlydir, by its manifest.
fn incr_of(files: &BTreeMap<String, Vec<u8>>) -> (String, Vec<u8>) {
    let (_, m) = files
        .iter()
        .find(|(n, _)| n.ends_with(".manifest"))
        .expect("no manifest in appendonlydir");
    let incr: Vec<_> = manifest_entries(m)
        .into_iter()
        .filter(|e| e.2 == "i")
        .collect();
    assert_eq!(incr.len(), 1, "expected one incr file: {incr:?}");
    let name = incr[0].0.clone();
    let bytes = files[&name].clone();
    (name, bytes)
}

/// A server started from AOF files in a dir of its own (which it may change); the server is
/// dropped (killed) before the dir is removed.
struct Loaded {
    srv: RedisServer,
    _dir: TempDir,
}

/// Start redis-server with `appendonly yes` on `dir` (holding `appendonly.aof` or
/// `appendonlydir/`); refuses truncated files, so a start proves the files load completely.
fn start_on_dir(dir: TempDir) -> Loaded {
    let d = dir.path().to_string_lossy().into_owned();
    let srv = RedisServer::start(&[
        ("dir", &d),
        ("appendonly", "yes"),
        ("appendfilename", "appendonly.aof"),
        ("appenddirname", "appendonlydir"),
        ("aof-load-truncated", "no"),
        ("auto-aof-rewrite-percentage", "0"),
    ]);
    Loaded { srv, _dir: dir }
}

/// Start a server from one plain AOF file (Redis 7 turns an `appendonly.aof` without an
/// appendonlydir into a multi-part AOF with it as the base).
fn start_on_plain(aof: &[u8]) -> Loaded {
    let dir = TempDir::new("fix-load");
    dir.file("appendonly.aof", aof);
    start_on_dir(dir)
}

/// Start a server from a copy of the appendonlydir `src`.
fn start_on_aof_dir(src: &Path) -> Loaded {
    let dir = TempDir::new("fix-load");
    copy_dir(src, &dir.path().join("appendonlydir"));
    start_on_dir(dir)
}

/// Copy the regular files of `src` into a new dir `dst`, writable.
fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir(dst).unwrap_or_else(|e| panic!("mkdir {}: {e}", dst.display()));
    for n in listing(src) {
        let from = src.join(&n);
        if from.is_file() {
            write(&dst.join(&n), &read(&from));
        }
    }
}

fn digest(srv: &mut RedisServer) -> String {
    srv.ok(&["DEBUG", "DIGEST"]).text()
}

/// Keys per db (INFO keyspace).
fn keyspace(srv: &mut RedisServer) -> BTreeMap<u32, i64> {
    let info = srv.cmd(&[b"INFO", b"keyspace"]);
    String::from_utf8_lossy(info.bulk())
        .lines()
        .filter_map(|l| {
            let (db, rest) = l.split_once(':')?;
            let db: u32 = db.strip_prefix("db")?.parse().ok()?;
            let keys = rest.split(',').find_map(|f| f.strip_prefix("keys="))?;
            Some((db, keys.parse().ok()?))
        })
        .collect()
}

fn total_keys(srv: &mut RedisServer) -> i64 {
    keyspace(srv).values().sum()
}

// ---------------------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------------------

fn value(rng: &mut Rng) -> Vec<u8> {
    let n = rng.range(1, 16) as usize;
    match rng.below(8) {
        0 | 1 => rng.alnum(n),
        2 => rng.bytes(n),
        3 => [b"line\r\n".as_slice(), &rng.alnum(n), b"\r\nend"].concat(),
        4 => [b"bare\n".as_slice(), &rng.alnum(n), b"\n"].concat(),
        5 => format!("{}", rng.below(100_000)).into_bytes(),
        6 => Vec::new(),
        _ => {
            let n = rng.range(60, 300) as usize;
            rng.alnum(n)
        }
    }
}

fn key(rng: &mut Rng, prefix: &str) -> Vec<u8> {
    let mut k = format!("{prefix}:{}", rng.below(8)).into_bytes();
    if rng.chance(1, 6) {
        k.extend_from_slice(b"\x00\r\n\xff");
    }
    k
}

/// One write that cannot fail on the keyspace `mix` builds (each key prefix holds one type).
fn one(rng: &mut Rng) -> Cmd {
    match rng.below(18) {
        0 | 1 => cmdv!["SET", key(rng, "str"), value(rng)],
        2 => cmdv!["SET", key(rng, "str"), value(rng), "EX", "100000"],
        3 => cmdv!["APPEND", key(rng, "str"), value(rng)],
        4 => cmdv!["INCRBY", key(rng, "cnt"), format!("{}", rng.below(1000))],
        5 => cmdv!["INCRBYFLOAT", key(rng, "flt"), "1.5"],
        6 => cmdv!["RPUSH", key(rng, "list"), value(rng), value(rng)],
        7 => cmdv!["LPUSH", key(rng, "list"), value(rng)],
        8 => cmdv!["LPOP", key(rng, "list")],
        9 => cmdv!["SADD", key(rng, "set"), value(rng), value(rng)],
        10 => cmdv!["SREM", key(rng, "set"), value(rng)],
        11 => cmdv![
            "ZADD",
            key(rng, "zset"),
            format!("{}", rng.below(1000) as f64 / 8.0),
            value(rng)
        ],
        12 => cmdv![
            "HSET",
            key(rng, "hash"),
            format!("f{}", rng.below(5)),
            value(rng)
        ],
        13 => cmdv!["HINCRBY", key(rng, "hash"), "counter", "3"],
        14 => cmdv![
            "XADD",
            format!("stream:{}", rng.below(3)),
            "*",
            "field",
            value(rng)
        ],
        15 => cmdv!["EXPIRE", key(rng, "str"), "50000"],
        16 => cmdv!["PEXPIRE", key(rng, "list"), "90000000"],
        _ => {
            let prefix = *rng.pick(&["str", "list", "set", "zset", "hash", "cnt"]);
            cmdv!["DEL", key(rng, prefix)]
        }
    }
}

/// `n` steps of writes over dbs 0 and 1: single commands, MULTI/EXEC blocks, scripts.
fn mix(rng: &mut Rng, n: usize) -> Vec<Cmd> {
    let mut out = Vec::new();
    for _ in 0..n {
        match rng.below(16) {
            0 | 1 => out.push(cmdv!["SELECT", format!("{}", rng.below(2))]),
            2 | 3 => {
                out.push(cmdv!["MULTI"]);
                // Always-propagated writes first, so the block really lands as MULTI/EXEC.
                out.push(cmdv!["INCRBY", key(rng, "cnt"), "1"]);
                out.push(cmdv!["SET", key(rng, "str"), value(rng)]);
                for _ in 0..rng.range(0, 3) {
                    out.push(one(rng));
                }
                out.push(cmdv!["EXEC"]);
            }
            4 => out.push(cmdv![
                "EVAL",
                "redis.call('SET', KEYS[1], ARGV[1]); redis.call('INCRBY', KEYS[2], 7); return 1",
                "2",
                key(rng, "str"),
                key(rng, "cnt"),
                value(rng)
            ]),
            _ => out.push(one(rng)),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// A small RESP splitter of our own
// ---------------------------------------------------------------------------------------------

/// One command of an AOF: its byte range and upper-cased name.
#[derive(Debug, Clone)]
struct Rec {
    start: usize,
    end: usize,
    name: Vec<u8>,
}

/// A number on a header line starting at `at` (just after the `*`/`$`); returns it and the
/// index after the line's CRLF. `lax` reads it like redis-check-aof (strtol: leading white
/// space, a sign, no digits at all meaning 0); otherwise an optional `-` and at least one
/// digit. Either way the number must be followed by CRLF.
fn header_number(data: &[u8], at: usize, lax: bool) -> Option<(i64, usize)> {
    let nl = data.get(at..)?.iter().position(|&b| b == b'\n')?;
    let line = &data[at..at + nl + 1];
    let mut i = 0;
    if lax {
        while i < line.len() && matches!(line[i], b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
        {
            i += 1;
        }
    }
    let sign_at = i;
    if line.get(i) == Some(&b'-') || (lax && line.get(i) == Some(&b'+')) {
        i += 1;
    }
    let digits = line[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    let (value, rest) = if digits == 0 {
        if !lax {
            return None;
        }
        (0, 0)
    } else {
        let v: i64 = std::str::from_utf8(&line[sign_at..i + digits])
            .ok()?
            .parse()
            .ok()?;
        (v, i + digits)
    };
    if !line[rest..].starts_with(b"\r\n") {
        return None;
    }
    Some((value, at + rest + 2))
}

/// Read one command at `pos`: its end and its arguments, or None when it does not read (bad
/// or cut short). `lax`: see [`header_number`]; the strict reading is still a bit more lenient
/// than redkit's reader, so "does not read" here means it cannot read for redkit either.
fn read_command(data: &[u8], pos: usize, lax: bool) -> Option<(usize, Vec<&[u8]>)> {
    if data.get(pos) != Some(&b'*') {
        return None;
    }
    let (argc, mut at) = header_number(data, pos + 1, lax)?;
    if argc > 1_000_000 || (!lax && argc < 1) {
        return None;
    }
    let mut args = Vec::new();
    for _ in 0..argc.max(0) {
        if data.get(at) != Some(&b'$') {
            return None;
        }
        let (len, start) = header_number(data, at + 1, lax)?;
        let len = usize::try_from(len).ok()?;
        let end = start.checked_add(len)?;
        if data.get(end..end + 2)? != b"\r\n" {
            return None;
        }
        args.push(&data[start..end]);
        at = end + 2;
    }
    Some((at, args))
}

/// Split an intact AOF (no annotations) into its commands.
fn split(data: &[u8]) -> Vec<Rec> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let (end, args) = read_command(data, pos, false)
            .unwrap_or_else(|| panic!("the fixture AOF does not split at offset {pos}"));
        out.push(Rec {
            start: pos,
            end,
            name: args
                .first()
                .map(|a| a.to_ascii_uppercase())
                .unwrap_or_default(),
        });
        pos = end;
    }
    out
}

/// MULTI/EXEC blocks as (index of MULTI, index of EXEC).
fn blocks(recs: &[Rec]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut open = None;
    for (i, r) in recs.iter().enumerate() {
        match r.name.as_slice() {
            b"MULTI" => {
                assert!(open.is_none(), "nested MULTI at record {i}");
                open = Some(i);
            }
            b"EXEC" => out.push((open.take().expect("EXEC without MULTI"), i)),
            _ => {}
        }
    }
    assert!(open.is_none(), "the fixture AOF ends inside a MULTI");
    out
}

fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    redkit_formats::resp::encode_command(args, &mut out);
    out
}

// ---------------------------------------------------------------------------------------------
// The fixture: a plain AOF written by redis-server
// ---------------------------------------------------------------------------------------------

struct Fixture {
    /// The incr file of a server run with `aof-use-rdb-preamble no` (its base is empty).
    aof: Vec<u8>,
    recs: Vec<Rec>,
    blocks: Vec<(usize, usize)>,
    /// DEBUG DIGEST of the server that wrote it.
    digest: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let mut srv = aof_server(false);
        let mut rng = Rng::new(0xf1c5_0001);
        srv.pipeline_ok(&mix(&mut rng, 300));
        let digest = digest(&mut srv);
        let files = aof_dir_files(&srv);
        for (n, b) in &files {
            if n.contains(".base.") {
                assert!(b.is_empty(), "the base {n} of an empty server is not empty");
            }
        }
        let (_, aof) = incr_of(&files);
        drop(srv);
        let recs = split(&aof);
        let blocks = blocks(&recs);
        let selects = recs.iter().filter(|r| r.name == b"SELECT").count();
        assert!(
            blocks.len() >= 5 && selects >= 5 && recs.len() >= 250,
            "fixture too poor: {} records, {} blocks, {selects} SELECTs",
            recs.len(),
            blocks.len()
        );
        Fixture {
            aof,
            recs,
            blocks,
            digest,
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Damage
// ---------------------------------------------------------------------------------------------

/// Bytes that can never stand where a header byte, digit or CRLF is expected, nor start a
/// record or an annotation.
const SAFE: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!%&()=?@[]^_{}~";

fn safe_garbage(rng: &mut Rng, n: usize) -> Vec<u8> {
    (0..n).map(|_| *rng.pick(SAFE)).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Garbage inserted between two commands.
    Insert,
    /// Bytes inside one command overwritten (at least one header byte or CRLF among them).
    Overwrite,
    /// A byte range inside one command deleted.
    Delete,
    /// A command strictly inside a MULTI/EXEC block overwritten or cut.
    InMulti,
}

struct Damage {
    seed: u64,
    what: String,
    data: Vec<u8>,
    /// The intact records (those the damage did not touch, minus touched blocks).
    salvage: Vec<u8>,
    salvage_count: usize,
    /// Everything before the first damaged record (or before its MULTI).
    truncate: Vec<u8>,
    /// The damaged stretch in `data`: where it starts, where the next intact record starts.
    bad: (usize, usize),
    /// The damage reaches the end of the file (nothing intact after it).
    at_end: bool,
    /// Offset (in `data`) of the MULTI of the block dropped with the damage.
    dropped_block: Option<usize>,
}

/// The block (MULTI index, EXEC index) holding record `r`, if any.
fn block_of(blocks: &[(usize, usize)], r: usize) -> Option<(usize, usize)> {
    blocks.iter().copied().find(|&(m, e)| m <= r && r <= e)
}

/// Structural byte offsets of record `r`: its header lines (with CRLF) and the CRLF after each
/// payload.
fn structural(data: &[u8], rec: &Rec) -> Vec<usize> {
    let mut v = Vec::new();
    let (argc, mut at) = header_number(data, rec.start + 1, false).expect("intact header");
    v.extend(rec.start..at);
    for _ in 0..argc {
        let (len, start) = header_number(data, at + 1, false).expect("intact arg");
        v.extend(at..start);
        let end = start + len as usize;
        v.extend([end, end + 1]);
        at = end + 2;
    }
    v
}

/// Damage record `r` (overwrite or delete); None when that damage happens to leave a record
/// that still reads (for either reader), so it would not be a damaged record at all.
fn damage_record(
    rng: &mut Rng,
    f: &Fixture,
    r: usize,
    overwrite: bool,
) -> Option<(Vec<u8>, String, usize)> {
    let rec = &f.recs[r];
    let len = rec.end - rec.start;
    let mut data = f.aof.clone();
    let (what, removed) = if overwrite {
        let st = structural(&f.aof, rec);
        let p = *rng.pick(&st);
        let k = rng.range(1, 6) as usize;
        let from = p
            .saturating_sub(rng.below(k as u64) as usize)
            .max(rec.start);
        let to = (from + k).min(rec.end);
        let g = safe_garbage(rng, to - from);
        data[from..to].copy_from_slice(&g);
        (
            format!(
                "overwrote {from}..{to} of record {r} ({}) with {}",
                String::from_utf8_lossy(&rec.name),
                show_bytes(&g)
            ),
            0,
        )
    } else {
        let k = (rng.range(1, 8) as usize).min(len - 1);
        let from = rec.start + rng.below((len - k + 1) as u64) as usize;
        data.drain(from..from + k);
        (
            format!(
                "deleted {from}..{} of record {r} ({})",
                from + k,
                String::from_utf8_lossy(&rec.name)
            ),
            k,
        )
    };
    let reads = read_command(&data, rec.start, false).is_some()
        || read_command(&data, rec.start, true).is_some();
    (!reads).then_some((data, what, removed))
}

/// Expected results for a damage whose first damaged record is `first` (an index into the
/// records, or `recs.len()` for garbage appended at the end), with `touched` the record the
/// damage hit (None for an insertion) and `inside` the block the damage falls into.
fn expectations(
    f: &Fixture,
    first: usize,
    touched: Option<usize>,
    inside: Option<(usize, usize)>,
) -> (Vec<u8>, usize, Vec<u8>) {
    let mut salvage = Vec::new();
    let mut count = 0;
    for (i, rec) in f.recs.iter().enumerate() {
        let dropped = Some(i) == touched || inside.is_some_and(|(m, e)| (m..=e).contains(&i));
        if !dropped {
            salvage.extend_from_slice(&f.aof[rec.start..rec.end]);
            count += 1;
        }
    }
    let cut_rec = inside.map_or(first, |(m, _)| m);
    let cut = f.recs.get(cut_rec).map_or(f.aof.len(), |r| r.start);
    (salvage, count, f.aof[..cut].to_vec())
}

fn make_damage(f: &Fixture, seed: u64) -> Damage {
    let kinds = [Kind::Insert, Kind::Overwrite, Kind::Delete, Kind::InMulti];
    let kind = kinds[(seed % 4) as usize];
    let mut rng = Rng::new(0xda3a_6e00 + seed);
    let n = f.recs.len();
    for _attempt in 0..100 {
        match kind {
            Kind::Insert => {
                // Every other insertion lands inside a MULTI block.
                let b = if seed.is_multiple_of(8) {
                    let (m, e) = *rng.pick(&f.blocks);
                    rng.range(m as u64 + 1, e as u64) as usize
                } else {
                    rng.range(1, n as u64) as usize
                };
                let at = f.recs.get(b).map_or(f.aof.len(), |r| r.start);
                let g = match rng.below(3) {
                    0 => {
                        let k = rng.range(1, 40) as usize;
                        safe_garbage(&mut rng, k)
                    }
                    1 => {
                        let mut g = safe_garbage(&mut rng, 1);
                        let k = rng.range(0, 60) as usize;
                        g.extend(rng.bytes(k));
                        g
                    }
                    _ => {
                        // A torn command: its last argument is cut short.
                        let full = encode(&[b"SET", b"torn:key", &rng.alnum(30)]);
                        full[..full.len() - rng.range(5, 20) as usize].to_vec()
                    }
                };
                let mut data = f.aof[..at].to_vec();
                data.extend_from_slice(&g);
                data.extend_from_slice(&f.aof[at..]);
                if read_command(&data, at, false).is_some()
                    || read_command(&data, at, true).is_some()
                {
                    continue;
                }
                let inside = block_of(&f.blocks, b).filter(|&(m, _)| m < b);
                let (salvage, salvage_count, truncate) = expectations(f, b, None, inside);
                return Damage {
                    seed,
                    what: format!(
                        "inserted {} before record {b} (offset {at})",
                        show_bytes(&g)
                    ),
                    bad: (at, at + g.len()),
                    at_end: b == n,
                    dropped_block: inside.map(|(m, _)| f.recs[m].start),
                    data,
                    salvage,
                    salvage_count,
                    truncate,
                };
            }
            Kind::Overwrite | Kind::Delete | Kind::InMulti => {
                let r = if kind == Kind::InMulti {
                    let (m, e) = *rng.pick(&f.blocks);
                    rng.range(m as u64 + 1, e as u64 - 1) as usize
                } else {
                    rng.below(n as u64) as usize
                };
                let overwrite = match kind {
                    Kind::Overwrite => true,
                    Kind::Delete => false,
                    _ => rng.chance(1, 2),
                };
                let Some((data, what, removed)) = damage_record(&mut rng, f, r, overwrite) else {
                    continue;
                };
                let inside = block_of(&f.blocks, r);
                let (salvage, salvage_count, truncate) = expectations(f, r, Some(r), inside);
                let start = f.recs[r].start;
                return Damage {
                    seed,
                    what,
                    bad: (start, f.recs[r].end - removed),
                    at_end: r + 1 == n,
                    dropped_block: inside.map(|(m, _)| f.recs[m].start),
                    data,
                    salvage,
                    salvage_count,
                    truncate,
                };
            }
        }
    }
    panic!("seed {seed}: no damage of kind {kind:?} that breaks a record in 100 tries");
}

const SEEDS: u64 = 20;

fn damages() -> &'static Vec<Damage> {
    static D: OnceLock<Vec<Damage>> = OnceLock::new();
    D.get_or_init(|| {
        let f = fixture();
        (0..SEEDS).map(|s| make_damage(f, s)).collect()
    })
}

/// Compare two byte strings, describing the first difference.
fn bytes_diff(want: &[u8], got: &[u8]) -> Option<String> {
    if want == got {
        return None;
    }
    let i = want
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(want.len().min(got.len()));
    Some(format!(
        "expected {} bytes, got {}; first difference at {i}: expected {} got {}",
        want.len(),
        got.len(),
        show_bytes(&want[i.min(want.len())..(i + 40).min(want.len())]),
        show_bytes(&got[i.min(got.len())..(i + 40).min(got.len())]),
    ))
}

// ---------------------------------------------------------------------------------------------
// 1. Salvage keeps every intact command
// ---------------------------------------------------------------------------------------------

#[test]
fn fixture_loads_like_the_server_that_wrote_it() {
    let f = fixture();
    let mut l = start_on_plain(&f.aof);
    assert_eq!(digest(&mut l.srv), f.digest);
}

#[test]
fn salvage_keeps_every_intact_command() {
    let f = fixture();
    let dir = TempDir::new("fix-salvage");
    let mut errs = Vec::new();
    for d in damages() {
        let ctx = format!("seed {} ({})", d.seed, d.what);
        let p = dir.file(&format!("seed{}.aof", d.seed), &d.data);
        let j = fix_ok_json(&["--mode", "salvage", "--yes", "--no-backup"], &p);
        let got = read(&p);
        if let Some(diff) = bytes_diff(&d.salvage, &got) {
            errs.push(format!("{ctx}: output {diff}\n  report: {j}"));
            continue;
        }
        // The report: the damaged stretch, the dropped block, the count of kept commands.
        let file = &j.at("files").arr()[0];
        let skipped = file.at("skipped").arr();
        let tail = file.at("truncated_tail");
        if d.at_end {
            if skipped.len() + usize::from(!tail.is_null()) != 1 {
                errs.push(format!(
                    "{ctx}: expected one skipped range or a torn tail: {file}"
                ));
            }
        } else if skipped.len() != 1
            || skipped[0].at("offset").i64() != d.bad.0 as i64
            || skipped[0].at("len").i64() != (d.bad.1 - d.bad.0) as i64
        {
            errs.push(format!(
                "{ctx}: expected one skipped range at {} of {} bytes: {}",
                d.bad.0,
                d.bad.1 - d.bad.0,
                file.at("skipped")
            ));
        }
        let dropped = file.at("dropped_blocks").arr();
        let want_dropped: Vec<i64> = d.dropped_block.iter().map(|&o| o as i64).collect();
        let got_dropped: Vec<i64> = dropped.iter().map(|b| b.at("offset").i64()).collect();
        if want_dropped != got_dropped {
            errs.push(format!(
                "{ctx}: dropped blocks at {got_dropped:?}, expected {want_dropped:?}"
            ));
        }
        if file.at("commands_kept").i64() != d.salvage_count as i64 {
            errs.push(format!(
                "{ctx}: commands_kept {} but {} commands kept",
                file.at("commands_kept"),
                d.salvage_count
            ));
        }
        if file.at("new_size").i64() != d.salvage.len() as i64
            || file.at("changed") != &Json::Bool(true)
        {
            errs.push(format!("{ctx}: new_size/changed wrong: {file}"));
        }
        // redis-check-aof accepts the result.
        let c = run_tool(
            OsStr::new(REDIS_CHECK_AOF),
            &[p.as_os_str().to_os_string()],
            None,
        );
        if c.code != 0 {
            errs.push(format!(
                "{ctx}: redis-check-aof rejects the output:\n{}",
                c.text()
            ));
        }
        // A few seeds: redis-server loads both, with the same digest.
        if d.seed % 5 == 1 {
            let mut a = start_on_plain(&got);
            let mut b = start_on_plain(&d.salvage);
            let (da, db) = (digest(&mut a.srv), digest(&mut b.srv));
            if da != db {
                errs.push(format!("{ctx}: digest {da} after fix, {db} expected"));
            }
            assert!(total_keys(&mut a.srv) > 0);
        }
    }
    assert!(
        errs.is_empty(),
        "{} of {SEEDS} salvage cases failed (fixture: {} records):\n{}",
        errs.len(),
        f.recs.len(),
        errs.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// 1b. A damaged MULTI or EXEC: the whole block goes, nothing else
// ---------------------------------------------------------------------------------------------

/// A damage that hits the MULTI or the EXEC of a block: that block is dropped
/// (and only it). The output must pass redis-check-aof, which refuses a stray EXEC.
#[test]
fn salvage_with_damaged_multi_or_exec() {
    let f = fixture();
    let dir = TempDir::new("fix-multi-exec");
    let mut errs = Vec::new();
    let mut rng = Rng::new(0x3e7e_c001);
    for case in 0..6 {
        // Blocks with at least one intact block after them, not at the very end.
        let (m, e) = f.blocks[1 + case % (f.blocks.len() - 2)];
        let r = if case % 2 == 0 { m } else { e };
        let Some((data, what, _)) = (0..50).find_map(|_| damage_record(&mut rng, f, r, true))
        else {
            panic!("cannot damage record {r}");
        };
        let (want, _, _) = expectations(f, r, Some(r), Some((m, e)));
        let ctx = format!(
            "{} of block {m}..{e} damaged ({what})",
            if r == m { "MULTI" } else { "EXEC" }
        );
        let p = dir.file(&format!("case{case}.aof"), &data);
        let r = fix(&["--mode", "salvage", "--yes", "--no-backup"], &p, None);
        assert_eq!(r.code, 0, "{ctx}: {}", r.text());
        let got = read(&p);
        if let Some(diff) = bytes_diff(&want, &got) {
            errs.push(format!("{ctx}: {diff}\n  fix said: {}", r.text().trim()));
        }
        let c = run_tool(
            OsStr::new(REDIS_CHECK_AOF),
            &[p.as_os_str().to_os_string()],
            None,
        );
        if c.code != 0 {
            let last = String::from_utf8_lossy(&c.stdout)
                .lines()
                .rev()
                .take(3)
                .collect::<Vec<_>>()
                .join(" | ");
            errs.push(format!("{ctx}: redis-check-aof rejects the output: {last}"));
        }
    }
    assert!(errs.is_empty(), "{}", errs.join("\n"));
}

/// A length header damaged so that it runs past the end of the file, with intact commands
/// after it: salvage must not take that for a torn last command and drop everything after it.
#[test]
fn salvage_with_a_length_running_past_the_end() {
    let f = fixture();
    let n = f.recs.len();
    // A record a few commands before the end, outside any block, its last argument's length
    // made larger than what is left of the file.
    let r = (n - 40..n - 4)
        .rev()
        .find(|&i| block_of(&f.blocks, i).is_none())
        .expect("a record outside blocks near the end");
    let rec = &f.recs[r];
    let left = f.aof.len() - rec.start;
    let (argc, mut at) = header_number(&f.aof, rec.start + 1, false).expect("header");
    for _ in 0..argc - 1 {
        let (len, start) = header_number(&f.aof, at + 1, false).expect("arg");
        at = start + len as usize + 2;
    }
    let (len, start) = header_number(&f.aof, at + 1, false).expect("last arg");
    let payload = f.aof[start..start + len as usize].to_vec();
    let mut data = f.aof[..at].to_vec();
    data.extend_from_slice(format!("${}\r\n", left * 10).as_bytes());
    data.extend_from_slice(&payload);
    data.extend_from_slice(b"\r\n");
    data.extend_from_slice(&f.aof[rec.end..]);
    let (want, _, trunc) = expectations(f, r, Some(r), None);
    let dir = TempDir::new("fix-longlen");
    let p = dir.file("a.aof", &data);
    let j = fix_ok_json(&["--mode", "salvage", "--yes", "--no-backup"], &p);
    let got = read(&p);
    assert!(
        got == want,
        "record {r} (offset {}) has its last length set to {} (past the end of the file); \
         salvage should keep the {} commands after it: {}\nreport: {j}",
        rec.start,
        left * 10,
        n - r - 1,
        bytes_diff(&want, &got).unwrap_or_default()
    );
    // Truncate mode cuts there, like redis-check-aof.
    let p = dir.file("b.aof", &data);
    fix_ok_json(&["--yes", "--no-backup"], &p);
    assert!(read(&p) == trunc, "truncate mode");
}

// ---------------------------------------------------------------------------------------------
// 2. Truncate mode = redis-check-aof --fix
// ---------------------------------------------------------------------------------------------

#[test]
fn truncate_mode_matches_redis_check_aof() {
    let dir = TempDir::new("fix-truncate");
    let mut errs = Vec::new();
    for d in damages() {
        let ctx = format!("seed {} ({})", d.seed, d.what);
        let p = dir.file(&format!("redkit{}.aof", d.seed), &d.data);
        let q = dir.file(&format!("redis{}.aof", d.seed), &d.data);
        let r = fix(&["--yes", "--no-backup"], &p, None);
        if r.code != 0 {
            errs.push(format!("{ctx}: fix failed: {}", r.text()));
            continue;
        }
        let got = read(&p);
        if let Some(diff) = bytes_diff(&d.truncate, &got) {
            errs.push(format!("{ctx}: vs expected cut: {diff}"));
        }
        let c = redis_check_aof_fix(&q);
        let theirs = read(&q);
        if let Some(diff) = bytes_diff(&theirs, &got) {
            errs.push(format!(
                "{ctx}: vs redis-check-aof --fix (exit {}): {diff}",
                c.code
            ));
        }
        if d.seed % 7 == 3 {
            let mut l = start_on_plain(&got);
            let _ = total_keys(&mut l.srv);
        }
    }
    assert!(errs.is_empty(), "{}", errs.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// 3. A torn last command
// ---------------------------------------------------------------------------------------------

#[test]
fn torn_tail_is_removed() {
    let f = fixture();
    let n = f.recs.len();
    let last = &f.recs[n - 1];
    // Cutting the last command also opens its block, if it ends one.
    let keep_end = block_of(&f.blocks, n - 1).map_or(last.start, |(m, _)| f.recs[m].start);
    let want = &f.aof[..keep_end];
    let len = last.end - last.start;
    let dir = TempDir::new("fix-torn");
    for (i, cut) in [1, 4, len / 2, len - 2, len - 1].into_iter().enumerate() {
        let data = &f.aof[..last.start + cut];
        for mode in ["truncate", "salvage"] {
            let p = dir.file(&format!("torn{i}{mode}.aof"), data);
            let j = fix_ok_json(&["--mode", mode, "--yes", "--no-backup"], &p);
            let got = read(&p);
            assert!(
                got == want,
                "{mode}, cut {cut} bytes into the last command: {}",
                bytes_diff(want, &got).unwrap_or_default()
            );
            let file = &j.at("files").arr()[0];
            let t = file.at("truncated_tail");
            assert!(
                !t.is_null() && t.at("offset").i64() == last.start as i64,
                "{mode}, cut {cut}: truncated_tail should be at {}: {file}",
                last.start
            );
            let q = dir.file(&format!("torn{i}{mode}.redis.aof"), data);
            redis_check_aof_fix(&q);
            assert!(
                read(&q) == got,
                "{mode}, cut {cut}: differs from redis-check-aof --fix"
            );
        }
        if i == 2 {
            let mut l = start_on_plain(want);
            assert!(total_keys(&mut l.srv) > 0);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 4. --line-endings
// ---------------------------------------------------------------------------------------------

/// What a text tool does: every CRLF becomes LF.
fn crlf_to_lf(data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data[i..].starts_with(b"\r\n") {
            v.push(b'\n');
            i += 2;
        } else {
            v.push(data[i]);
            i += 1;
        }
    }
    v
}

/// Parse an AOF whose line ends are LF and whose payloads hold no LF (the RedisShake file).
fn parse_lf(data: &[u8]) -> Vec<Cmd> {
    let mut lines = data.split(|&b| b == b'\n');
    let mut out = Vec::new();
    while let Some(h) = lines.next() {
        if h.is_empty() {
            continue;
        }
        let argc: usize = std::str::from_utf8(h.strip_prefix(b"*").expect("*"))
            .expect("utf8")
            .parse()
            .expect("argc");
        let mut cmd = Vec::new();
        for _ in 0..argc {
            let l = lines.next().expect("$ line");
            let len: usize = std::str::from_utf8(l.strip_prefix(b"$").expect("$"))
                .expect("utf8")
                .parse()
                .expect("len");
            let p = lines.next().expect("payload");
            assert_eq!(p.len(), len, "the payload holds an LF");
            cmd.push(p.to_vec());
        }
        out.push(cmd);
    }
    out
}

#[test]
fn line_endings_redisshake_dir() {
    let src = common::corpus_dir().join("RedisShake/test/aof_test/appendonlydir");
    let tmp = TempDir::new("fix-shake");
    let dir = tmp.path().join("appendonlydir");
    copy_dir(&src, &dir);
    let incr = "appendonly.aof.2.incr.aof";
    let original = read(&dir.join(incr));
    let manifest = read(&dir.join("appendonly.aof.manifest"));

    let j = fix_ok_json(&["--line-endings", "--yes"], &dir);
    assert_eq!(j.at("changed"), &Json::Bool(true), "{j}");
    assert_eq!(j.at("manifest_changed"), &Json::Bool(false), "{j}");
    let files = j.at("files").arr();
    let f = files
        .iter()
        .find(|f| f.at("name").str() == incr)
        .expect("incr in report");
    assert_eq!(f.at("line_endings_restored"), &Json::Bool(true), "{f}");
    assert!(f.at("skipped").arr().is_empty(), "{f}");
    let backup = PathBuf::from(f.at("backup").str());
    assert!(read(&backup) == original, "the backup holds the original");
    assert_eq!(backups_of(&dir.join(incr)), vec![backup]);
    let restored = read(&dir.join(incr));
    assert_eq!(crlf_to_lf(&restored), original, "only line ends changed");
    assert_eq!(read(&dir.join("appendonly.aof.manifest")), manifest);

    let c = run_tool(
        OsStr::new(REDIS_CHECK_AOF),
        &[dir.join("appendonly.aof.manifest").into_os_string()],
        None,
    );
    assert_eq!(c.code, 0, "redis-check-aof:\n{}", c.text());
    assert!(
        String::from_utf8_lossy(&c.stdout).contains("All AOF files and manifest are valid"),
        "{}",
        c.text()
    );

    // Independently: the base RDB, then the commands of the LF file replayed by a client.
    let mut want = RedisServer::start_with_rdb(&src.join("appendonly.aof.2.base.rdb"), &[]);
    let cmds = parse_lf(&original);
    assert!(cmds.len() > 9000);
    want.pipeline_ok(&cmds);
    let want_keys = keyspace(&mut want);
    let want_digest = digest(&mut want);
    let mut got = start_on_aof_dir(&dir);
    let got_keys = keyspace(&mut got.srv);
    assert!(got_keys.values().sum::<i64>() > 0);
    assert_eq!(got_keys, want_keys);
    assert_eq!(digest(&mut got.srv), want_digest);
}

#[test]
fn line_endings_restore_own_aof_byte_for_byte() {
    let mut srv = aof_server(false);
    let crlf: &[&[u8]] = &[
        b"line1\r\nline2",
        b"\r\n",
        b"\r\n\r\n",
        b"x\r\n",
        b"\r\nhead",
        b"ab\r",
        b"a\rb\r\nc",
    ];
    let bare: &[&[u8]] = &[
        b"a\nb",
        b"\n",
        b"\n\n",
        b"tail\n",
        b"\nhead",
        b"x\n\ny\n",
        b"p\rq\n",
    ];
    let mut cmds = vec![cmdv!["SELECT", "0"]];
    for (i, v) in crlf.iter().chain(bare).enumerate() {
        cmds.push(cmdv!["SET", format!("k{i}"), v]);
        cmds.push(cmdv!["RPUSH", b"list\nkey".as_slice(), v, "plain"]);
        cmds.push(cmdv!["HSET", format!("h\r\n{i}"), v, v]);
    }
    cmds.push(cmdv!["MULTI"]);
    cmds.push(cmdv!["SET", "tx", "a\r\nb"]);
    cmds.push(cmdv!["SET", "tx2", "a\nb"]);
    cmds.push(cmdv!["EXEC"]);
    cmds.push(cmdv!["SELECT", "1"]);
    cmds.push(cmdv!["SADD", "s", "", "\r\n", "\n", "*1\r\n$4\r\nPING"]);
    srv.pipeline_ok(&cmds);
    let (_, original) = incr_of(&aof_dir_files(&srv));
    let d = digest(&mut srv);
    drop(srv);
    let lf = crlf_to_lf(&original);
    assert_ne!(lf, original);
    let dir = TempDir::new("fix-lf");
    let p = dir.file("lf.aof", &lf);
    let j = fix_ok_json(&["--line-endings", "--yes", "--no-backup"], &p);
    let f = &j.at("files").arr()[0];
    assert_eq!(f.at("line_endings_restored"), &Json::Bool(true), "{f}");
    let got = read(&p);
    assert!(
        got == original,
        "not restored byte for byte: {}",
        bytes_diff(&original, &got).unwrap_or_default()
    );
    let mut l = start_on_plain(&got);
    assert_eq!(digest(&mut l.srv), d);

    // Without --line-endings the LF file is damage from its first byte on.
    let p = dir.file("lf2.aof", &lf);
    let j = fix_ok_json(&["--yes", "--no-backup"], &p);
    assert_eq!(
        j.at("files").arr()[0].at("line_endings_restored"),
        &Json::Bool(false)
    );
}

// ---------------------------------------------------------------------------------------------
// 5. --drop-flushall
// ---------------------------------------------------------------------------------------------

/// Writes, the digest, then `flush`; returns the server's appendonlydir copied to a temp dir,
/// the incr file's name, the digest before the flush, and where the flush run starts in the
/// incr file.
fn flushed_dir(seed: u64, flush: &[Cmd]) -> (TempDir, String, String, usize) {
    let mut srv = aof_server(false);
    let mut rng = Rng::new(seed);
    srv.pipeline_ok(&mix(&mut rng, 120));
    srv.pipeline_ok(&[cmdv!["SELECT", "1"], cmdv!["SET", "in:db1", "x"]]);
    srv.pipeline_ok(&[cmdv!["SELECT", "0"], cmdv!["SET", "in:db0", "x"]]);
    let (name, before) = incr_of(&aof_dir_files(&srv));
    let d = digest(&mut srv);
    srv.pipeline_ok(flush);
    let tmp = TempDir::new("fix-flush");
    let dir = tmp.path().join("appendonlydir");
    copy_dir(&srv.dir.join("appendonlydir"), &dir);
    drop(srv);
    let after = read(&dir.join(&name));
    assert!(after.starts_with(&before));
    // The flush run starts at the first FLUSH* record after `before`.
    let recs = split(&after);
    let start = recs
        .iter()
        .find(|r| r.start >= before.len() && r.name.starts_with(b"FLUSH"))
        .expect("a FLUSH command in the AOF")
        .start;
    (tmp, name, d, start)
}

#[test]
fn drop_flushall_brings_the_data_back() {
    let cases: Vec<(&str, Vec<Cmd>)> = vec![
        ("FLUSHALL", vec![cmdv!["FLUSHALL"]]),
        (
            "SELECT 1 + FLUSHDB",
            vec![cmdv!["SELECT", "1"], cmdv!["FLUSHDB"]],
        ),
        (
            "FLUSHALL, SELECT 1, FLUSHDB ASYNC",
            vec![
                cmdv!["FLUSHALL"],
                cmdv!["SELECT", "1"],
                cmdv!["FLUSHDB", "ASYNC"],
            ],
        ),
    ];
    for (i, (what, flush)) in cases.into_iter().enumerate() {
        let (tmp, name, d, start) = flushed_dir(0xf1_0500 + i as u64, &flush);
        let dir = tmp.path().join("appendonlydir");
        let incr = dir.join(&name);
        let original = read(&incr);
        let j = fix_ok_json(&["--drop-flushall", "--yes", "--no-backup"], &dir);
        let got = read(&incr);
        assert!(
            got == original[..start],
            "{what}: {}\n{j}",
            bytes_diff(&original[..start], &got).unwrap_or_default()
        );
        let f = j
            .at("files")
            .arr()
            .iter()
            .find(|f| f.at("name").str() == name)
            .expect("incr in the report");
        assert!(!f.at("flush_dropped").is_null(), "{what}: {f}");
        assert!(j.at("warnings").arr().is_empty(), "{what}: {j}");
        let mut l = start_on_aof_dir(&dir);
        assert_eq!(digest(&mut l.srv), d, "{what}: the data is not back");
    }
}

#[test]
fn drop_flushall_without_a_flush_changes_nothing() {
    let f = fixture();
    let dir = TempDir::new("fix-noflush");
    let p = dir.file("a.aof", &f.aof);
    let j = fix_ok_json(&["--drop-flushall", "--yes"], &p);
    assert!(read(&p) == f.aof, "the file changed");
    assert_eq!(j.at("changed"), &Json::Bool(false), "{j}");
    let w = j.at("warnings").arr();
    assert!(
        w.iter().any(|w| w.str().contains("FLUSHALL")),
        "no warning about the missing flush: {j}"
    );
    assert_eq!(listing(dir.path()), vec!["a.aof".to_string()], "no backup");
    // A FLUSHALL that is not at the end is left alone too.
    let mut data = encode(&[b"SET", b"a", b"1"]);
    data.extend(encode(&[b"FLUSHALL"]));
    data.extend(encode(&[b"SET", b"b", b"2"]));
    let p = dir.file("b.aof", &data);
    let j = fix_ok_json(&["--drop-flushall", "--yes"], &p);
    assert!(read(&p) == data);
    assert!(!j.at("warnings").arr().is_empty(), "{j}");
}

// ---------------------------------------------------------------------------------------------
// 6. Multi-part AOFs
// ---------------------------------------------------------------------------------------------

struct MultiPart {
    base_name: String,
    base: Vec<u8>,
    seq: u64,
    /// The real incr file split in two at a SELECT.
    a: Vec<u8>,
    b: Vec<u8>,
}

fn multi_part() -> &'static MultiPart {
    static M: OnceLock<MultiPart> = OnceLock::new();
    M.get_or_init(|| {
        let mut srv = aof_server(true);
        let mut rng = Rng::new(0x3a27_0006);
        srv.pipeline_ok(&mix(&mut rng, 150));
        wait_rewrite(&mut srv);
        srv.ok(&["BGREWRITEAOF"]);
        wait_rewrite(&mut srv);
        srv.pipeline_ok(&mix(&mut rng, 200));
        let files = aof_dir_files(&srv);
        drop(srv);
        let (_, m) = files
            .iter()
            .find(|(n, _)| n.ends_with(".manifest"))
            .expect("manifest");
        let entries = manifest_entries(m);
        let base = entries.iter().find(|e| e.2 == "b").expect("a base");
        let incr = entries.iter().find(|e| e.2 == "i").expect("an incr");
        let base_bytes = files[&base.0].clone();
        assert!(base_bytes.starts_with(b"REDIS"), "the base is an RDB");
        let data = files[&incr.0].clone();
        let recs = split(&data);
        let bl = blocks(&recs);
        let mid = recs.len() / 2;
        let k = (mid..recs.len())
            .find(|&i| recs[i].name == b"SELECT" && block_of(&bl, i).is_none())
            .expect("a SELECT after the middle");
        assert!(
            k > 20 && recs.len() - k > 20,
            "split at {k} of {}",
            recs.len()
        );
        MultiPart {
            base_name: base.0.clone(),
            base: base_bytes,
            seq: incr.1,
            a: data[..recs[k].start].to_vec(),
            b: data[recs[k].start..].to_vec(),
        }
    })
}

fn incr_name(seq: u64) -> String {
    format!("appendonly.aof.{seq}.incr.aof")
}

/// An appendonlydir in `root` with the base, the incr files `incrs` (seq, bytes or None for a
/// file the manifest lists but that is not there), and the manifest; returns its path.
fn write_multi(root: &Path, m: &MultiPart, incrs: &[(u64, Option<&[u8]>)]) -> PathBuf {
    let dir = root.join("appendonlydir");
    std::fs::create_dir(&dir).expect("mkdir");
    write(&dir.join(&m.base_name), &m.base);
    let mut manifest = format!("file {} seq {} type b\n", m.base_name, m.seq);
    for (seq, bytes) in incrs {
        manifest.push_str(&format!("file {} seq {seq} type i\n", incr_name(*seq)));
        if let Some(b) = bytes {
            write(&dir.join(incr_name(*seq)), b);
        }
    }
    write(&dir.join("appendonly.aof.manifest"), manifest.as_bytes());
    dir
}

#[test]
fn multi_part_damage_in_a_file_that_is_not_the_last() {
    let m = multi_part();
    let recs = split(&m.a);
    let bl = blocks(&recs);
    let r = (recs.len() / 2..recs.len())
        .find(|&i| block_of(&bl, i).is_none())
        .expect("a record outside blocks");
    let garbage = b"~~damaged~~ bytes \x00\x01 here".as_slice();
    let mut bad_a = m.a[..recs[r].start].to_vec();
    bad_a.extend_from_slice(garbage);
    bad_a.extend_from_slice(&m.a[recs[r].start + 3..]);
    let want_a: Vec<u8> = [&m.a[..recs[r].start], &m.a[recs[r].end..]].concat();
    let (s1, s2) = (m.seq, m.seq + 1);

    let tmp = TempDir::new("fix-multi");
    let dir = write_multi(tmp.path(), m, &[(s1, Some(&bad_a)), (s2, Some(&m.b))]);
    let manifest = read(&dir.join("appendonly.aof.manifest"));
    let j = fix_ok_json(&["--mode", "salvage", "--yes"], &dir);
    let got = read(&dir.join(incr_name(s1)));
    assert!(
        got == want_a,
        "first incr: {}\n{j}",
        bytes_diff(&want_a, &got).unwrap_or_default()
    );
    assert!(
        read(&dir.join(incr_name(s2))) == m.b,
        "the last incr changed"
    );
    assert!(read(&dir.join(&m.base_name)) == m.base, "the base changed");
    assert_eq!(read(&dir.join("appendonly.aof.manifest")), manifest);
    assert_eq!(j.at("manifest_changed"), &Json::Bool(false), "{j}");
    let roles: Vec<&str> = j
        .at("files")
        .arr()
        .iter()
        .map(|f| f.at("role").str())
        .collect();
    assert_eq!(roles, ["base", "incr", "incr"], "{j}");
    let warnings = j.at("warnings").arr();
    assert!(
        warnings
            .iter()
            .any(|w| w.str().contains("not the last file") && w.str().contains(&incr_name(s1))),
        "no gap warning: {j}"
    );
    let f1 = &j.at("files").arr()[1];
    assert_eq!(backups_of(&dir.join(incr_name(s1))).len(), 1);
    assert!(read(Path::new(f1.at("backup").str())) == bad_a);

    let mut got = start_on_aof_dir(&dir);
    let tmp2 = TempDir::new("fix-multi-want");
    let want_dir = write_multi(tmp2.path(), m, &[(s1, Some(&want_a)), (s2, Some(&m.b))]);
    let mut want = start_on_aof_dir(&want_dir);
    assert!(total_keys(&mut got.srv) > 0);
    assert_eq!(digest(&mut got.srv), digest(&mut want.srv));
}

#[test]
fn multi_part_missing_incr_file_is_taken_out_of_the_manifest() {
    let m = multi_part();
    let (s1, s2) = (m.seq, m.seq + 1);
    let tmp = TempDir::new("fix-missing");
    let dir = write_multi(tmp.path(), m, &[(s1, None), (s2, Some(&m.b))]);
    let manifest_path = dir.join("appendonly.aof.manifest");
    let manifest = read(&manifest_path);
    let j = fix_ok_json(&["--yes"], &dir);
    assert_eq!(j.at("manifest_changed"), &Json::Bool(true), "{j}");
    let mb = PathBuf::from(j.at("manifest_backup").str());
    assert!(
        read(&mb) == manifest,
        "the manifest backup holds the old manifest"
    );
    assert_eq!(backups_of(&manifest_path), vec![mb]);
    let want = format!(
        "file {} seq {} type b\nfile {} seq {s2} type i\n",
        m.base_name,
        m.seq,
        incr_name(s2)
    );
    assert_eq!(String::from_utf8_lossy(&read(&manifest_path)), want);
    assert!(read(&dir.join(incr_name(s2))) == m.b);
    assert!(
        j.at("warnings")
            .arr()
            .iter()
            .any(|w| w.str().contains(&incr_name(s1))),
        "no warning about the missing file: {j}"
    );
    let mut l = start_on_aof_dir(&dir);
    let tmp2 = TempDir::new("fix-missing-want");
    let want_dir = write_multi(tmp2.path(), m, &[(s2, Some(&m.b))]);
    let mut w = start_on_aof_dir(&want_dir);
    assert!(total_keys(&mut l.srv) > 0);
    assert_eq!(digest(&mut l.srv), digest(&mut w.srv));
}

// ---------------------------------------------------------------------------------------------
// 6b. Single-file AOFs with an RDB preamble
// ---------------------------------------------------------------------------------------------

/// A preamble AOF (the real base RDB, then the real incr commands as its RESP tail) with one
/// tail command damaged: salvage keeps the RDB part byte for byte and every other command.
#[test]
fn preamble_aof_damaged_tail_command() {
    let m = multi_part();
    let tail = [m.a.as_slice(), &m.b].concat();
    let recs = split(&tail);
    let bl = blocks(&recs);
    let r = (recs.len() / 3..recs.len())
        .find(|&i| block_of(&bl, i).is_none() && recs[i].name != b"SELECT")
        .expect("a plain command");
    let base = m.base.len();
    let mut data = m.base.clone();
    data.extend_from_slice(&tail[..recs[r].start]);
    data.extend_from_slice(b"@@ not a command @@");
    data.extend_from_slice(&tail[recs[r].start + 2..]);
    let want = [&m.base, &tail[..recs[r].start], &tail[recs[r].end..]].concat();
    let dir = TempDir::new("fix-preamble");
    let p = dir.file("appendonly.aof", &data);
    let j = fix_ok_json(&["--mode", "salvage", "--yes", "--no-backup"], &p);
    let got = read(&p);
    assert!(
        got == want,
        "{}\n{j}",
        bytes_diff(&want, &got).unwrap_or_default()
    );
    let file = &j.at("files").arr()[0];
    assert_eq!(file.at("rdb").at("clean"), &Json::Bool(true), "{file}");
    let sk = file.at("skipped").arr();
    assert_eq!(sk.len(), 1, "{file}");
    assert_eq!(
        sk[0].at("offset").i64(),
        (base + recs[r].start) as i64,
        "{file}"
    );
    let mut a = start_on_plain(&got);
    let mut b = start_on_plain(&want);
    assert!(total_keys(&mut a.srv) > 0);
    assert_eq!(digest(&mut a.srv), digest(&mut b.srv));
}

/// A preamble AOF whose RDB part has one damaged value: the RDB part is salvaged (the key
/// lost, a new checksum) and the RESP tail after it is kept.
#[test]
fn preamble_aof_damaged_rdb_part() {
    let f = rdb_fixture();
    let at = f
        .dump
        .windows(15)
        .position(|w| w == b"victim2-field-1")
        .expect("the field name in the dump");
    let mut data = f.dump.clone();
    data[at - 1..at + 2].copy_from_slice(&[0xff; 3]);
    let tail = [
        encode(&[b"SELECT", b"1"]),
        encode(&[b"SET", b"after", b"the preamble"]),
        encode(&[b"MULTI"]),
        encode(&[b"INCRBY", b"after:n", b"3"]),
        encode(&[b"RPUSH", b"after:l", b"a", b"b\r\n"]),
        encode(&[b"EXEC"]),
    ]
    .concat();
    data.extend_from_slice(&tail);
    let dir = TempDir::new("fix-preamble-rdb");
    let p = dir.file("appendonly.aof", &data);
    let j = fix_ok_json(&["--yes", "--no-backup"], &p);
    let file = &j.at("files").arr()[0];
    let rdb = file.at("rdb");
    assert_eq!(rdb.at("clean"), &Json::Bool(false), "{file}");
    let lost: Vec<Option<String>> = rdb
        .at("lost")
        .arr()
        .iter()
        .map(|l| l.opt_str("key"))
        .collect();
    assert_eq!(lost, [Some("victim2".to_string())], "{file}");
    assert_eq!(file.at("commands_kept").i64(), 6, "{file}");
    let got = read(&p);
    assert!(got.ends_with(&tail), "the RESP tail is not kept as it was");
    assert!(got.starts_with(b"REDIS"));

    let orig = dir.file("orig.rdb", &f.dump);
    let mut want = RedisServer::start_with_rdb(&orig, &[]);
    want.ok(&["SELECT", "6"]);
    want.ok(&["DEL", "victim2"]);
    want.pipeline_ok(&[
        cmdv!["SELECT", "1"],
        cmdv!["SET", "after", "the preamble"],
        cmdv!["INCRBY", "after:n", "3"],
        cmdv!["RPUSH", "after:l", "a", "b\r\n"],
        cmdv!["SELECT", "0"],
    ]);
    let mut l = start_on_plain(&got);
    assert_eq!(digest(&mut l.srv), digest(&mut want));
}

// ---------------------------------------------------------------------------------------------
// 7. Backups, --dry-run, the question
// ---------------------------------------------------------------------------------------------

#[test]
fn backups_dry_run_and_the_question() {
    let d = &damages()[1];
    let dir = TempDir::new("fix-backup");
    let p = dir.file("a.aof", &d.data);
    let only = vec!["a.aof".to_string()];

    // --dry-run: the plan, no change, no backup.
    for args in [
        &["--dry-run"][..],
        &["--dry-run", "--yes", "--mode", "salvage"],
    ] {
        let r = fix(args, &p, None);
        assert_eq!(r.code, 0, "{}: {}", r.shown, r.text());
        assert!(read(&p) == d.data, "{}: the file changed", r.shown);
        assert_eq!(listing(dir.path()), only, "{}", r.shown);
        assert!(!r.text().contains("Continue?"), "{}: asked", r.shown);
    }
    let j = fix(&["--dry-run", "--json"], &p, None).json();
    assert_eq!(j.at("dry_run"), &Json::Bool(true));
    assert_eq!(j.at("changed"), &Json::Bool(false));
    assert_eq!(j.at("files").arr()[0].at("changed"), &Json::Bool(true));

    // No, or no answer at all: exit 1, nothing changed.
    for (stdin, what) in [
        (Some(&b"n\n"[..]), "n"),
        (Some(&b""[..]), "EOF"),
        (None, "/dev/null"),
        (Some(&b"\n"[..]), "empty line"),
    ] {
        let r = fix(&[], &p, stdin);
        assert_eq!(r.code, 1, "answer {what}: {}", r.text());
        assert!(
            r.text().contains("Continue? [y/N]"),
            "answer {what}: {}",
            r.text()
        );
        assert!(read(&p) == d.data, "answer {what}: the file changed");
        assert_eq!(listing(dir.path()), only, "answer {what}");
    }

    // With --json the question goes to stderr and stdout holds only the report.
    let r = fix(&["--json"], &p, Some(b"n\n"));
    assert_eq!(r.code, 1, "{}", r.text());
    assert!(r.stderr.contains("Continue? [y/N]"), "{}", r.text());
    let j = r.json();
    assert_eq!(j.at("ok"), &Json::Bool(false), "{j}");
    assert_eq!(j.at("exit_code").i64(), 1, "{j}");
    assert_eq!(j.at("changed"), &Json::Bool(false), "{j}");
    assert!(read(&p) == d.data);
    assert_eq!(listing(dir.path()), only);

    // Yes: fixed, the original kept as a.aof.bak.<unix seconds>.
    let r = fix(&[], &p, Some(b"y\n"));
    assert_eq!(r.code, 0, "{}", r.text());
    assert!(read(&p) == d.truncate);
    let b = backups_of(&p);
    assert_eq!(b.len(), 1, "{:?}", listing(dir.path()));
    assert!(read(&b[0]) == d.data, "the backup holds the original");
    let secs: u64 = b[0]
        .to_string_lossy()
        .rsplit('.')
        .next()
        .and_then(|t| t.parse().ok())
        .expect("backup suffix");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    assert!(
        secs.abs_diff(now) < 600,
        "backup suffix {secs} is not the unix time (now {now})"
    );
    assert_eq!(listing(dir.path()).len(), 2, "{:?}", listing(dir.path()));

    // Nothing left to repair: exit 0, no new backup.
    let j = fix_ok_json(&["--mode", "salvage", "--yes"], &p);
    assert_eq!(j.at("changed"), &Json::Bool(false), "{j}");
    assert!(read(&p) == d.truncate);
    assert_eq!(backups_of(&p).len(), 1);

    // --yes with a backup, reported in the JSON.
    let q = dir.file("b.aof", &d.data);
    let j = fix_ok_json(&["--mode", "salvage", "--yes"], &q);
    let backup = PathBuf::from(j.at("files").arr()[0].at("backup").str());
    assert_eq!(backups_of(&q), vec![backup.clone()]);
    assert!(read(&backup) == d.data);
    assert!(read(&q) == d.salvage);
    // --no-backup.
    let q = dir.file("c.aof", &d.data);
    let j = fix_ok_json(&["--yes", "--no-backup"], &q);
    assert!(j.at("files").arr()[0].at("backup").is_null(), "{j}");
    assert!(backups_of(&q).is_empty());
}

// ---------------------------------------------------------------------------------------------
// 8. RDB files
// ---------------------------------------------------------------------------------------------

/// db -> key -> (DEBUG DIGEST-VALUE, PEXPIRETIME)
type KeyTable = BTreeMap<u32, BTreeMap<Vec<u8>, (Vec<u8>, i64)>>;

struct RdbFixture {
    dump: Vec<u8>,
    keys: KeyTable,
    /// DEBUG DIGEST without one key: "victim" (db 5) or "victim2" (db 6).
    digest_without: BTreeMap<&'static str, String>,
}

fn key_table(srv: &mut RedisServer) -> KeyTable {
    let mut out = BTreeMap::new();
    for db in keyspace(srv).keys() {
        srv.ok(&["SELECT", &db.to_string()]);
        let keys = srv.ok(&["KEYS", "*"]).bulks();
        let mut m = BTreeMap::new();
        for k in keys {
            let dv = srv.cmd(&[b"DEBUG", b"DIGEST-VALUE", &k]);
            let dv = dv.array()[0].bulk().to_vec();
            let ttl = srv.cmd(&[b"PEXPIRETIME", &k]).int();
            m.insert(k, (dv, ttl));
        }
        out.insert(*db, m);
    }
    srv.ok(&["SELECT", "0"]);
    out
}

/// A small hash (listpack) `name` with fields `<name>-field-<i>`, in `db`.
fn victim_cmds(db: &str, name: &str) -> Vec<Cmd> {
    let mut v = vec![cmdv!["SELECT", db], cmdv!["DEL", name]];
    for i in 0..6 {
        v.push(cmdv![
            "HSET",
            name,
            format!("{name}-field-{i}"),
            format!("value-{i}")
        ]);
    }
    v
}

/// Offset just after the record of key `name` (a listpack hash) in an RDB written by Redis 7.0.
fn record_end(dump: &[u8], name: &[u8]) -> usize {
    let head = [&[0x10, name.len() as u8][..], name].concat();
    let at = dump
        .windows(head.len())
        .position(|w| w == head.as_slice())
        .expect("the victim's record")
        + head.len();
    let b = dump[at];
    let (len, size) = match b >> 6 {
        0 => (usize::from(b & 0x3f), 1),
        1 => ((usize::from(b & 0x3f) << 8) | usize::from(dump[at + 1]), 2),
        _ => panic!("unexpected length encoding {b:#x} of the victim's listpack"),
    };
    at + size + len
}

/// Data of every type in dbs 0 and 1 (some keys binary), plus:
/// - db 5: "victim" among strings whose keys are binary, always with one of them right after
///   it in the file (the dict order is random per server, so the dump is made again until so);
/// - db 6: "victim2" among strings with text keys.
fn rdb_fixture() -> &'static RdbFixture {
    static R: OnceLock<RdbFixture> = OnceLock::new();
    R.get_or_init(|| {
        for _attempt in 0..20 {
            let mut srv = RedisServer::start(&[("rdbcompression", "no")]);
            let mut rng = Rng::new(0x4db0_0008);
            srv.pipeline_ok(&mix(&mut rng, 400));
            let mut v = victim_cmds("5", "victim");
            for i in 0..12 {
                v.push(cmdv![
                    "SET",
                    format!("bin\x00\r\n\u{ff}{i}"),
                    format!("value {i}")
                ]);
            }
            v.extend(victim_cmds("6", "victim2"));
            for i in 0..6 {
                v.push(cmdv!["SET", format!("text:{i}"), format!("value {i}")]);
            }
            v.push(cmdv!["SELECT", "0"]);
            srv.pipeline_ok(&v);
            let dump = read(&srv.save());
            // A string record (type 0, no expiry) must follow "victim".
            if dump[record_end(&dump, b"victim")] != 0 {
                continue;
            }
            let keys = key_table(&mut srv);
            let mut digest_without = BTreeMap::new();
            for (db, name) in [("5", "victim"), ("6", "victim2")] {
                srv.ok(&["SELECT", db]);
                srv.ok(&["DEL", name]);
                digest_without.insert(name, digest(&mut srv));
                // Put it back: a hash's digest does not depend on the order of its fields.
                srv.pipeline_ok(&victim_cmds(db, name));
            }
            assert_eq!(key_table(&mut srv), keys, "the victims were not restored");
            return RdbFixture {
                dump,
                keys,
                digest_without,
            };
        }
        panic!("20 dumps in a row without a string right after the victim");
    })
}

fn redis_check_rdb(p: &Path) -> Run {
    run_tool(
        OsStr::new(REDIS_CHECK_RDB),
        &[p.as_os_str().to_os_string()],
        None,
    )
}

/// Damage the listpack of `name` (its 4th field's header and first bytes), fix the copy:
/// the report must name exactly that key as lost, redis-check-rdb must accept the result and a
/// server loading it must hold everything else, unchanged.
fn check_one_key_lost(name: &str) {
    let f = rdb_fixture();
    let field = format!("{name}-field-3");
    let at = f
        .dump
        .windows(field.len())
        .position(|w| w == field.as_bytes())
        .expect("the field name in the dump");
    let mut data = f.dump.clone();
    data[at - 1..at + 3].copy_from_slice(&[0xff; 4]);
    let dir = TempDir::new("fix-rdb");
    let p = dir.file("dump.rdb", &data);
    assert_ne!(
        redis_check_rdb(&p).code,
        0,
        "the damage is not detected by Redis"
    );

    let j = fix_ok_json(&["--yes"], &p);
    let file = &j.at("files").arr()[0];
    let rdb = file.at("rdb");
    assert_eq!(rdb.at("clean"), &Json::Bool(false), "{file}");
    let lost: Vec<Option<String>> = rdb
        .at("lost")
        .arr()
        .iter()
        .map(|l| l.opt_str("key"))
        .collect();
    assert_eq!(lost, [Some(name.to_string())], "{file}");
    let total: usize = f.keys.values().map(|m| m.len()).sum();
    let end = record_end(&f.dump, name.as_bytes());
    assert_eq!(
        rdb.at("kept_keys").i64(),
        total as i64 - 1,
        "only {name} may be lost; the record after it (offset {end}: {}) is intact: {file}",
        show_bytes(&f.dump[end..(end + 24).min(f.dump.len())])
    );
    assert_eq!(backups_of(&p).len(), 1);

    let c = redis_check_rdb(&p);
    assert_eq!(
        c.code,
        0,
        "redis-check-rdb rejects the result:\n{}",
        c.text()
    );
    let mut srv = RedisServer::start_with_rdb(&p, &[]);
    assert_eq!(digest(&mut srv), f.digest_without[name]);
}

#[test]
fn rdb_damaged_listpack_loses_one_key() {
    check_one_key_lost("victim2");
}

/// The damaged record frames (only its listpack is bad), so the next record's offset is known;
/// that record is an intact string whose key is not text.
#[test]
fn rdb_binary_key_right_after_a_damaged_value_is_kept() {
    check_one_key_lost("victim");
}

#[test]
fn rdb_random_overwrites_in_the_middle() {
    let f = rdb_fixture();
    let dir = TempDir::new("fix-rdb-rand");
    let n = f.dump.len();
    let mut errs = Vec::new();
    for seed in 0..5u64 {
        let mut rng = Rng::new(0x4db1_0000 + seed);
        // Not over a SELECTDB (0xfe, db, then RESIZEDB's 0xfb): a db number damaged into
        // another one moves keys between dbs, which no salvage can notice.
        let selects: Vec<usize> = (0..n - 2)
            .filter(|&i| f.dump[i] == 0xfe && f.dump[i + 1] < 16 && f.dump[i + 2] == 0xfb)
            .collect();
        let (at, k) = loop {
            let at = rng.range(n as u64 / 4, n as u64 * 3 / 4) as usize;
            let k = rng.range(3, 8) as usize;
            if !selects.iter().any(|&i| at < i + 3 && i < at + k) {
                break (at, k);
            }
        };
        let mut data = f.dump.clone();
        let g = rng.bytes(k);
        data[at..at + k].copy_from_slice(&g);
        let ctx = format!("seed {seed}: {k} bytes at {at} overwritten");
        let p = dir.file(&format!("d{seed}.rdb"), &data);
        let j = fix_ok_json(&["--yes", "--no-backup"], &p);
        let rdb = j.at("files").arr()[0].at("rdb").clone();
        let c = redis_check_rdb(&p);
        if c.code != 0 {
            errs.push(format!(
                "{ctx}: redis-check-rdb rejects the result: {}",
                c.text()
            ));
            continue;
        }
        let mut srv = RedisServer::start_with_rdb(&p, &[]);
        let got = key_table(&mut srv);
        // Every key kept is an original key with its original value and expiry, except at
        // most the one whose payload or expiry the garbage overwrote without breaking its
        // framing: changed, or gone on load (an expiry turned into one in the past).
        let mut changed = Vec::new();
        let mut kept = 0;
        for (db, m) in &got {
            for (key, v) in m {
                kept += 1;
                match f.keys.get(db).and_then(|o| o.get(key)) {
                    Some(o) if o == v => {}
                    _ => changed.push(format!("db {db} {}", show_bytes(key))),
                }
            }
        }
        let vanished = rdb.at("kept_keys").i64() - kept as i64;
        if vanished < 0 || changed.len() as i64 + vanished > 1 {
            errs.push(format!(
                "{ctx}: kept_keys {} but the server loaded {kept}; keys differing from the \
                 original: {changed:?}",
                rdb.at("kept_keys")
            ));
        }
        for l in rdb.at("lost").arr() {
            if let (Some(key), Some(db)) = (l.opt_str("key"), l.opt_i64("db")) {
                if got
                    .get(&(db as u32))
                    .is_some_and(|m| m.contains_key(key.as_bytes()))
                {
                    errs.push(format!("{ctx}: lost key {key:?} is on the server"));
                }
            }
        }
        let total: usize = f.keys.values().map(|m| m.len()).sum();
        if kept + 30 < total {
            errs.push(format!("{ctx}: only {kept} of {total} keys kept: {rdb}"));
        }
    }
    assert!(errs.is_empty(), "{}", errs.join("\n"));
}

#[test]
fn rdb_intact_is_left_alone() {
    let f = rdb_fixture();
    let dir = TempDir::new("fix-rdb-ok");
    let p = dir.file("dump.rdb", &f.dump);
    let j = fix_ok_json(&["--yes"], &p);
    assert_eq!(j.at("changed"), &Json::Bool(false), "{j}");
    assert!(read(&p) == f.dump);
    assert_eq!(listing(dir.path()), vec!["dump.rdb".to_string()]);
}
