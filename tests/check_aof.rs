//! `redkit check-aof` against the real `redis-check-aof` 7.0.15 on the same inputs: valid files of
//! every kind, a small AOF cut at every byte offset, inserted garbage, MULTI/EXEC edge cases,
//! damaged and malformed multi-part AOFs, `--truncate-to-timestamp`, and redkit's own options.
//!
//! Both tools run on fresh copies of the same files at the same path (one temp dir, one tool
//! after the other), so the names they print are the same. What is compared: stdout (after the
//! normalisations for the documented differences, see [`normalize`]), the exit code, and every
//! file's bytes afterwards. The inputs come from a live redis-server 7.0 (see [`fixture`]).

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{corpus_dir, corpus_file, Cmd, Json, RedisServer, Reply, Rng, TempDir};

const REDIS_CHECK_AOF: &str = "/usr/bin/redis-check-aof";

/// Relative path (with `/`) -> bytes: the files a case starts from, or what is left after a run.
type Tree = BTreeMap<String, Vec<u8>>;

// ---------------------------------------------------------------------------------------------
// Running the tools
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Out {
    code: Option<i32>,
    signal: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

fn run_in(mut cmd: Command, dir: &Path, stdin: &[u8]) -> Out {
    let mut child = cmd
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if let Some(mut s) = child.stdin.take() {
        // A tool that does not read its input may be gone already: a broken pipe is fine.
        let _ = s.write_all(stdin);
    }
    let out = child.wait_with_output().expect("wait for the tool");
    Out {
        code: out.status.code(),
        signal: out.status.signal(),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run_redis(dir: &Path, args: &[&str], stdin: &[u8]) -> Out {
    let mut cmd = Command::new(REDIS_CHECK_AOF);
    cmd.args(args);
    run_in(cmd, dir, stdin)
}

/// `redkit check-aof ARGS`; whatever the input, it must exit 0 or 1 without a panic.
fn run_redkit(dir: &Path, args: &[&str], stdin: &[u8]) -> Out {
    let mut cmd = common::redkit();
    cmd.arg("check-aof").args(args);
    let out = run_in(cmd, dir, stdin);
    assert!(
        !out.stderr.contains("panicked") && out.signal.is_none(),
        "redkit check-aof {args:?} in {} crashed: {:?}\n{}",
        dir.display(),
        out.signal,
        out.stderr
    );
    assert!(
        matches!(out.code, Some(0 | 1)),
        "redkit check-aof {args:?} exited with {:?}\n{}",
        out.code,
        out.stderr
    );
    out
}

/// Empty `dir`, then write `tree` into it.
fn write_tree(dir: &Path, tree: &Tree) {
    for e in std::fs::read_dir(dir).expect("read temp dir") {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            std::fs::remove_dir_all(&p).expect("clear temp dir");
        } else {
            std::fs::remove_file(&p).expect("clear temp dir");
        }
    }
    for (rel, bytes) in tree {
        let p = dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create dir");
        }
        std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    }
}

/// Every file under `dir`, by relative path.
fn read_tree(dir: &Path) -> Tree {
    fn walk(root: &Path, dir: &Path, out: &mut Tree) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
            .map(|e| e.expect("dir entry").path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .expect("under root")
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read(&p).expect("read file"));
            }
        }
    }
    let mut t = Tree::new();
    walk(dir, dir, &mut t);
    t
}

/// One input run through both tools.
struct Pair {
    redis: Out,
    redkit: Out,
    redis_tree: Tree,
    redkit_tree: Tree,
}

/// Run redis-check-aof then redkit, each on a fresh copy of `tree` in `dir` (same paths).
fn run_pair(
    dir: &Path,
    tree: &Tree,
    redis_args: &[&str],
    redkit_args: &[&str],
    redis_in: &[u8],
    redkit_in: &[u8],
) -> Pair {
    write_tree(dir, tree);
    let redis = run_redis(dir, redis_args, redis_in);
    let redis_tree = read_tree(dir);
    write_tree(dir, tree);
    let redkit = run_redkit(dir, redkit_args, redkit_in);
    let redkit_tree = read_tree(dir);
    Pair {
        redis,
        redkit,
        redis_tree,
        redkit_tree,
    }
}

// ---------------------------------------------------------------------------------------------
// Comparing
// ---------------------------------------------------------------------------------------------

const PROMPT: &[u8] = b"Continue? [y/N]: ";

fn split_lines(out: &[u8]) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = out.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    if v.last().is_some_and(|l| l.is_empty()) {
        v.pop();
    }
    v
}

/// `pid:C date # ` in front of a redis log line.
fn log_prefix_len(line: &[u8]) -> Option<usize> {
    let digits = line.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || !line[digits..].starts_with(b":C ") {
        return None;
    }
    line.windows(3).position(|w| w == b" # ").map(|i| i + 3)
}

/// The lines of one tool's stdout with the documented differences taken out:
/// - the lines of the RDB check of a preamble or RDB base (between the "Start ..." line and the
///   preamble verdict) are dropped;
/// - redis's manifest log lines lose their `pid:C date # ` prefix and the empty lines go
///   (`manifest_log`, decided from the redis output);
/// - in timestamp mode redkit's extra "This will truncate the AOF ..." line and its question go
///   (`ts_mode`, redkit only).
fn normalize(out: &[u8], is_redkit: bool, ts_mode: bool, manifest_log: bool) -> Vec<Vec<u8>> {
    let mut lines = split_lines(out);
    if is_redkit && ts_mode {
        lines.retain(|l| !l.starts_with(b"This will truncate the AOF"));
        for l in &mut lines {
            if l.starts_with(PROMPT) {
                l.drain(..PROMPT.len());
            }
        }
    }
    if manifest_log {
        for l in &mut lines {
            if let Some(n) = log_prefix_len(l) {
                l.drain(..n);
            }
        }
        lines.retain(|l| !l.is_empty());
    }
    let verdict = lines.iter().position(|l| {
        l == b"RDB preamble is OK, proceeding with AOF tail..."
            || l == b"RDB preamble of AOF file is not sane, aborting."
    });
    if let Some(v) = verdict {
        let start = lines[..v].iter().rposition(|l| {
            l == b"Start checking Old-Style AOF" || l == b"Start to check BASE AOF (RDB format)."
        });
        if let Some(s) = start {
            lines.drain(s + 1..v);
        }
        // When a header line ends at the end of the file, redis prints the byte after fgets's
        // NUL: memory the RDB check used before, so no model can know it.
        for l in &mut lines {
            let pat = b"Expected \\r\\n, got: 00";
            if let Some(i) = l.windows(pat.len()).position(|w| w == pat) {
                l.truncate(i + pat.len());
                l.extend_from_slice(b"??");
            }
        }
    }
    lines
}

fn show_out(out: &[u8]) -> String {
    let mut s = String::new();
    for l in split_lines(out) {
        s.push_str("    | ");
        s.push_str(&escape(&l));
        s.push('\n');
    }
    s
}

/// Printable ASCII as is, other bytes as `\xNN`.
fn escape(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b {
        if (0x20..0x7f).contains(&c) {
            s.push(c as char);
        } else {
            s.push_str(&format!("\\x{c:02x}"));
        }
    }
    s
}

fn show_tree_diff(a: &Tree, b: &Tree) -> String {
    let mut s = String::new();
    for k in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
        match (a.get(k), b.get(k)) {
            (Some(x), Some(y)) if x == y => {}
            (x, y) => s.push_str(&format!(
                "    {k}: redis {:?} bytes, redkit {:?} bytes\n",
                x.map(Vec::len),
                y.map(Vec::len)
            )),
        }
    }
    s
}

enum Verdict {
    Same,
    /// redis-check-aof was killed by a signal: nothing to compare.
    RedisCrashed(String),
    Differ(String),
}

/// Compare a pair: normalised stdout, exit code, the files afterwards.
fn compare(case: &str, p: &Pair, ts_mode: bool) -> Verdict {
    if let Some(sig) = p.redis.signal {
        return Verdict::RedisCrashed(format!("{case}: redis-check-aof killed by signal {sig}"));
    }
    let manifest_log = split_lines(&p.redis.stdout)
        .iter()
        .any(|l| log_prefix_len(l).is_some());
    let mut a = normalize(&p.redis.stdout, false, ts_mode, manifest_log);
    let mut b = normalize(&p.redkit.stdout, true, ts_mode, manifest_log);
    // Redis's RDB loader exits from inside the preamble check on a short raw read (docs/aof.md):
    // then both outputs count as "preamble refused" from the "Start ..." line on.
    let redis_exited = split_lines(&p.redis.stdout)
        .iter()
        .any(|l| l.ends_with(b"Terminating server after rdb file reading failure."));
    if redis_exited {
        for lines in [&mut a, &mut b] {
            let start = lines.iter().rposition(|l| {
                l == b"Start checking Old-Style AOF"
                    || l == b"Start to check BASE AOF (RDB format)."
            });
            if let Some(s) = start {
                lines.truncate(s + 1);
                lines.push(b"<the RDB preamble is refused>".to_vec());
            }
        }
        // redkit's own verdict must still be there.
        if !split_lines(&p.redkit.stdout)
            .iter()
            .any(|l| l == b"RDB preamble of AOF file is not sane, aborting.")
        {
            b.push(b"<no preamble verdict>".to_vec());
        }
    }
    let mut why = Vec::new();
    if a != b {
        why.push("stdout differs");
    }
    if p.redis.code != p.redkit.code {
        why.push("exit code differs");
    }
    if p.redis_tree != p.redkit_tree {
        why.push("files differ afterwards");
    }
    if why.is_empty() {
        return Verdict::Same;
    }
    Verdict::Differ(format!(
        "{case}: {}\n  redis-check-aof (exit {:?}):\n{}  redkit (exit {:?}):\n{}{}",
        why.join(", "),
        p.redis.code,
        show_out(&p.redis.stdout),
        p.redkit.code,
        show_out(&p.redkit.stdout),
        if p.redis_tree != p.redkit_tree {
            show_tree_diff(&p.redis_tree, &p.redkit_tree)
        } else {
            String::new()
        }
    ))
}

/// Mismatches and redis crashes of a batch of cases.
#[derive(Default)]
struct Tally {
    cases: usize,
    mismatches: Vec<String>,
    crashes: Vec<String>,
    /// redis output lines seen (first 60 bytes), to assert coverage.
    seen: Vec<String>,
}

impl Tally {
    fn add(&mut self, case: &str, p: &Pair, ts_mode: bool) {
        self.cases += 1;
        for l in split_lines(&p.redis.stdout) {
            let l = String::from_utf8_lossy(&l).into_owned();
            if !self.seen.contains(&l) {
                self.seen.push(l);
            }
        }
        match compare(case, p, ts_mode) {
            Verdict::Same => {}
            Verdict::RedisCrashed(m) => self.crashes.push(m),
            Verdict::Differ(m) => self.mismatches.push(m),
        }
    }

    fn merge(&mut self, o: Tally) {
        self.cases += o.cases;
        self.mismatches.extend(o.mismatches);
        self.crashes.extend(o.crashes);
        for l in o.seen {
            if !self.seen.contains(&l) {
                self.seen.push(l);
            }
        }
    }

    /// Did some redis output line contain `s`?
    fn saw(&self, s: &str) -> bool {
        self.seen.iter().any(|l| l.contains(s))
    }

    fn assert_covered(&self, what: &str, wanted: &[&str]) {
        for w in wanted {
            assert!(
                self.saw(w),
                "{what}: no case made redis-check-aof print {w:?}; the inputs no longer cover it"
            );
        }
    }

    /// Panic with the mismatches (and crashes beyond `max_crash_pct` percent of the cases).
    fn finish(&self, what: &str, max_crash_pct: usize) {
        if !self.crashes.is_empty() {
            eprintln!(
                "{what}: redis-check-aof crashed on {} of {} cases (not compared):",
                self.crashes.len(),
                self.cases
            );
            for c in &self.crashes {
                eprintln!("  {c}");
            }
        }
        assert!(
            self.crashes.len() * 100 <= self.cases * max_crash_pct,
            "{what}: redis-check-aof crashed on {} of {} cases",
            self.crashes.len(),
            self.cases
        );
        eprintln!(
            "{what}: {} cases, {} differ, {} redis crashes",
            self.cases,
            self.mismatches.len(),
            self.crashes.len()
        );
        if !self.mismatches.is_empty() {
            let mut msg = format!(
                "{what}: {} of {} cases differ between redis-check-aof and redkit check-aof\n",
                self.mismatches.len(),
                self.cases
            );
            for m in self.mismatches.iter().take(12) {
                msg.push_str(m);
                msg.push('\n');
            }
            panic!("{msg}");
        }
    }
}

/// `f(dir, item)` for every item on two worker threads, each with its own temp dir.
fn par_tally<T: Sync>(items: &[T], f: impl Fn(&Path, &T, &mut Tally) + Sync) -> Tally {
    let next = AtomicUsize::new(0);
    let mut total = Tally::default();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let tmp = TempDir::new("check-aof");
                    let mut t = Tally::default();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        f(tmp.path(), item, &mut t);
                    }
                    t
                })
            })
            .collect();
        for w in workers {
            total.merge(w.join().expect("worker panicked"));
        }
    });
    total
}

fn tree1(name: &str, bytes: &[u8]) -> Tree {
    [(name.to_string(), bytes.to_vec())].into_iter().collect()
}

/// A tree with every file of `files` under `appendonlydir/`.
fn in_dir(files: &Tree) -> Tree {
    files
        .iter()
        .map(|(k, v)| (format!("appendonlydir/{k}"), v.clone()))
        .collect()
}

const MANIFEST: &str = "appendonlydir/appendonly.aof.manifest";

/// Check mode, then --fix answering "y" (redkit with --force, so a cut to 0 bytes goes ahead
/// as with redis; the refusal without it is checked separately where redis cut to 0).
fn check_and_fix(dir: &Path, case: &str, tree: &Tree, target: &str, t: &mut Tally) {
    let p = run_pair(dir, tree, &[target], &[target], b"", b"");
    assert_eq!(
        &p.redkit_tree, tree,
        "{case}: redkit changed files in check mode"
    );
    t.add(&format!("{case} [check]"), &p, false);
    let p = run_pair(
        dir,
        tree,
        &["--fix", target],
        &["--fix", "--no-backup", "--force", target],
        b"y\n",
        b"y\n",
    );
    t.add(&format!("{case} [--fix]"), &p, false);
    if p.redis.signal.is_none()
        && split_lines(&p.redis.stdout)
            .iter()
            .any(|l| l.starts_with(b"This will shrink") && l.ends_with(b" to 0 bytes"))
    {
        // redkit refuses to empty a file without --force.
        write_tree(dir, tree);
        let r = run_redkit(dir, &["--fix", "--no-backup", target], b"y\n");
        let text = String::from_utf8_lossy(&r.stdout);
        if r.code != Some(1)
            || !text.contains("redkit fix --line-endings")
            || read_tree(dir) != *tree
        {
            t.mismatches.push(format!(
                "{case} [--fix without --force, redis cut to 0 bytes]: redkit should refuse \
                 (exit 1, mention `redkit fix --line-endings`, change nothing); exit {:?}:\n{}",
                r.code,
                show_out(&r.stdout)
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Building AOFs with a live redis-server 7.0
// ---------------------------------------------------------------------------------------------

/// One RESP command as it appears in an AOF.
fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    redkit_formats::resp::encode_command(args, &mut out);
    out
}

/// Byte ranges of the records (commands and annotations) of a well-formed AOF.
fn records(data: &[u8]) -> Vec<(usize, usize)> {
    fn line_end(data: &[u8], at: usize) -> usize {
        at + data[at..]
            .iter()
            .position(|&b| b == b'\n')
            .expect("record line ends")
            + 1
    }
    fn number(line: &[u8]) -> usize {
        std::str::from_utf8(&line[1..line.len() - 2])
            .expect("ascii")
            .parse()
            .expect("number")
    }
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let start = at;
        match data[at] {
            b'#' => at = line_end(data, at),
            b'*' => {
                let e = line_end(data, at);
                let n = number(&data[at..e]);
                at = e;
                for _ in 0..n {
                    let e = line_end(data, at);
                    at = e + number(&data[at..e]) + 2;
                }
            }
            other => panic!("fixture AOF: unexpected byte {other:#x} at {at}"),
        }
        out.push((start, at));
    }
    out
}

/// `(offset, timestamp)` of every `#TS:` annotation.
fn timestamps(data: &[u8]) -> Vec<(usize, i64)> {
    records(data)
        .into_iter()
        .filter(|&(s, _)| data[s..].starts_with(b"#TS:"))
        .map(|(s, e)| {
            let t = std::str::from_utf8(&data[s + 4..e - 2])
                .expect("ascii")
                .parse()
                .expect("timestamp");
            (s, t)
        })
        .collect()
}

/// The manifest of a multi-part tree: (name, type) in file order.
fn manifest_entries(files: &Tree) -> Vec<(String, char)> {
    let (_, m) = files
        .iter()
        .find(|(k, _)| k.ends_with(".manifest"))
        .expect("a manifest");
    String::from_utf8_lossy(m)
        .lines()
        .filter(|l| l.starts_with("file "))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let ty = w[5].chars().next().expect("type");
            (w[1].to_string(), ty)
        })
        .collect()
}

fn base_of(files: &Tree) -> Vec<u8> {
    let (n, _) = manifest_entries(files)
        .into_iter()
        .find(|e| e.1 == 'b')
        .expect("a base");
    files[&n].clone()
}

fn last_incr_name(files: &Tree) -> String {
    manifest_entries(files)
        .into_iter()
        .rfind(|e| e.1 == 'i')
        .expect("an incr file")
        .0
}

/// AOF inputs written by a real redis-server 7.0.
struct Fixture {
    /// appendonlydir with a RESP base and an incr file with several `#TS` annotations.
    resp_dir: Tree,
    /// appendonlydir with an RDB base.
    rdb_dir: Tree,
    /// Old-style plain AOF: the RESP base followed by its incr file.
    plain: Vec<u8>,
    /// The incr file of `resp_dir` alone (starts with a `#TS` annotation).
    incr_ts: Vec<u8>,
    /// Old-style RDB-preamble AOF: the RDB base followed by its incr file.
    preamble: Vec<u8>,
    /// The first records of `incr_ts`, up to its third annotation: two annotations, MULTI/EXEC,
    /// CRLF and binary values, a SELECT.
    small: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(build_fixture)
}

fn info_field(srv: &mut RedisServer, section: &str, field: &str) -> String {
    let info = srv.cmd(&[b"INFO", section.as_bytes()]);
    let text = String::from_utf8_lossy(info.bulk()).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("INFO {section} has no {field}"))
        .trim()
        .to_string()
}

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

fn rewrite(srv: &mut RedisServer) {
    wait_rewrite(srv);
    srv.ok(&["BGREWRITEAOF"]);
    wait_rewrite(srv);
}

/// Sleep until just past the next whole second, so the next write gets a new `#TS`.
fn next_second() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
    let left = 1_000_000_000 - u64::from(now.subsec_nanos());
    std::thread::sleep(Duration::from_nanos(left) + Duration::from_millis(50));
}

fn appendonlydir(srv: &RedisServer) -> Tree {
    let mut t = read_tree(&srv.dir.join("appendonlydir"));
    t.retain(|k, _| !k.starts_with("temp-"));
    t
}

fn value(rng: &mut Rng) -> Vec<u8> {
    let n = rng.range(1, 16) as usize;
    match rng.below(7) {
        0 | 1 => rng.alnum(n),
        2 => rng.bytes(n),
        3 => [b"line\r\n".as_slice(), &rng.alnum(n), b"\r\nend\n"].concat(),
        4 => format!("{}", rng.below(100_000)).into_bytes(),
        5 => Vec::new(),
        _ => {
            let n = rng.range(60, 300) as usize;
            rng.alnum(n)
        }
    }
}

fn key(rng: &mut Rng, prefix: &str) -> Vec<u8> {
    let mut k = format!("{prefix}:{}", rng.below(10)).into_bytes();
    if rng.chance(1, 6) {
        k.extend_from_slice(b"\x00\r\n\xff");
    }
    k
}

/// One write command that cannot fail on the keyspace `mix` builds (each prefix one type).
fn one(rng: &mut Rng) -> Cmd {
    match rng.below(17) {
        0 | 1 => cmdv!["SET", key(rng, "str"), value(rng)],
        2 => cmdv!["SET", key(rng, "str"), value(rng), "EX", "100000"],
        3 => cmdv!["APPEND", key(rng, "str"), value(rng)],
        4 => cmdv!["INCRBY", key(rng, "cnt"), format!("{}", rng.below(1000))],
        5 => cmdv!["INCRBYFLOAT", key(rng, "flt"), "1.5"],
        6 => cmdv!["RPUSH", key(rng, "list"), value(rng), value(rng)],
        7 => cmdv!["LPOP", key(rng, "list")],
        8 => cmdv!["SADD", key(rng, "set"), value(rng), value(rng)],
        9 => cmdv!["SREM", key(rng, "set"), value(rng)],
        10 => cmdv![
            "ZADD",
            key(rng, "zset"),
            format!("{}", rng.below(1000) as f64 / 8.0),
            value(rng)
        ],
        11 => cmdv![
            "HSET",
            key(rng, "hash"),
            format!("f{}", rng.below(5)),
            value(rng)
        ],
        12 => cmdv!["HINCRBY", key(rng, "hash"), "counter", "3"],
        13 => cmdv![
            "XADD",
            format!("stream:{}", rng.below(3)),
            "*",
            "field",
            value(rng)
        ],
        14 => cmdv![
            "XREADGROUP",
            "GROUP",
            "g",
            "c1",
            "COUNT",
            "2",
            "STREAMS",
            format!("stream:{}", rng.below(3)),
            ">"
        ],
        15 => cmdv!["EXPIRE", key(rng, "str"), "50000"],
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
        match rng.below(20) {
            0 => out.push(cmdv!["SELECT", format!("{}", rng.below(2))]),
            1 | 2 => {
                out.push(cmdv!["MULTI"]);
                for _ in 0..rng.range(2, 4) {
                    out.push(one(rng));
                }
                out.push(cmdv!["EXEC"]);
            }
            3 => out.push(cmdv![
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

fn build_fixture() -> Fixture {
    assert!(
        Path::new(REDIS_CHECK_AOF).exists(),
        "{REDIS_CHECK_AOF} is missing: these tests compare with redis-check-aof 7.0 \
         (apt-get install redis-tools)"
    );
    let mut srv = RedisServer::start(&[
        ("appendonly", "yes"),
        ("aof-use-rdb-preamble", "no"),
        ("aof-timestamp-enabled", "yes"),
        ("appendfsync", "always"),
        ("auto-aof-rewrite-percentage", "0"),
    ]);
    wait_rewrite(&mut srv);
    let mut rng = Rng::new(0xa0f_c4ec);
    let mut setup = Vec::new();
    for db in ["0", "1"] {
        setup.push(cmdv!["SELECT", db]);
        for i in 0..3 {
            setup.push(cmdv![
                "XGROUP",
                "CREATE",
                format!("stream:{i}"),
                "g",
                "$",
                "MKSTREAM"
            ]);
        }
    }
    setup.push(cmdv![
        "FUNCTION",
        "LOAD",
        "#!lua name=checkaoflib\r\nredis.register_function('f1', function(keys, args) return 1 end)\n"
    ]);
    srv.pipeline_ok(&setup);
    srv.pipeline_ok(&mix(&mut rng, 250));
    rewrite(&mut srv);

    // The incr file after this rewrite: three seconds, so at least three `#TS` annotations.
    next_second();
    srv.pipeline_ok(&[
        cmdv!["SELECT", "0"],
        cmdv!["SET", "crlf", "a\r\nb\r\n"],
        cmdv![
            "SET",
            b"bin\x00\xff\r\n".as_slice(),
            b"\x00\x01\x02\r\n\xfe\xff".as_slice()
        ],
        cmdv!["MULTI"],
        cmdv!["SET", "tx:a", "1"],
        cmdv!["RPUSH", "list:tx", "x", "y\r\nz"],
        cmdv!["HSET", "hash:tx", "f", "v"],
        cmdv!["EXEC"],
        cmdv!["INCRBY", "cnt:small", "5"],
        cmdv!["SELECT", "1"],
        cmdv!["SADD", "set:small", "m1", "m2\r\n"],
        cmdv!["ZADD", "zset:small", "1.5", "z", "-2", "w\r\n"],
        cmdv![
            "SET",
            "str:big",
            "0123456789abcdef".repeat(12),
            "PX",
            "99999999"
        ],
        cmdv![
            "EVAL",
            "redis.call('SET', KEYS[1], ARGV[1]); redis.call('INCRBY', KEYS[2], 7); return 1",
            "2",
            "str:lua",
            "cnt:lua",
            b"\r\n\x00lua".as_slice()
        ],
        cmdv![
            "HSET",
            "hash:small",
            "f1",
            "v1",
            "f2",
            b"\xff\xfe".as_slice(),
            "f3",
            ""
        ],
    ]);
    next_second();
    srv.pipeline_ok(&[
        cmdv!["XADD", "stream:0", "*", "k", "v\r\n"],
        cmdv!["MULTI"],
        cmdv!["DEL", "set:small"],
        cmdv!["SET", "str:tx2", "long value ".repeat(20)],
        cmdv!["EXEC"],
        cmdv!["SELECT", "0"],
        cmdv!["EXPIRE", "crlf", "100000"],
        cmdv!["APPEND", "crlf", "more"],
        cmdv![
            "RPUSH",
            "list:small",
            "a",
            "b",
            "c",
            "d\r\n",
            "e".repeat(100)
        ],
        cmdv!["MULTI"],
        cmdv!["INCRBYFLOAT", "flt:small", "2.25"],
        cmdv!["LPOP", "list:small"],
        cmdv!["SADD", "set:small2", b"\x00".as_slice(), "*3", "$4"],
        cmdv!["EXEC"],
        cmdv!["SET", "str:tail", "#TS:123\r\n*1\r\n"],
    ]);
    next_second();
    srv.pipeline_ok(&mix(&mut rng, 150));
    let resp_dir = appendonlydir(&srv);

    srv.ok(&["CONFIG", "SET", "aof-use-rdb-preamble", "yes"]);
    rewrite(&mut srv);
    next_second();
    srv.pipeline_ok(&mix(&mut rng, 150));
    let rdb_dir = appendonlydir(&srv);
    drop(srv);

    let incr_ts = resp_dir[&last_incr_name(&resp_dir)].clone();
    let plain = [base_of(&resp_dir), incr_ts.clone()].concat();
    let preamble = [
        base_of(&rdb_dir),
        rdb_dir[&last_incr_name(&rdb_dir)].clone(),
    ]
    .concat();
    assert!(preamble.starts_with(b"REDIS"), "the second base is an RDB");
    assert!(!base_of(&resp_dir).starts_with(b"REDIS"));
    let ts = timestamps(&incr_ts);
    assert!(ts.len() >= 3, "expected 3 #TS in the incr file, got {ts:?}");
    assert_eq!(ts[0].0, 0, "the incr file starts with its #TS");
    let small = incr_ts[..ts[2].0].to_vec();
    assert!(
        (600..3000).contains(&small.len())
            && small.windows(5).any(|w| w == b"MULTI")
            && small.windows(4).any(|w| w == b"EXEC"),
        "small AOF: {} bytes",
        small.len()
    );
    Fixture {
        resp_dir,
        rdb_dir,
        plain,
        incr_ts,
        preamble,
        small,
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Valid inputs
// ---------------------------------------------------------------------------------------------

#[test]
fn valid_inputs_match() {
    let f = fixture();
    let redisshake: Tree = read_tree(&corpus_dir().join("RedisShake/test/aof_test/appendonlydir"));
    let preamble_corpus = std::fs::read(corpus_file("valkey/tests/assets/rdb-preamble.aof"))
        .expect("read corpus file");
    let tmp = TempDir::new("check-aof-valid");
    let abs_manifest = tmp.path().join(MANIFEST).to_string_lossy().into_owned();
    let cases: Vec<(&str, Tree, String, bool)> = vec![
        (
            "plain",
            tree1("appendonly.aof", &f.plain),
            "appendonly.aof".into(),
            true,
        ),
        (
            "plain, absolute path",
            tree1("appendonly.aof", &f.plain),
            tmp.path()
                .join("appendonly.aof")
                .to_string_lossy()
                .into_owned(),
            true,
        ),
        (
            "plain incr with #TS",
            tree1("ts.aof", &f.incr_ts),
            "ts.aof".into(),
            true,
        ),
        (
            "small",
            tree1("small.aof", &f.small),
            "./small.aof".into(),
            true,
        ),
        (
            "preamble (valkey corpus)",
            tree1("rdb-preamble.aof", &preamble_corpus),
            "rdb-preamble.aof".into(),
            true,
        ),
        (
            "preamble (base + incr)",
            tree1("pre.aof", &f.preamble),
            "pre.aof".into(),
            true,
        ),
        (
            "multi-part RESP base",
            in_dir(&f.resp_dir),
            MANIFEST.into(),
            true,
        ),
        (
            "multi-part RESP base, absolute path",
            in_dir(&f.resp_dir),
            abs_manifest.clone(),
            true,
        ),
        (
            "multi-part RDB base",
            in_dir(&f.rdb_dir),
            MANIFEST.into(),
            true,
        ),
        (
            "RedisShake (LF line endings)",
            in_dir(&redisshake),
            MANIFEST.into(),
            false,
        ),
        (
            "empty file",
            tree1("empty.aof", b""),
            "empty.aof".into(),
            true,
        ),
    ];
    let mut t = Tally::default();
    for (name, tree, target, valid) in &cases {
        let p = run_pair(tmp.path(), tree, &[target], &[target], b"", b"");
        assert_eq!(
            p.redis.code,
            Some(if *valid { 0 } else { 1 }),
            "{name}: redis-check-aof:\n{}",
            show_out(&p.redis.stdout)
        );
        t.add(&format!("{name} [check]"), &p, false);
        if name.starts_with("RedisShake") {
            // `*2\n`: not one command reads, so the incr file is good up to offset 0.
            let text = String::from_utf8_lossy(&p.redis.stdout);
            assert!(
                text.contains("0x               0: Expected \\r\\n, got: 0a00")
                    && text.contains("ok_up_to=0,"),
                "{text}"
            );
        }
        if *valid {
            // Nothing to fix: the same report, no question, nothing changed.
            let p = run_pair(
                tmp.path(),
                tree,
                &["--fix", target],
                &["--fix", target],
                b"y\n",
                b"y\n",
            );
            assert_eq!(&p.redkit_tree, tree, "{name}: --fix changed a valid input");
            t.add(&format!("{name} [--fix]"), &p, false);
        }
    }
    // The directory form (redkit only) reports exactly what redis says on the manifest path.
    for (name, files) in [
        ("RESP base", &f.resp_dir),
        ("RDB base", &f.rdb_dir),
        ("RedisShake", &redisshake),
    ] {
        for dir_arg in ["appendonlydir", "appendonlydir/"] {
            let tree = in_dir(files);
            let p = run_pair(tmp.path(), &tree, &[MANIFEST], &[dir_arg], b"", b"");
            t.add(
                &format!("{name}: redkit on {dir_arg:?}, redis on the manifest"),
                &p,
                false,
            );
        }
    }
    t.finish("valid inputs", 0);
}

// ---------------------------------------------------------------------------------------------
// 2. A small AOF cut at every byte offset
// ---------------------------------------------------------------------------------------------

#[test]
fn truncated_at_every_offset() {
    let f = fixture();
    let preamble_corpus = std::fs::read(corpus_file("valkey/tests/assets/rdb-preamble.aof"))
        .expect("read corpus file");
    let mut items: Vec<(&str, &[u8], usize)> = Vec::new();
    for n in 0..=f.small.len() {
        items.push(("small.aof", &f.small, n));
    }
    for n in 0..=preamble_corpus.len() {
        items.push(("pre.aof", &preamble_corpus, n));
    }
    let t = par_tally(&items, |dir, &(name, data, n), t| {
        let case = format!("{name} cut to {n} of {} bytes", data.len());
        check_and_fix(dir, &case, &tree1(name, &data[..n]), name, t);
    });
    t.assert_covered(
        "cuts",
        &[
            "Expected to read",
            "Expected \\r\\n",
            "Reached EOF before reading EXEC for MULTI",
            "is empty",
            "is valid",
            "Successfully truncated",
            "RDB preamble of AOF file is not sane",
        ],
    );
    t.finish("truncation at every offset", 0);
}

// ---------------------------------------------------------------------------------------------
// 3. Garbage inserted at random places
// ---------------------------------------------------------------------------------------------

#[test]
fn garbage_inserted() {
    let f = fixture();
    let mut rng = Rng::new(0x06a7_ba6e);
    let singles: &[u8] = b"*$#\r\n0123456789-";
    let mut items = Vec::new();
    for i in 0..200 {
        let at = rng.below(f.small.len() as u64 + 1) as usize;
        let junk = if rng.chance(2, 5) {
            let n = rng.range(1, 20) as usize;
            rng.bytes(n)
        } else {
            vec![*rng.pick(singles)]
        };
        let data = [&f.small[..at], &junk, &f.small[at..]].concat();
        items.push((format!("garbage #{i}: {} at {at}", escape(&junk)), data));
    }
    // Lengths redis-check-aof tries to allocate whole (it aborts; redkit must not).
    let at = records(&f.small)[2].0;
    for junk in [
        &b"*1\r\n$9223372036854775805\r\n"[..],
        b"*2\r\n$3\r\nSET\r\n$4611686018427387904\r\nxx\r\n",
    ] {
        let data = [&f.small[..at], junk, &f.small[at..]].concat();
        items.push((format!("huge length: {} at {at}", escape(junk)), data));
    }
    let t = par_tally(&items, |dir, (case, data), t| {
        check_and_fix(dir, case, &tree1("g.aof", data), "g.aof", t);
    });
    t.assert_covered(
        "garbage",
        &["format error", "Expected prefix", "Successfully truncated"],
    );
    t.finish("garbage", 5);
}

// ---------------------------------------------------------------------------------------------
// 4. MULTI/EXEC edge cases
// ---------------------------------------------------------------------------------------------

#[test]
fn multi_exec_edge_cases() {
    let set = |k: &str| encode(&[b"SET", k.as_bytes(), b"v"]);
    let multi = encode(&[b"MULTI"]);
    let exec = encode(&[b"EXEC"]);
    let lower_multi = encode(&[b"multi"]);
    let lower_exec = encode(&[b"ExEc"]);
    let ts = b"#TS:1700000000\r\n".to_vec();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "open MULTI at the end",
            [set("a"), multi.clone(), set("b")].concat(),
        ),
        ("bare MULTI at the end", [set("a"), multi.clone()].concat()),
        ("MULTI alone", multi.clone()),
        (
            "nested MULTI",
            [
                set("a"),
                multi.clone(),
                set("b"),
                multi.clone(),
                set("c"),
                exec.clone(),
            ]
            .concat(),
        ),
        (
            "EXEC without MULTI",
            [set("a"), exec.clone(), set("b")].concat(),
        ),
        ("EXEC first", [exec.clone(), set("a")].concat()),
        (
            "two EXEC",
            [multi.clone(), set("a"), exec.clone(), exec.clone()].concat(),
        ),
        (
            "lower-case multi/exec",
            [lower_multi.clone(), set("a"), lower_exec.clone(), set("b")].concat(),
        ),
        (
            "annotation inside MULTI",
            [multi.clone(), ts.clone(), set("a"), exec.clone()].concat(),
        ),
        (
            "annotation in an open MULTI",
            [set("z"), multi.clone(), ts.clone(), set("a")].concat(),
        ),
        (
            "MULTI cut inside a command",
            [set("a"), multi.clone(), set("b")[..9].to_vec()].concat(),
        ),
        (
            "EXEC cut",
            [
                set("a"),
                multi.clone(),
                set("b"),
                exec[..exec.len() - 1].to_vec(),
            ]
            .concat(),
        ),
        (
            "empty transaction",
            [multi.clone(), exec.clone(), set("a")].concat(),
        ),
        (
            "MULTI with arguments",
            [encode(&[b"MULTI", b"x"]), set("a"), exec.clone()].concat(),
        ),
        (
            "*0 and *-1 records",
            [b"*0\r\n*-1\r\n".to_vec(), set("a")].concat(),
        ),
        (
            "MULTI as a second argument",
            [encode(&[b"SET", b"MULTI", b"EXEC"]), set("a")].concat(),
        ),
    ];
    let tmp = TempDir::new("check-aof-multi");
    let mut t = Tally::default();
    for (name, data) in &cases {
        check_and_fix(tmp.path(), name, &tree1("m.aof", data), "m.aof", &mut t);
        // The same body as the last incr file of a multi-part AOF, after a valid base.
        let tree: Tree = [
            (
                MANIFEST.to_string(),
                b"file b.aof seq 1 type b\nfile i.aof seq 1 type i\n".to_vec(),
            ),
            (
                "appendonlydir/b.aof".to_string(),
                [set("base"), multi.clone(), set("x"), exec.clone()].concat(),
            ),
            ("appendonlydir/i.aof".to_string(), data.clone()),
        ]
        .into_iter()
        .collect();
        check_and_fix(
            tmp.path(),
            &format!("{name} (incr)"),
            &tree,
            MANIFEST,
            &mut t,
        );
    }
    t.assert_covered(
        "MULTI/EXEC",
        &[
            "Unexpected MULTI",
            "Unexpected EXEC",
            "Reached EOF before reading EXEC for MULTI",
        ],
    );
    t.finish("MULTI/EXEC edge cases", 0);
}

// ---------------------------------------------------------------------------------------------
// 5. Multi-part AOFs: damaged files, missing files, bad manifests
// ---------------------------------------------------------------------------------------------

/// (name, bytes) of the files next to a manifest.
type Files<'a> = Vec<(&'a str, &'a [u8])>;

fn manifest_tree(manifest: &[u8], files: &[(&str, &[u8])]) -> Tree {
    let mut t: Tree = files
        .iter()
        .map(|(n, b)| (format!("appendonlydir/{n}"), b.to_vec()))
        .collect();
    t.insert(MANIFEST.to_string(), manifest.to_vec());
    t
}

#[test]
fn multi_part_damage() {
    let f = fixture();
    let tmp = TempDir::new("check-aof-mp");
    let mut t = Tally::default();

    // The last incr file cut at a spread of offsets, for both real directories.
    for (name, files) in [("RESP base", &f.resp_dir), ("RDB base", &f.rdb_dir)] {
        let incr = last_incr_name(files);
        let len = files[&incr].len();
        for n in [1, 2, 5, 17, len / 3, len / 2, len - 40, len - 3, len - 1] {
            let mut tree = in_dir(files);
            tree.get_mut(&format!("appendonlydir/{incr}"))
                .expect("incr")
                .truncate(n);
            check_and_fix(
                tmp.path(),
                &format!("{name}: last incr cut to {n}"),
                &tree,
                MANIFEST,
                &mut t,
            );
        }
        // The base cut (a non-last file): check and --fix both refuse.
        let (base_name, _) = manifest_entries(files)
            .into_iter()
            .find(|e| e.1 == 'b')
            .expect("base");
        let blen = files[&base_name].len();
        for n in [3, 9, blen / 2, blen - 1] {
            let mut tree = in_dir(files);
            tree.get_mut(&format!("appendonlydir/{base_name}"))
                .expect("base")
                .truncate(n);
            check_and_fix(
                tmp.path(),
                &format!("{name}: base cut to {n}"),
                &tree,
                MANIFEST,
                &mut t,
            );
        }
    }

    // Two incr files, the first cut: not the last file, redis refuses to fix it.
    let small = &f.small;
    let set = encode(&[b"SET", b"k", b"v"]);
    let two = b"file b.aof seq 1 type b\nfile i1.aof seq 1 type i\nfile i2.aof seq 2 type i\n";
    for n in [1, 40, small.len() / 2, small.len() - 1] {
        let tree = manifest_tree(
            two,
            &[("b.aof", &set), ("i1.aof", &small[..n]), ("i2.aof", &set)],
        );
        check_and_fix(
            tmp.path(),
            &format!("non-last incr cut to {n}"),
            &tree,
            MANIFEST,
            &mut t,
        );
        let tree = manifest_tree(
            two,
            &[("b.aof", &set), ("i1.aof", &set), ("i2.aof", &small[..n])],
        );
        check_and_fix(
            tmp.path(),
            &format!("last of two incr cut to {n}"),
            &tree,
            MANIFEST,
            &mut t,
        );
    }
    // A `*` header cut at the end of an incr file: redis prints the byte after fgets's NUL,
    // which is what the previous file's last `*` header left in the same stack buffer.
    let twelve = [b"*12\r\n".to_vec(), b"$1\r\na\r\n".repeat(12)].concat();
    let one_b = b"file b.aof seq 1 type b\nfile i.aof seq 1 type i\n";
    for (what, incr) in [
        ("'*'", &b"*"[..]),
        ("'#TS' then '*'", b"#TS:123\r\n*"),
        ("'*1'", b"*1"),
    ] {
        let tree = manifest_tree(one_b, &[("b.aof", &twelve), ("i.aof", incr)]);
        check_and_fix(
            tmp.path(),
            &format!("stale header buffer: base '*12', incr {what}"),
            &tree,
            MANIFEST,
            &mut t,
        );
    }

    // Only a base, cut: it is the last file, so --fix truncates it.
    let only_base = b"file b.aof seq 1 type b\n";
    for n in [0, 7, small.len() - 2] {
        let tree = manifest_tree(only_base, &[("b.aof", &small[..n])]);
        check_and_fix(
            tmp.path(),
            &format!("base-only cut to {n}"),
            &tree,
            MANIFEST,
            &mut t,
        );
    }
    // Only incr files, history entries (ignored), an empty incr, a quoted name with a space.
    let cases: Vec<(&str, &[u8], Files)> = vec![
        (
            "no base",
            b"file i1.aof seq 1 type i\nfile i2.aof seq 2 type i\n",
            vec![("i1.aof", &set[..]), ("i2.aof", &small[..100])],
        ),
        (
            "history entries",
            b"file h.aof seq 1 type h\nfile b.aof seq 2 type b\nfile i.aof seq 3 type i\n",
            vec![("b.aof", &set[..]), ("i.aof", &small[..])],
        ),
        ("only history", b"file h.aof seq 1 type h\n", vec![]),
        (
            "empty incr",
            b"file b.aof seq 1 type b\nfile i.aof seq 1 type i\n",
            vec![("b.aof", &set[..]), ("i.aof", b"")],
        ),
        (
            "empty base",
            b"file b.aof seq 1 type b\nfile i.aof seq 1 type i\n",
            vec![("b.aof", b""), ("i.aof", &small[..])],
        ),
        (
            "quoted name with a space",
            b"file \"a b.aof\" seq 1 type b\n",
            vec![("a b.aof", &small[..])],
        ),
        (
            "comment lines",
            b"# made by hand\nfile b.aof seq 1 type b\n# another\nfile i.aof seq 5 type i\n",
            vec![("b.aof", &set[..]), ("i.aof", &small[..50])],
        ),
        (
            "seq written as a word",
            b"file b.aof seq 12abc type b\n",
            vec![("b.aof", &set[..])],
        ),
        (
            "type given as a word",
            b"file b.aof seq 1 type base\nfile i.aof seq 1 type incr\n",
            vec![("b.aof", &set[..]), ("i.aof", &set[..])],
        ),
        (
            "extra key/value pairs",
            b"file b.aof seq 1 type b size 10\n",
            vec![("b.aof", &set[..])],
        ),
        (
            "CRLF manifest",
            b"file b.aof seq 1 type b\r\nfile i.aof seq 1 type i\r\n",
            vec![("b.aof", &set[..]), ("i.aof", &set[..])],
        ),
        // Missing files.
        (
            "missing base",
            b"file b.aof seq 1 type b\nfile i.aof seq 1 type i\n",
            vec![("i.aof", &set[..])],
        ),
        (
            "missing incr",
            b"file b.aof seq 1 type b\nfile i.aof seq 1 type i\n",
            vec![("b.aof", &set[..])],
        ),
        (
            "missing first of two incr",
            two,
            vec![("b.aof", &set[..]), ("i2.aof", &set[..])],
        ),
        ("all files missing", two, vec![]),
        // Bad manifests.
        (
            "unknown type",
            b"file b.aof seq 1 type x\n",
            vec![("b.aof", &set[..])],
        ),
        (
            "duplicate base",
            b"file b.aof seq 1 type b\nfile c.aof seq 2 type b\n",
            vec![("b.aof", &set[..]), ("c.aof", &set[..])],
        ),
        (
            "non-monotonic incr",
            b"file i2.aof seq 2 type i\nfile i1.aof seq 1 type i\n",
            vec![("i1.aof", &set[..]), ("i2.aof", &set[..])],
        ),
        (
            "repeated incr seq",
            b"file i1.aof seq 1 type i\nfile i2.aof seq 1 type i\n",
            vec![("i1.aof", &set[..]), ("i2.aof", &set[..])],
        ),
        ("path in name", b"file ../b.aof seq 1 type b\n", vec![]),
        (
            "path in name (subdir)",
            b"file x/b.aof seq 1 type b\n",
            vec![],
        ),
        (
            "bad quoting",
            b"file \"b.aof seq 1 type b\n",
            vec![("b.aof", &set[..])],
        ),
        (
            "quote not followed by space",
            b"file \"b.aof\"x seq 1 type b\n",
            vec![("b.aof", &set[..])],
        ),
        (
            "seq 0",
            b"file b.aof seq 0 type b\n",
            vec![("b.aof", &set[..])],
        ),
        (
            "negative incr seq",
            b"file i.aof seq -1 type i\n",
            vec![("i.aof", &set[..])],
        ),
        (
            "missing type",
            b"file b.aof seq 1 size 1\n",
            vec![("b.aof", &set[..])],
        ),
        (
            "too few fields",
            b"file b.aof seq 1\n",
            vec![("b.aof", &set[..])],
        ),
        (
            "odd number of fields",
            b"file b.aof seq 1 type b x\n",
            vec![("b.aof", &set[..])],
        ),
        (
            "blank line",
            b"file b.aof seq 1 type b\n\nfile i.aof seq 1 type i\n",
            vec![("b.aof", &set[..]), ("i.aof", &set[..])],
        ),
        (
            "whitespace-only line",
            b"file b.aof seq 1 type b\n \t \nfile i.aof seq 1 type i\n",
            vec![("b.aof", &set[..]), ("i.aof", &set[..])],
        ),
        (
            "no final newline",
            b"file b.aof seq 1 type b\nfile i.aof seq 1 type i",
            vec![("b.aof", &set[..]), ("i.aof", &set[..])],
        ),
    ];
    for (name, manifest, files) in &cases {
        let tree = manifest_tree(manifest, files);
        check_and_fix(tmp.path(), name, &tree, MANIFEST, &mut t);
    }
    // A line longer than the manifest reader takes.
    let long = format!("file {}.aof seq 1 type b\n", "x".repeat(1100));
    check_and_fix(
        tmp.path(),
        "too long line",
        &manifest_tree(long.as_bytes(), &[]),
        MANIFEST,
        &mut t,
    );
    // An empty manifest is not taken for a manifest: both check it as an (empty) plain AOF.
    check_and_fix(
        tmp.path(),
        "empty manifest",
        &manifest_tree(b"", &[]),
        MANIFEST,
        &mut t,
    );

    // RedisShake's incr file (LF line endings): --fix cuts it to 0 bytes (redkit needs --force).
    let redisshake = in_dir(&read_tree(
        &corpus_dir().join("RedisShake/test/aof_test/appendonlydir"),
    ));
    check_and_fix(tmp.path(), "RedisShake", &redisshake, MANIFEST, &mut t);

    t.assert_covered(
        "multi-part",
        &[
            "Unknown AOF file type",
            "Found duplicate base file information",
            "Found a non-monotonic sequence number",
            "File can't be a path, just a filename",
            "Invalid AOF manifest file format",
            "The AOF manifest file contains too long line",
            "because it is not the last file",
            "Cannot open file",
            "RDB preamble of AOF file is not sane",
            "Successfully truncated AOF",
            "All AOF files and manifest are valid",
            "to 0 bytes",
        ],
    );
    t.finish("multi-part damage", 0);
}

// ---------------------------------------------------------------------------------------------
// 6. --truncate-to-timestamp
// ---------------------------------------------------------------------------------------------

/// Both tools in timestamp mode (redkit answers "y" to its extra question).
fn ts_pair(dir: &Path, case: &str, tree: &Tree, target: &str, ts: i64, t: &mut Tally) {
    let ts = ts.to_string();
    let p = run_pair(
        dir,
        tree,
        &["--truncate-to-timestamp", &ts, target],
        &["--truncate-to-timestamp", &ts, "--no-backup", target],
        b"",
        b"y\n",
    );
    t.add(&format!("{case} [--truncate-to-timestamp {ts}]"), &p, true);
}

#[test]
fn truncate_to_timestamp() {
    let f = fixture();
    let tmp = TempDir::new("check-aof-ts");
    let mut t = Tally::default();
    let ts: Vec<i64> = timestamps(&f.incr_ts).into_iter().map(|x| x.1).collect();
    let last = *ts.last().expect("timestamps");
    let mut points = vec![0, 1, ts[0] - 1, last + 1000];
    points.extend(ts.iter().copied());
    let set = encode(&[b"SET", b"k", b"v"]);

    // A single plain file; the same after an RDB preamble; a multi-part AOF whose last incr
    // file has the annotations; and one where that file is not the last.
    let rdb_base = base_of(&f.rdb_dir);
    let two = b"file b.aof seq 1 type b\nfile i1.aof seq 1 type i\nfile i2.aof seq 2 type i\n";
    let trees: Vec<(&str, Tree, &str)> = vec![
        ("plain", tree1("ts.aof", &f.incr_ts), "ts.aof"),
        ("plain (base + incr)", tree1("p.aof", &f.plain), "p.aof"),
        (
            "preamble",
            tree1("pre.aof", &[rdb_base.clone(), f.incr_ts.clone()].concat()),
            "pre.aof",
        ),
        ("multi-part", in_dir(&f.resp_dir), MANIFEST),
        ("multi-part RDB base", in_dir(&f.rdb_dir), MANIFEST),
        (
            "non-last incr",
            manifest_tree(
                two,
                &[("b.aof", &set), ("i1.aof", &f.incr_ts), ("i2.aof", &set)],
            ),
            MANIFEST,
        ),
        (
            "incr after an RDB base",
            manifest_tree(
                b"file b.rdb seq 1 type b\nfile i.aof seq 1 type i\n",
                &[("b.rdb", &rdb_base), ("i.aof", &f.incr_ts)],
            ),
            MANIFEST,
        ),
    ];
    for (name, tree, target) in &trees {
        for &p in &points {
            ts_pair(tmp.path(), name, tree, target, p, &mut t);
        }
    }

    // Bad and odd annotations, placed after the first record (the check reaches them unless an
    // earlier annotation already cut).
    let first_end = records(&f.incr_ts)[1].0;
    for (what, ann) in [
        ("letters", b"#TS:12a\r\n".as_slice()),
        ("no digits", b"#TS:\r\n"),
        ("overflow", b"#TS:99999999999999999999999\r\n"),
        ("LF only", b"#TS:5\n"),
        ("spaces", b"#TS: 17\r\n"),
        ("sign", b"#TS:+17\r\n"),
        ("not a timestamp", b"#XX:hello\r\n"),
        ("unterminated at EOF", b"#TS:17"),
    ] {
        let data = [&f.incr_ts[..first_end], ann, &f.incr_ts[first_end..]].concat();
        let tree = tree1("bad.aof", &data);
        for p in [ts[0], last, last + 1000] {
            ts_pair(
                tmp.path(),
                &format!("annotation {what}"),
                &tree,
                "bad.aof",
                p,
                &mut t,
            );
        }
        let tree = tree1("bad.aof", &[&f.small[..], ann].concat());
        ts_pair(
            tmp.path(),
            &format!("annotation {what} at the end"),
            &tree,
            "bad.aof",
            last,
            &mut t,
        );
    }
    // A damaged file in timestamp mode: nothing to cut before the damage, so not valid.
    let cut = &f.incr_ts[..f.incr_ts.len() - 3];
    ts_pair(
        tmp.path(),
        "cut file",
        &tree1("c.aof", cut),
        "c.aof",
        last,
        &mut t,
    );
    ts_pair(
        tmp.path(),
        "cut file",
        &tree1("c.aof", cut),
        "c.aof",
        ts[1],
        &mut t,
    );

    t.assert_covered(
        "timestamps",
        &[
            "has nothing before timestamp",
            "to timestamp",
            "Truncate nothing in AOF",
            "Invalid timestamp annotation",
            "because it is not the last file.",
            "If you insist",
        ],
    );
    t.finish("--truncate-to-timestamp", 0);

    // Timestamps that are not numbers: redis refuses them.
    for bad in ["12x", "99999999999999999999999", "1.5"] {
        write_tree(tmp.path(), &tree1("ts.aof", &f.incr_ts));
        let r = run_redis(tmp.path(), &["--truncate-to-timestamp", bad, "ts.aof"], b"");
        assert_eq!(r.code, Some(1));
        assert_eq!(r.stdout, b"Invalid timestamp, aborting...\n");
    }
}

// ---------------------------------------------------------------------------------------------
// 7. redkit's own options: --json, --dry-run, backups, --force, --yes, answering no
// ---------------------------------------------------------------------------------------------

/// `ok_up_to=N` of redis's last "AOF analyzed" line.
fn redis_ok_up_to(out: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(out);
    let l = text
        .lines()
        .rfind(|l| l.starts_with("AOF analyzed:"))
        .unwrap_or_else(|| panic!("no AOF analyzed line in {text}"));
    let v = l
        .split(", ")
        .find_map(|kv| kv.strip_prefix("ok_up_to="))
        .expect("ok_up_to");
    v.parse().expect("number")
}

fn parse_json(out: &Out) -> Json {
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 1, "one JSON line: {text}");
    Json::parse(text.trim_end()).unwrap_or_else(|e| panic!("bad JSON ({e}): {text}"))
}

fn true_line(data: &[u8], at: u64) -> i64 {
    1 + data[..at as usize].iter().filter(|&&b| b == b'\n').count() as i64
}

fn backups(dir: &Path, name: &str) -> Vec<PathBuf> {
    let prefix = format!("{name}.bak.");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix(&prefix))
                .is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn redkit_only_options() {
    let f = fixture();
    let tmp = TempDir::new("check-aof-own");
    let dir = tmp.path();
    let small = &f.small;
    let cut = &small[..small.len() - 5];
    let tree = tree1("c.aof", cut);

    // Answering no (or nothing): both abort with exit 1 and change nothing.
    let mut t = Tally::default();
    for answer in [&b""[..], b"n\n", b"N\n", b"\n", b"yes\n", b"Y"] {
        let p = run_pair(
            dir,
            &tree,
            &["--fix", "c.aof"],
            &["--fix", "--no-backup", "c.aof"],
            answer,
            answer,
        );
        assert_eq!(read_tree(dir).len(), 1);
        t.add(&format!("answer {:?}", escape(answer)), &p, false);
    }
    t.finish("answers", 0);

    // The redis reference run for the cut file.
    write_tree(dir, &tree);
    let redis_check = run_redis(dir, &["c.aof"], b"");
    let ok_up_to = redis_ok_up_to(&redis_check.stdout);
    write_tree(dir, &tree);
    let redis_fix = run_redis(dir, &["--fix", "c.aof"], b"y\n");
    let redis_fixed = std::fs::read(dir.join("c.aof")).expect("read");
    assert_eq!(redis_fixed.len() as u64, ok_up_to);

    // --json: the verdict, ok_up_to as redis says, cut_line the real line number.
    write_tree(dir, &tree);
    let r = run_redkit(dir, &["--json", "c.aof"], b"");
    assert_eq!(r.code, Some(1));
    let j = parse_json(&r);
    assert_eq!(j.at("ok").render(), "false");
    assert_eq!(j.at("exit_code").i64(), 1);
    assert_eq!(j.at("kind").str(), "plain");
    let files = j.at("files").arr();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].at("ok_up_to").i64() as u64, ok_up_to);
    assert_eq!(files[0].at("size").i64() as usize, cut.len());
    assert_eq!(files[0].at("cut_line").i64(), true_line(cut, ok_up_to));
    assert_eq!(files[0].at("status").str(), "not-valid");
    // Its text is the plain report.
    let plain = run_redkit(dir, &["c.aof"], b"");
    assert_eq!(j.at("text").str().as_bytes(), &plain.stdout[..]);
    assert_eq!(plain.stdout, redis_check.stdout);

    // --json --fix --yes: truncated, no question on stdout.
    write_tree(dir, &tree);
    let r = run_redkit(
        dir,
        &["--json", "--fix", "--yes", "--no-backup", "c.aof"],
        b"",
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let j = parse_json(&r);
    assert_eq!(j.at("ok").render(), "true");
    assert_eq!(j.at("files").arr()[0].at("status").str(), "truncated");
    assert_eq!(std::fs::read(dir.join("c.aof")).expect("read"), redis_fixed);

    // --json on a valid multi-part AOF: one entry per file, all valid.
    write_tree(dir, &in_dir(&f.rdb_dir));
    let r = run_redkit(dir, &["--json", "appendonlydir"], b"");
    assert_eq!(r.code, Some(0));
    let j = parse_json(&r);
    assert_eq!(j.at("kind").str(), "multi-part");
    let entries = manifest_entries(&f.rdb_dir);
    let files = j.at("files").arr();
    assert_eq!(files.len(), entries.iter().filter(|e| e.1 != 'h').count());
    for (fj, (name, _)) in files.iter().zip(entries.iter().filter(|e| e.1 != 'h')) {
        assert_eq!(fj.at("name").str(), name);
        assert_eq!(fj.at("status").str(), "valid");
        assert_eq!(fj.at("ok_up_to").i64() as usize, f.rdb_dir[name].len());
    }

    // --json on a multi-part AOF whose last incr file is cut.
    let incr = last_incr_name(&f.resp_dir);
    let mut mtree = in_dir(&f.resp_dir);
    let full = mtree[&format!("appendonlydir/{incr}")].clone();
    mtree
        .get_mut(&format!("appendonlydir/{incr}"))
        .expect("incr")
        .truncate(full.len() - 7);
    write_tree(dir, &mtree);
    let rc = run_redis(dir, &[MANIFEST], b"");
    let r = run_redkit(dir, &["--json", MANIFEST], b"");
    assert_eq!(r.code, Some(1));
    let j = parse_json(&r);
    let last = j.at("files").arr().last().expect("files").clone();
    let at = redis_ok_up_to(&rc.stdout);
    assert_eq!(last.at("name").str(), incr);
    assert_eq!(last.at("ok_up_to").i64() as u64, at);
    assert_eq!(last.at("cut_line").i64(), true_line(&full, at));

    // --dry-run: says what it would do, changes nothing, keeps no backup.
    for args in [
        vec!["--fix", "--dry-run", "c.aof"],
        vec!["--fix", "--dry-run", "--yes", "c.aof"],
        vec!["--fix", "--dry-run", "--json", "c.aof"],
    ] {
        write_tree(dir, &tree);
        let r = run_redkit(dir, &args, b"y\n");
        assert_eq!(r.code, Some(1), "{args:?}");
        assert!(
            String::from_utf8_lossy(&r.stdout).contains("Dry run"),
            "{args:?}: {}",
            show_out(&r.stdout)
        );
        assert_eq!(read_tree(dir), tree, "{args:?} changed something");
    }
    let ts = timestamps(&f.incr_ts);
    let tsarg = ts[1].1.to_string();
    write_tree(dir, &tree1("ts.aof", &f.incr_ts));
    let r = run_redkit(
        dir,
        &["--truncate-to-timestamp", &tsarg, "--dry-run", "ts.aof"],
        b"y\n",
    );
    assert_eq!(r.code, Some(1));
    assert!(String::from_utf8_lossy(&r.stdout).contains("Dry run"));
    assert_eq!(read_tree(dir), tree1("ts.aof", &f.incr_ts));

    // Backups: the original is kept as <file>.bak.<unix time>, stdout is redis's.
    write_tree(dir, &tree);
    let r = run_redkit(dir, &["--fix", "c.aof"], b"y\n");
    assert_eq!(r.code, Some(0));
    assert_eq!(r.stdout, redis_fix.stdout);
    assert_eq!(std::fs::read(dir.join("c.aof")).expect("read"), redis_fixed);
    let b = backups(dir, "c.aof");
    assert_eq!(b.len(), 1, "one backup: {b:?}");
    assert_eq!(std::fs::read(&b[0]).expect("read backup"), cut);
    let bname = b[0]
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(
        r.stderr.contains(&bname),
        "stderr names the backup: {}",
        r.stderr
    );
    // Answering no keeps no backup.
    write_tree(dir, &tree);
    let r = run_redkit(dir, &["--fix", "c.aof"], b"n\n");
    assert_eq!(r.code, Some(1));
    assert_eq!(read_tree(dir), tree);
    // In a multi-part AOF the backup sits next to the incr file.
    write_tree(dir, &mtree);
    let r = run_redkit(dir, &["--fix", MANIFEST], b"y\n");
    assert_eq!(r.code, Some(0), "{}", show_out(&r.stdout));
    let b = backups(&dir.join("appendonlydir"), &incr);
    assert_eq!(b.len(), 1, "one backup: {b:?}");
    assert_eq!(
        std::fs::read(&b[0]).expect("read backup"),
        mtree[&format!("appendonlydir/{incr}")]
    );
    // Timestamp mode keeps a backup too.
    write_tree(dir, &tree1("ts.aof", &f.incr_ts));
    let r = run_redkit(dir, &["--truncate-to-timestamp", &tsarg, "ts.aof"], b"y\n");
    assert_eq!(r.code, Some(0), "{}", show_out(&r.stdout));
    let b = backups(dir, "ts.aof");
    assert_eq!(b.len(), 1);
    assert_eq!(std::fs::read(&b[0]).expect("read backup"), f.incr_ts);
    assert_eq!(
        std::fs::read(dir.join("ts.aof")).expect("read").len(),
        ts[2].0,
        "cut at the first later annotation"
    );

    // Timestamp mode asks too: without a yes it aborts and changes nothing.
    for answer in [&b""[..], b"n\n"] {
        write_tree(dir, &tree1("ts.aof", &f.incr_ts));
        let r = run_redkit(dir, &["--truncate-to-timestamp", &tsarg, "ts.aof"], answer);
        assert_eq!(r.code, Some(1));
        assert!(
            r.stdout.ends_with(b"Continue? [y/N]: Aborting...\n"),
            "{}",
            show_out(&r.stdout)
        );
        assert_eq!(read_tree(dir), tree1("ts.aof", &f.incr_ts));
    }
    // With --yes it does not ask.
    write_tree(dir, &tree1("ts.aof", &f.incr_ts));
    let r = run_redkit(
        dir,
        &[
            "--truncate-to-timestamp",
            &tsarg,
            "--yes",
            "--no-backup",
            "ts.aof",
        ],
        b"",
    );
    assert_eq!(r.code, Some(0));
    assert!(!r.stdout.windows(PROMPT.len()).any(|w| w == PROMPT));
    assert_eq!(read_tree(dir), tree1("ts.aof", &f.incr_ts[..ts[2].0]));

    // --yes: no question; the rest is redis's output.
    write_tree(dir, &tree);
    let r = run_redkit(dir, &["--fix", "--yes", "--no-backup", "c.aof"], b"");
    assert_eq!(r.code, Some(0));
    let want: Vec<u8> = String::from_utf8_lossy(&redis_fix.stdout)
        .replace("Continue? [y/N]: ", "")
        .into_bytes();
    assert_eq!(r.stdout, want);
    assert_eq!(std::fs::read(dir.join("c.aof")).expect("read"), redis_fixed);

    // --force: a file with LF line endings is cut to 0 bytes only with it.
    let body = &small[records(small)[1].0..];
    let lf: Vec<u8> = body.split(|&b| b == b'\r').collect::<Vec<_>>().concat();
    let lf_tree = tree1("lf.aof", &lf);
    write_tree(dir, &lf_tree);
    let r = run_redkit(dir, &["--fix", "--no-backup", "lf.aof"], b"y\n");
    assert_eq!(r.code, Some(1));
    assert!(
        String::from_utf8_lossy(&r.stdout).contains("redkit fix --line-endings"),
        "{}",
        show_out(&r.stdout)
    );
    assert_eq!(read_tree(dir), lf_tree);
    let p = run_pair(
        dir,
        &lf_tree,
        &["--fix", "lf.aof"],
        &["--fix", "--force", "--no-backup", "lf.aof"],
        b"y\n",
        b"y\n",
    );
    assert_eq!(p.redis_tree["lf.aof"], b"");
    let mut t = Tally::default();
    t.add("LF file, --fix --force", &p, false);
    t.finish("--force", 0);
}

// ---------------------------------------------------------------------------------------------
// 8. A fresh redis-server loads what redkit fixed
// ---------------------------------------------------------------------------------------------

/// Start redis-server 7.0 with `appendonly yes` on the files in `dir` and ask DBSIZE.
fn server_loads(dir: &Path, what: &str) -> i64 {
    let d = dir.to_string_lossy().into_owned();
    let mut srv = RedisServer::start(&[
        ("dir", &d),
        ("appendonly", "yes"),
        ("appendfilename", "appendonly.aof"),
        ("appenddirname", "appendonlydir"),
        ("aof-load-truncated", "no"),
    ]);
    match srv.cmd(&[b"DBSIZE"]) {
        Reply::Int(n) => n,
        other => panic!("{what}: DBSIZE answered {other:?}"),
    }
}

#[test]
fn server_loads_fixed_files() {
    let f = fixture();
    let incr = last_incr_name(&f.resp_dir);
    let rincr = last_incr_name(&f.rdb_dir);
    let ts = timestamps(&f.incr_ts);
    let cut = |files: &Tree, name: &str, minus: usize| {
        let mut t = in_dir(files);
        let e = t.get_mut(&format!("appendonlydir/{name}")).expect("incr");
        let n = e.len() - minus;
        e.truncate(n);
        t
    };
    let cases: Vec<(&str, Tree, Vec<String>)> = vec![
        (
            "old-style plain cut mid-command",
            tree1("appendonly.aof", &f.plain[..f.plain.len() - 11]),
            vec!["--fix".into(), "appendonly.aof".into()],
        ),
        (
            "old-style preamble cut mid-command",
            tree1("appendonly.aof", &f.preamble[..f.preamble.len() - 4]),
            vec!["--fix".into(), "appendonly.aof".into()],
        ),
        (
            "multi-part, last incr cut",
            cut(&f.resp_dir, &incr, 9),
            vec!["--fix".into(), "appendonlydir".into()],
        ),
        (
            "multi-part with RDB base, last incr cut",
            cut(&f.rdb_dir, &rincr, 2),
            vec!["--fix".into(), MANIFEST.into()],
        ),
        (
            "multi-part cut at a timestamp",
            in_dir(&f.resp_dir),
            vec![
                "--truncate-to-timestamp".into(),
                ts[1].1.to_string(),
                MANIFEST.into(),
            ],
        ),
    ];
    for (what, tree, args) in &cases {
        let tmp = TempDir::new("check-aof-load");
        write_tree(tmp.path(), tree);
        let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
        a.insert(0, "--no-backup");
        a.insert(0, "--yes");
        let r = run_redkit(tmp.path(), &a, b"");
        assert_eq!(r.code, Some(0), "{what}: {}", show_out(&r.stdout));
        assert_ne!(
            &read_tree(tmp.path()),
            tree,
            "{what}: nothing was truncated"
        );
        let n = server_loads(tmp.path(), what);
        assert!(n > 0, "{what}: the server loaded an empty dataset");
    }
}
