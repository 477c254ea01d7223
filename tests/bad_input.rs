//! Bad input never panics, hangs or allocates wildly: it always ends with exit code 1 and one
//! error line naming the byte offset (`[offset N] ...`), for `redkit json`, `redkit check-rdb`
//! and `redkit stats`, and with an `Err` whose text starts with `[offset ` in the library.
//! json and stats print that line last on stderr (`redkit: FILE: [offset N] ...`; only
//! `warning: ` lines may come before it); check-rdb prints its report on stdout, like
//! redis-check-rdb, with the error as the one line after `--- RDB ERROR DETECTED ---`.
//!
//! The starting points are real files: the committed samples (written by redis-server 7.0) and
//! a few files of the third-party corpus (`../shared/corpus`, read in place). Each test damages
//! them in one way and checks the outcome:
//!
//! - in process, through `RdbReader` + `decode_value` with deep checks (what check-rdb does),
//!   under `catch_unwind`, with a global allocator that records any single allocation larger
//!   than [`ALLOC_LIMIT`], and a watchdog thread that fails the test when a case makes no
//!   progress for [`HANG`];
//! - through the CLI, every run with a timeout ([`HANG`]; the process group is killed), its peak
//!   RSS measured by `/usr/bin/time -f %M` (or, without it, by polling `/proc/<pid>/status`).
//!
//! The tests:
//! - truncation: every offset of every file in process (for `all-types.rdb`, the biggest, a
//!   whole-reader pass per offset would take minutes: there the reader runs at ~1,750 offsets,
//!   every item boundary among them, and the framing layer at every offset); through the CLI
//!   every offset of `multidb-expiry.rdb` and 300 of `all-types.rdb`, with the CLI's error equal
//!   to the library's;
//! - random byte flips (fixed seeds): 3,000 copies in process, 100 through the CLI;
//! - a wrong CRC64 (and a zeroed one, which means "disabled");
//! - an unknown value type byte; lengths far larger than the file;
//! - bad headers, a non-RDB file, empty and tiny files; file bytes quoted in an error;
//! - stdin (`-`): the same output, and the same errors, as with the path.
//!
//! Failures are collected with an exact reproducer (file, truncation or flipped bytes, message)
//! and reported together at the end of each test.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::{Cursor, Write};
use std::os::unix::process::CommandExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use redkit::rdbfile::{RdbReader, Segment};
use redkit_formats::rdb::read::{
    decode_value, parse_header, CountSink, Ctx, Framed, Item, KeyRecord, Parser, Walker, HEADER_LEN,
};

mod common;

use common::{corpus_file, sample_file, Rng, TempDir};

// ---------------------------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------------------------

/// The largest single allocation allowed while reading a damaged file in process. The reader's
/// own chunks are 4 MiB; an LZF value may expand 88 times its (small) compressed size. Anything
/// sized by a length field of a damaged file is far larger.
const ALLOC_LIMIT: usize = 64 << 20;
/// Peak RSS allowed for one CLI run on these small files (a run on the biggest sample peaks
/// near 7 MiB).
const RSS_LIMIT_KB: u64 = 64 << 10;
/// A case (one CLI run, or one in-process read) that takes longer than this is a hang.
const HANG: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// Allocation tracking: the largest allocation made on the current thread above ALLOC_LIMIT
// ---------------------------------------------------------------------------------------------

struct Tracking;

thread_local! {
    static LARGEST_ALLOC: Cell<usize> = const { Cell::new(0) };
}

#[inline]
fn note_alloc(size: usize) {
    if size > ALLOC_LIMIT {
        let _ = LARGEST_ALLOC.try_with(|c| {
            if size > c.get() {
                c.set(size);
            }
        });
    }
}

unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_alloc(new_size);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Tracking = Tracking;

// ---------------------------------------------------------------------------------------------
// Panics on the library's reader thread ("rdb-read") cannot be caught by catch_unwind on the
// calling thread: a hook counts them.
// ---------------------------------------------------------------------------------------------

static READER_PANICS: AtomicU64 = AtomicU64::new(0);
static READER_PANIC_TEXT: Mutex<String> = Mutex::new(String::new());

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() == Some("rdb-read") {
                READER_PANICS.fetch_add(1, Ordering::SeqCst);
                if let Ok(mut t) = READER_PANIC_TEXT.lock() {
                    *t = info.to_string();
                }
            }
            prev(info);
        }));
    });
}

// ---------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The committed samples (made by redis-server 7.0), smallest first.
const SAMPLES: [&str; 5] = [
    "function.rdb",
    "multidb-expiry.rdb",
    "strings.rdb",
    "streams.rdb",
    "all-types.rdb",
];

/// Corpus files that the library reads without error, covering other versions and encodings:
/// zipmap (v3), v4 without checksum, ziplists (v6/v7), quicklist (v7), streams v1 (v9),
/// listpack sets (v11), hash field TTLs (v12), the Valkey header.
const CORPUS: [&str; 9] = [
    "valkey/tests/assets/hash-zipmap.rdb",
    "valkey/tests/assets/encodings.rdb",
    "redis-rdb-tools/tests/dumps/ziplist_with_integers.rdb",
    "rdb-rs/tests/dumps/quicklist_with_multiple_nodes.rdb",
    "redis-rdb-tools/tests/dumps/redis_50_with_streams.rdb",
    "HDT3213-rdb/cases/set_listpack.rdb",
    "HDT3213-rdb/cases/hash_with_hfe.rdb",
    "HDT3213-rdb/cases/stream_listoacks_3.rdb",
    "HDT3213-rdb/cases/valkey_hash2_with_hfe.rdb",
];

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// Every starting file: (display name, path, bytes).
fn all_inputs() -> Vec<(String, PathBuf, Vec<u8>)> {
    let mut v = Vec::new();
    for s in SAMPLES {
        let p = sample_file(s);
        v.push((format!("samples/{s}"), p.clone(), read(&p)));
    }
    for c in CORPUS {
        let p = corpus_file(c);
        v.push((format!("corpus/{c}"), p.clone(), read(&p)));
    }
    v
}

/// Show bytes as hex, for reproducers.
fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------------------------
// In-process reading, as check-rdb does it
// ---------------------------------------------------------------------------------------------

/// Read `bytes` through the library: frame every item, decode every key and every value with
/// deep checks, then the checksum. Ok(number of keys) or the error's text.
///
/// `known` are the items of the undamaged file: the k-th item framed here that equals the k-th
/// known one is the same bytes in the same framing state, so its (pure) decoding was already
/// checked on the undamaged file and is not repeated. Pass `&[]` to decode everything.
fn lib_read(bytes: &[u8], known: &[&Framed<'_>]) -> Result<u64, String> {
    let len = bytes.len() as u64;
    let mut r = RdbReader::from_reader(Box::new(Cursor::new(bytes.to_vec())), Some(len))
        .map_err(|e| e.to_string())?;
    let ctx = Ctx::new(r.header(), true);
    let mut w = Walker::default();
    let mut keys = 0;
    let mut k = 0;
    while let Some(seg) = r.next_segment().map_err(|e| e.to_string())? {
        for f in seg.items() {
            let same = known.get(k).is_some_and(|kf| *kf == f);
            k += 1;
            if let Item::Key(rec) = &f.item {
                keys += 1;
                if same {
                    continue;
                }
                rec.key.to_vec(rec.key_offset).map_err(|e| e.to_string())?;
                let mut c = CountSink::default();
                decode_value(&ctx, &mut w, rec, &mut c).map_err(|e| e.to_string())?;
            }
        }
    }
    if r.trailer().is_none() {
        return Err("LIBRARY BUG: next_segment returned None but there is no trailer".into());
    }
    Ok(keys)
}

/// The framed items of a file that reads cleanly (kept with the segments that own them).
fn frame_all(bytes: &[u8]) -> Vec<Segment> {
    let mut r = RdbReader::from_reader(
        Box::new(Cursor::new(bytes.to_vec())),
        Some(bytes.len() as u64),
    )
    .expect("an undamaged file opens");
    let mut segs = Vec::new();
    while let Some(seg) = r.next_segment().expect("an undamaged file frames") {
        segs.push(seg);
    }
    segs
}

/// What happened to one in-process read.
#[derive(Debug)]
enum Outcome {
    Ok(u64),
    Err(String),
    /// Panicked (message), allocated too much (bytes), or broke an invariant (text).
    Bad(String),
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".into()
    }
}

/// Read `bytes` in process and classify the outcome. An error must be one line that starts
/// with `[offset N]`, N no larger than the input.
fn lib_outcome(bytes: &[u8], known: &[&Framed<'_>]) -> Outcome {
    install_panic_hook();
    LARGEST_ALLOC.with(|c| c.set(0));
    let panics_before = READER_PANICS.load(Ordering::SeqCst);
    let r = catch_unwind(AssertUnwindSafe(|| lib_read(bytes, known)));
    let largest = LARGEST_ALLOC.with(|c| c.replace(0));
    if READER_PANICS.load(Ordering::SeqCst) != panics_before {
        let t = READER_PANIC_TEXT
            .lock()
            .map(|t| t.clone())
            .unwrap_or_default();
        return Outcome::Bad(format!("the reader thread panicked: {t}"));
    }
    if largest > 0 {
        return Outcome::Bad(format!(
            "allocated {largest} bytes at once (limit {ALLOC_LIMIT}); result {r:?}",
            r = r.as_ref().map_err(|_| "panic")
        ));
    }
    match r {
        Err(p) => Outcome::Bad(format!("PANIC: {}", panic_text(&*p))),
        Ok(Ok(n)) => Outcome::Ok(n),
        Ok(Err(msg)) => match check_error_text(&msg, bytes.len()) {
            Ok(()) => Outcome::Err(msg),
            Err(why) => Outcome::Bad(format!("{why}: {msg:?}")),
        },
    }
}

/// The offset in `[offset N]` at the start of `msg`.
fn offset_of(msg: &str) -> Option<u64> {
    let rest = msg.strip_prefix("[offset ")?;
    let end = rest.find(']')?;
    rest[..end].parse().ok()
}

/// An error text must be one line starting with `[offset N]`, N within the input.
fn check_error_text(msg: &str, input_len: usize) -> Result<(), String> {
    if msg.contains('\n') || msg.contains('\r') {
        return Err("error is not one line".into());
    }
    let Some(off) = offset_of(msg) else {
        return Err("error does not start with `[offset N]`".into());
    };
    if off > input_len as u64 {
        return Err(format!(
            "error names offset {off}, beyond the input's {input_len} bytes"
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Watchdog: run a loop of cases on a worker thread; fail when one case takes longer than HANG
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct Progress {
    ticks: AtomicU64,
    case: Mutex<String>,
}

impl Progress {
    /// A new case starts; `what` describes it (for the hang report).
    fn case(&self, what: impl FnOnce() -> String) {
        let s = what();
        if let Ok(mut c) = self.case.lock() {
            *c = s;
        }
        self.ticks.fetch_add(1, Ordering::SeqCst);
    }
}

/// Run `f` on its own thread. Panics (with the current case) when no new case starts for
/// [`HANG`]; a hung worker is left behind, the test fails at once.
fn with_watchdog<T: Send + 'static>(
    what: &str,
    limit: Duration,
    f: impl FnOnce(&Progress) -> T + Send + 'static,
) -> T {
    let p = Arc::new(Progress::default());
    let (tx, rx) = mpsc::channel();
    let p2 = Arc::clone(&p);
    std::thread::Builder::new()
        .name(format!("bad-input {what}"))
        .spawn(move || {
            let r = catch_unwind(AssertUnwindSafe(|| f(&p2)));
            let _ = tx.send(r);
        })
        .expect("cannot spawn a worker thread");
    let mut last = (0u64, Instant::now());
    loop {
        match rx.recv_timeout(Duration::from_millis(250)) {
            Ok(Ok(v)) => return v,
            Ok(Err(payload)) => std::panic::resume_unwind(payload),
            Err(RecvTimeoutError::Timeout) => {
                let t = p.ticks.load(Ordering::SeqCst);
                if t != last.0 {
                    last = (t, Instant::now());
                } else if last.1.elapsed() > limit {
                    let case = p.case.lock().map(|c| c.clone()).unwrap_or_default();
                    panic!("{what}: HANG: one case ran for more than {limit:?}: {case}");
                }
            }
            Err(RecvTimeoutError::Disconnected) => panic!("{what}: the worker thread vanished"),
        }
    }
}

/// Panic with the collected failures, if any (the first 30 in full).
fn report(what: &str, cases: usize, failures: &[String]) {
    eprintln!("{what}: {cases} cases, {} failures", failures.len());
    if failures.is_empty() {
        return;
    }
    let mut msg = format!("{what}: {} failures in {cases} cases:\n", failures.len());
    for f in failures.iter().take(30) {
        let _ = writeln!(msg, "  - {f}");
    }
    if failures.len() > 30 {
        let _ = writeln!(msg, "  ... and {} more", failures.len() - 30);
    }
    panic!("{msg}");
}

// ---------------------------------------------------------------------------------------------
// Running the CLI
// ---------------------------------------------------------------------------------------------

/// The outcome of one CLI run.
struct Run {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
    /// Peak resident set in KiB.
    peak_kb: Option<u64>,
    elapsed: Duration,
    /// The command, for reports.
    cmdline: String,
}

const TIME: &str = "/usr/bin/time";

fn have_time() -> bool {
    static HAVE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAVE.get_or_init(|| Path::new(TIME).is_file())
}

/// `VmHWM` of a live process, in KiB.
fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Run `redkit ARGS`, stdin from `stdin` (or /dev/null), stdout and stderr to files, under a
/// timeout of [`HANG`] (the whole process group is killed, then the test fails).
fn run_redkit(dir: &TempDir, args: &[&OsStr], stdin: Option<&[u8]>) -> Run {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let out_p = dir.path().join(format!("out-{n}"));
    let err_p = dir.path().join(format!("err-{n}"));
    let rss_p = dir.path().join(format!("rss-{n}"));
    let exe = env!("CARGO_BIN_EXE_redkit");
    let mut cmd = if have_time() {
        let mut c = Command::new(TIME);
        c.arg("-f").arg("%M").arg("-o").arg(&rss_p).arg(exe);
        c
    } else {
        Command::new(exe)
    };
    cmd.args(args);
    cmd.stdout(std::fs::File::create(&out_p).expect("cannot create stdout file"));
    cmd.stderr(std::fs::File::create(&err_p).expect("cannot create stderr file"));
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.process_group(0);
    let cmdline = format!(
        "redkit {}",
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmdline}: {e}"));
    let pid = child.id();
    let writer = stdin.map(|b| {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        let b = b.to_vec();
        std::thread::spawn(move || {
            // The child may stop reading early (bad header): a broken pipe is fine.
            let _ = pipe.write_all(&b);
        })
    });
    let mut polled_kb: Option<u64> = None;
    let mut nap = Duration::from_micros(200);
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => {}
            Err(e) => panic!("{cmdline}: wait failed: {e}"),
        }
        if !have_time() {
            if let Some(kb) = vm_hwm_kb(pid) {
                polled_kb = Some(polled_kb.map_or(kb, |p: u64| p.max(kb)));
            }
        }
        if start.elapsed() > HANG {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
            let _ = child.kill();
            let _ = child.wait();
            panic!("HANG: `{cmdline}` ran for more than {HANG:?} and was killed");
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    if let Some(w) = writer {
        let _ = w.join();
    }
    let peak_kb = if have_time() {
        std::fs::read_to_string(&rss_p)
            .ok()
            .and_then(|s| s.lines().last().and_then(|l| l.trim().parse().ok()))
    } else {
        polled_kb
    };
    let stdout = std::fs::read(&out_p).unwrap_or_default();
    let stderr = String::from_utf8_lossy(&std::fs::read(&err_p).unwrap_or_default()).into_owned();
    for p in [&out_p, &err_p, &rss_p] {
        let _ = std::fs::remove_file(p);
    }
    Run {
        code: status.code(),
        stdout,
        stderr,
        peak_kb,
        elapsed,
        cmdline,
    }
}

/// The three commands that read a whole RDB file.
const COMMANDS: [&str; 3] = ["json", "check-rdb", "stats"];

fn run_cmd(dir: &TempDir, cmd: &str, file: &OsStr, stdin: Option<&[u8]>) -> Run {
    run_redkit(dir, &[OsStr::new(cmd), file], stdin)
}

/// Checks that hold for every run, good input or bad: exit 0 or 1, no panic, bounded memory.
fn check_any_run(r: &Run) -> Result<(), String> {
    if r.stderr.contains("panicked") {
        return Err(format!("PANIC: stderr {:?}", r.stderr));
    }
    if !matches!(r.code, Some(0) | Some(1)) {
        return Err(format!(
            "exit code {:?} (killed by a signal?), stderr {:?}",
            r.code, r.stderr
        ));
    }
    if have_time() && r.peak_kb.is_none() {
        return Err(format!("no peak RSS from {TIME}"));
    }
    if let Some(kb) = r.peak_kb {
        if kb > RSS_LIMIT_KB {
            return Err(format!(
                "peak RSS {kb} KiB (limit {RSS_LIMIT_KB} KiB), stderr {:?}",
                r.stderr
            ));
        }
    }
    Ok(())
}

/// A run on bad input: exit 1, and exactly one error naming an offset no larger than the input.
/// json and stats print it as the last stderr line (`redkit: FILE: [offset N] ...`; earlier
/// lines may only be warnings); check-rdb prints its report on stdout, the error as the line
/// after `--- RDB ERROR DETECTED ---`, and nothing but warnings on stderr.
/// Returns the error from `[offset` on.
fn check_failed_run(r: &Run, cmd: &str, input_len: usize) -> Result<String, String> {
    check_any_run(r)?;
    if r.code != Some(1) {
        return Err(format!(
            "exit code {:?}, expected 1; stderr {:?}",
            r.code, r.stderr
        ));
    }
    if !r.stderr.is_empty() && !r.stderr.ends_with('\n') {
        return Err(format!(
            "stderr does not end with a newline: {:?}",
            r.stderr
        ));
    }
    let lines: Vec<&str> = r.stderr.lines().collect();
    let (msg_line, warnings): (String, &[&str]) = if cmd == "check-rdb" {
        let out = String::from_utf8_lossy(&r.stdout);
        let mut it = out
            .lines()
            .skip_while(|l| *l != "--- RDB ERROR DETECTED ---");
        if it.next().is_none() {
            return Err(format!(
                "no `--- RDB ERROR DETECTED ---` in the report; stdout {:?}, stderr {:?}",
                tail(&out),
                r.stderr
            ));
        }
        let Some(line) = it.next() else {
            return Err(format!("nothing after the error marker: {:?}", tail(&out)));
        };
        if let Some(next) = it.next() {
            if !next.starts_with("[info]") {
                return Err(format!(
                    "the error is not one line: {line:?} is followed by {next:?}"
                ));
            }
        }
        (line.to_string(), &lines[..])
    } else {
        let Some((last, earlier)) = lines.split_last() else {
            return Err("exit 1 with nothing on stderr".into());
        };
        if !last.starts_with("redkit: ") {
            return Err(format!(
                "the error line does not start with `redkit: `: {last:?}"
            ));
        }
        (last.to_string(), earlier)
    };
    if let Some(w) = warnings.iter().find(|l| !l.starts_with("warning: ")) {
        return Err(format!(
            "stderr has more than the one error line: {w:?} (stderr {:?})",
            r.stderr
        ));
    }
    let Some(at) = msg_line.find("[offset ") else {
        return Err(format!("the error names no offset: {msg_line:?}"));
    };
    let msg = msg_line[at..].to_string();
    check_error_text(&msg, input_len).map_err(|why| format!("{why}: {msg_line:?}"))?;
    Ok(msg)
}

fn tail(s: &str) -> &str {
    let n = s.len();
    let mut i = n.saturating_sub(400);
    while !s.is_char_boundary(i) {
        i += 1;
    }
    &s[i..]
}

// ---------------------------------------------------------------------------------------------
// Locating fields in a good file (with the library's framing, cross-checked byte by byte)
// ---------------------------------------------------------------------------------------------

/// A key record of a good file: its type byte's offset, type, and value offset/length.
#[derive(Debug, Clone)]
struct KeyAt {
    key: Vec<u8>,
    type_offset: usize,
    rdb_type: u8,
    key_offset: usize,
    value_offset: usize,
    value_len: usize,
}

fn key_records(bytes: &[u8]) -> Vec<KeyAt> {
    let mut r = RdbReader::from_reader(
        Box::new(Cursor::new(bytes.to_vec())),
        Some(bytes.len() as u64),
    )
    .expect("a good file opens");
    let mut v = Vec::new();
    while let Some(seg) = r.next_segment().expect("a good file frames") {
        for f in seg.items() {
            if let Item::Key(KeyRecord {
                rdb_type,
                key,
                key_offset,
                value,
                value_offset,
                ..
            }) = &f.item
            {
                let k = KeyAt {
                    key: key.to_vec(*key_offset).expect("a good key"),
                    type_offset: *key_offset as usize - 1,
                    rdb_type: *rdb_type,
                    key_offset: *key_offset as usize,
                    value_offset: *value_offset as usize,
                    value_len: value.len(),
                };
                // The type byte sits just before the key, the value right after it.
                assert_eq!(bytes[k.type_offset], k.rdb_type, "type byte of {k:?}");
                assert_eq!(
                    &bytes[k.value_offset..k.value_offset + k.value_len],
                    *value,
                    "value bytes of {k:?}"
                );
                v.push(k);
            }
        }
    }
    v
}

/// Length of the RDB length field at `b[0..]` (1, 2, 5 or 9 bytes), by its first byte.
fn length_field_len(b: &[u8]) -> usize {
    match b[0] >> 6 {
        0 => 1,
        1 => 2,
        2 if b[0] == 0x80 => 5,
        2 if b[0] == 0x81 => 9,
        _ => panic!("not a plain length field: {:02x}", b[0]),
    }
}

/// `bytes` with `bytes[at..at + old_len]` replaced by `new`.
fn splice(bytes: &[u8], at: usize, old_len: usize, new: &[u8]) -> Vec<u8> {
    let mut v = bytes[..at].to_vec();
    v.extend_from_slice(new);
    v.extend_from_slice(&bytes[at + old_len..]);
    v
}

// =============================================================================================
// 1. Truncation
// =============================================================================================

/// Truncations of `bytes` to each length in `cuts` through the library: an Err every time; the
/// undamaged file reads cleanly.
fn truncations_in_process(
    name: &str,
    bytes: &[u8],
    cuts: &[usize],
    p: &Progress,
    failures: &mut Vec<String>,
) {
    p.case(|| format!("{name}: the whole file"));
    match lib_outcome(bytes, &[]) {
        Outcome::Ok(_) => {}
        other => {
            failures.push(format!(
                "{name}: the undamaged file does not read cleanly: {other:?}"
            ));
            return;
        }
    }
    let segs = frame_all(bytes);
    let known: Vec<&Framed<'_>> = segs.iter().flat_map(|s| s.items()).collect();
    for &cut in cuts {
        p.case(|| format!("{name} truncated to {cut} bytes"));
        match lib_outcome(&bytes[..cut], &known) {
            Outcome::Err(_) => {}
            Outcome::Ok(n) => failures.push(format!(
                "{name} truncated to {cut} bytes: read as Ok ({n} keys), expected an error"
            )),
            Outcome::Bad(why) => failures.push(format!("{name} truncated to {cut} bytes: {why}")),
        }
    }
}

/// Every truncation of `bytes` through the framing layer alone: for each item of the file, the
/// parser state before it frames a slice cut anywhere inside the item, which must fail as
/// "incomplete" (that is what lets the reader report a truncated file instead of misreading
/// it). Cheap enough for every offset of the biggest sample, where a whole `RdbReader` pass per
/// offset (0.5 ms to open, plus framing the prefix) would take minutes.
fn truncations_framing(name: &str, bytes: &[u8], p: &Progress, failures: &mut Vec<String>) {
    install_panic_hook();
    for cut in 0..HEADER_LEN.min(bytes.len()) {
        p.case(|| format!("{name}: header truncated to {cut} bytes"));
        match catch_unwind(|| parse_header(&bytes[..cut]).map_err(|e| e.to_string())) {
            Ok(Err(msg)) => {
                if let Err(why) = check_error_text(&msg, cut) {
                    failures.push(format!("{name}: header cut to {cut} bytes: {why}: {msg:?}"));
                }
            }
            Ok(Ok(h)) => {
                failures.push(format!("{name}: header cut to {cut} bytes parsed as {h:?}"))
            }
            Err(e) => failures.push(format!(
                "{name}: header cut to {cut} bytes: PANIC: {}",
                panic_text(&*e)
            )),
        }
    }
    let header = parse_header(&bytes[..HEADER_LEN]).expect("undamaged header");
    let mut parser = Parser::new(header);
    let mut pos = HEADER_LEN;
    loop {
        let before = parser.clone();
        let f = parser
            .next(bytes, pos, 0)
            .unwrap_or_else(|e| panic!("{name}: the undamaged file does not frame: {e}"));
        let (start, end) = (pos, f.end);
        for cut in start..end {
            p.case(|| format!("{name}: item at {start}..{end} framed from {cut} bytes"));
            LARGEST_ALLOC.with(|c| c.set(0));
            let r = catch_unwind(AssertUnwindSafe(|| {
                before
                    .clone()
                    .next(&bytes[..cut], start, 0)
                    .map(|f| f.end)
                    .map_err(|e| (e.is_incomplete(), e.to_string()))
            }));
            let largest = LARGEST_ALLOC.with(|c| c.replace(0));
            let what = format!(
                "{name}: item at offsets {start}..{end} framed from the file cut to {cut} bytes"
            );
            if largest > 0 {
                failures.push(format!("{what}: allocated {largest} bytes at once"));
            }
            match r {
                Ok(Err((true, msg))) => {
                    if let Err(why) = check_error_text(&msg, cut) {
                        failures.push(format!("{what}: {why}: {msg:?}"));
                    }
                }
                Ok(Err((false, msg))) => failures.push(format!(
                    "{what}: a hard error instead of \"incomplete\": {msg}"
                )),
                Ok(Ok(e)) => failures.push(format!("{what}: framed as complete (ending at {e})")),
                Err(e) => failures.push(format!("{what}: PANIC: {}", panic_text(&*e))),
            }
        }
        pos = end;
        if matches!(f.item, Item::Eof) {
            break;
        }
    }
}

fn truncation_test(
    what: &'static str,
    inputs: Vec<(String, Vec<u8>)>,
    cuts: fn(&[u8]) -> Vec<usize>,
    framing_every_offset: bool,
) {
    let (cases, failures) = with_watchdog(what, HANG, move |p| {
        let mut failures = Vec::new();
        let mut cases = 0;
        for (name, bytes) in &inputs {
            let cuts = cuts(bytes);
            cases += cuts.len();
            truncations_in_process(name, bytes, &cuts, p, &mut failures);
            if framing_every_offset {
                cases += bytes.len();
                truncations_framing(name, bytes, p, &mut failures);
            }
        }
        (cases, failures)
    });
    report(what, cases, &failures);
}

#[test]
fn truncated_at_every_offset_in_process() {
    let inputs = all_inputs()
        .into_iter()
        .filter(|(n, _, _)| n != "samples/all-types.rdb")
        .map(|(n, _, b)| (n, b))
        .collect();
    truncation_test(
        "truncation in process (every offset)",
        inputs,
        |b| (0..b.len()).collect(),
        false,
    );
}

/// Offsets of the biggest sample for whole-reader passes: every offset of the header and of
/// the EOF opcode + checksum, both sides of every item boundary, and 1500 spread evenly.
fn sparse_cuts(bytes: &[u8]) -> Vec<usize> {
    let n = bytes.len();
    let mut cuts: Vec<usize> = (0..=HEADER_LEN).chain(n - 10..n).collect();
    let header = parse_header(&bytes[..HEADER_LEN]).expect("undamaged header");
    let mut parser = Parser::new(header);
    let mut pos = HEADER_LEN;
    while pos < n - 9 {
        let f = parser.next(bytes, pos, 0).expect("undamaged file frames");
        cuts.extend([pos + 1, f.end - 1, f.end, f.end + 1]);
        pos = f.end;
    }
    cuts.extend((0..1500).map(|i| i * n / 1500));
    cuts.retain(|&c| c < n);
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

#[test]
fn truncated_at_every_offset_in_process_all_types() {
    let p = sample_file("all-types.rdb");
    truncation_test(
        "truncation in process (all-types.rdb)",
        vec![("samples/all-types.rdb".into(), read(&p))],
        sparse_cuts,
        true,
    );
}

/// Truncations of `bytes` through the CLI: each of json, check-rdb and stats exits 1 with one
/// clean error, the same error the library gives; json's output before the error is a prefix
/// of its output for the undamaged file.
fn truncations_cli(
    name: &str,
    bytes: &[u8],
    cuts: &[usize],
    p: &Progress,
    failures: &mut Vec<String>,
) -> usize {
    let dir = TempDir::new("bad-input-trunc");
    let full = dir.file("full.rdb", bytes);
    let full_json = run_cmd(&dir, "json", full.as_os_str(), None);
    if full_json.code != Some(0) {
        failures.push(format!(
            "{name}: `redkit json` fails on the undamaged file: {:?}",
            full_json.stderr
        ));
        return 0;
    }
    let segs = frame_all(bytes);
    let known: Vec<&Framed<'_>> = segs.iter().flat_map(|s| s.items()).collect();
    let mut cases = 0;
    for &cut in cuts {
        p.case(|| format!("CLI on {name} truncated to {cut} bytes"));
        let what = format!("{name} truncated to {cut} bytes");
        let lib = match lib_outcome(&bytes[..cut], &known) {
            Outcome::Err(m) => m,
            other => {
                failures.push(format!("{what}: in process: {other:?}"));
                continue;
            }
        };
        let f = dir.file("cut.rdb", &bytes[..cut]);
        for cmd in COMMANDS {
            cases += 1;
            let r = run_cmd(&dir, cmd, f.as_os_str(), None);
            match check_failed_run(&r, cmd, cut) {
                Err(why) => failures.push(format!("{what}: `{}`: {why}", r.cmdline)),
                Ok(msg) if msg != lib => failures.push(format!(
                    "{what}: `redkit {cmd}` says {msg:?}, the library says {lib:?}"
                )),
                Ok(_) => {}
            }
            if cmd == "json"
                && (!full_json.stdout.starts_with(&r.stdout)
                    || r.stdout.last().is_some_and(|&b| b != b'\n'))
            {
                failures.push(format!(
                    "{what}: `redkit json` printed output that is not a prefix (in whole lines) \
                     of its output for the undamaged file: ...{:?}",
                    tail(&String::from_utf8_lossy(&r.stdout))
                ));
            }
        }
    }
    cases
}

fn cli_truncation_test(what: &'static str, sample: &'static str, cuts: fn(&[u8]) -> Vec<usize>) {
    let bytes = read(&sample_file(sample));
    let (cases, failures) = with_watchdog(what, HANG * 2, move |p| {
        let mut failures = Vec::new();
        let cuts = cuts(&bytes);
        let n = truncations_cli(
            &format!("samples/{sample}"),
            &bytes,
            &cuts,
            p,
            &mut failures,
        );
        (n, failures)
    });
    report(what, cases, &failures);
}

#[test]
fn truncated_at_every_offset_cli_small_sample() {
    cli_truncation_test(
        "CLI truncation (every offset of multidb-expiry.rdb)",
        "multidb-expiry.rdb",
        |b| (0..b.len()).collect(),
    );
}

#[test]
fn truncated_at_spread_offsets_cli_all_types() {
    cli_truncation_test(
        "CLI truncation (300 offsets of all-types.rdb)",
        "all-types.rdb",
        |b| {
            let n = b.len();
            // 290 spread evenly, and the ends: inside the header, the EOF opcode, the CRC.
            let mut c: Vec<usize> = (0..290).map(|i| i * n / 290).collect();
            c.extend([1, 5, 8, 9, n - 9, n - 8, n - 5, n - 1]);
            c.sort_unstable();
            c.dedup();
            c
        },
    );
}

// =============================================================================================
// 2. Random byte flips
// =============================================================================================

/// A damaged copy: 1 to 8 bytes of `bytes` XORed with random non-zero values.
fn flip(bytes: &[u8], rng: &mut Rng) -> (Vec<u8>, String) {
    let mut v = bytes.to_vec();
    let n = 1 + rng.below(8) as usize;
    let mut desc = Vec::new();
    for _ in 0..n {
        let at = rng.below(v.len() as u64) as usize;
        let x = 1 + rng.below(255) as u8;
        desc.push(format!("[{at}] {:02x}->{:02x}", v[at], v[at] ^ x));
        v[at] ^= x;
    }
    (v, desc.join(", "))
}

#[test]
fn random_byte_flips_in_process() {
    const COPIES: usize = 3000;
    let inputs: Vec<(String, Vec<u8>)> = all_inputs().into_iter().map(|(n, _, b)| (n, b)).collect();
    let (stats, failures) = with_watchdog("byte flips in process", HANG, move |p| {
        let mut rng = Rng::from_state(0x05ee_d0ff_11b5);
        let mut failures = Vec::new();
        let (mut ok, mut err) = (0, 0);
        for i in 0..COPIES {
            let (name, bytes) = &inputs[i % inputs.len()];
            let (damaged, desc) = flip(bytes, &mut rng);
            p.case(|| format!("{name} with bytes flipped: {desc}"));
            match lib_outcome(&damaged, &[]) {
                Outcome::Ok(_) => ok += 1,
                Outcome::Err(_) => err += 1,
                Outcome::Bad(why) => failures.push(format!(
                    "{name} with bytes flipped ({desc}; copy {i} of seed 0x05eed0ff11b5): {why}"
                )),
            }
        }
        ((ok, err), failures)
    });
    eprintln!(
        "byte flips in process: {} read Ok, {} clean errors",
        stats.0, stats.1
    );
    report("byte flips in process", COPIES, &failures);
}

#[test]
fn random_byte_flips_cli() {
    const COPIES: usize = 100;
    let inputs: Vec<(String, Vec<u8>)> = all_inputs().into_iter().map(|(n, _, b)| (n, b)).collect();
    let failures = with_watchdog("byte flips through the CLI", HANG * 2, move |p| {
        let dir = TempDir::new("bad-input-flips");
        let mut rng = Rng::from_state(0xc11_f11b5);
        let mut failures = Vec::new();
        for i in 0..COPIES {
            let (name, bytes) = &inputs[i % inputs.len()];
            let (damaged, desc) = flip(bytes, &mut rng);
            let what = format!("{name} with bytes flipped ({desc}; copy {i} of seed 0xc11f11b5)");
            p.case(|| what.clone());
            let lib = match lib_outcome(&damaged, &[]) {
                Outcome::Ok(_) => None,
                Outcome::Err(m) => Some(m),
                Outcome::Bad(why) => {
                    failures.push(format!("{what}: in process: {why}"));
                    continue;
                }
            };
            let f = dir.file("flipped.rdb", &damaged);
            for cmd in COMMANDS {
                let r = run_cmd(&dir, cmd, f.as_os_str(), None);
                let res = match r.code {
                    Some(1) => check_failed_run(&r, cmd, damaged.len()).map(Some),
                    _ => check_any_run(&r).map(|()| None),
                };
                match res {
                    Err(why) => failures.push(format!("{what}: `{}`: {why}", r.cmdline)),
                    // check-rdb validates as deeply as the in-process read: same verdict.
                    Ok(msg) if cmd == "check-rdb" && msg != lib => failures.push(format!(
                        "{what}: `redkit check-rdb` says {msg:?}, the library says {lib:?}"
                    )),
                    Ok(_) => {}
                }
            }
        }
        failures
    });
    report("byte flips through the CLI", COPIES, &failures);
}

// =============================================================================================
// Damaged copies checked the same way by the library and by all three commands
// =============================================================================================

/// One damaged copy and what its error must say.
struct Damaged {
    what: String,
    bytes: Vec<u8>,
    /// Texts the error must contain.
    expect: Vec<String>,
    /// The offset the error must name, when known.
    offset: Option<u64>,
    /// Also feed it to each command on stdin (`-`), where the reader cannot know the input's
    /// size: the error may differ, but it must be as clean, as quick and as small.
    stdin_too: bool,
}

/// Each copy fails cleanly in process and in json, check-rdb and stats, with the same error
/// everywhere, within `max_time` per run.
fn check_damaged(cases: Vec<Damaged>, max_time: Duration) -> Vec<String> {
    let dir = TempDir::new("bad-input-damaged");
    let mut failures = Vec::new();
    for d in cases {
        let Damaged {
            what,
            bytes,
            expect,
            offset,
            stdin_too,
        } = d;
        let verify = |msg: &str| -> Result<(), String> {
            for e in &expect {
                if !msg.contains(e.as_str()) {
                    return Err(format!("the error does not say {e:?}: {msg:?}"));
                }
            }
            if let Some(o) = offset {
                if offset_of(msg) != Some(o) {
                    return Err(format!("the error should name offset {o}: {msg:?}"));
                }
            }
            Ok(())
        };
        let lib = match lib_outcome(&bytes, &[]) {
            Outcome::Err(m) => {
                if let Err(why) = verify(&m) {
                    failures.push(format!("{what}: in process: {why}"));
                }
                Some(m)
            }
            other => {
                failures.push(format!("{what}: in process: {other:?}, expected an error"));
                None
            }
        };
        let f = dir.file("damaged.rdb", &bytes);
        for cmd in COMMANDS {
            let r = run_cmd(&dir, cmd, f.as_os_str(), None);
            let res = check_failed_run(&r, cmd, bytes.len()).and_then(|msg| {
                if r.elapsed > max_time {
                    return Err(format!("took {:?} (limit {max_time:?})", r.elapsed));
                }
                verify(&msg)?;
                match &lib {
                    Some(l) if *l != msg => Err(format!("says {msg:?}, the library {l:?}")),
                    _ => Ok(()),
                }
            });
            if let Err(why) = res {
                failures.push(format!("{what}: `{}`: {why}", r.cmdline));
            }
            if stdin_too {
                let r = run_cmd(&dir, cmd, OsStr::new("-"), Some(&bytes));
                let res = check_failed_run(&r, cmd, bytes.len()).and_then(|_| {
                    if r.elapsed > max_time {
                        return Err(format!("took {:?} (limit {max_time:?})", r.elapsed));
                    }
                    Ok(())
                });
                if let Err(why) = res {
                    failures.push(format!("{what}: `{}` (stdin): {why}", r.cmdline));
                }
            }
        }
    }
    failures
}

// =============================================================================================
// 3. Checksums
// =============================================================================================

/// A wrong CRC64 (one bit flipped in each of the 8 stored bytes in turn) is an error naming the
/// checksum's offset, the stored value and the right one (the one redis-server wrote); a CRC of
/// 0 means "checksum disabled" and the file reads as before.
#[test]
fn wrong_crc_is_an_error_and_zero_crc_is_disabled() {
    let mut files = Vec::new();
    for (name, _, bytes) in all_inputs() {
        let header = parse_header(&bytes[..HEADER_LEN]).expect("undamaged header");
        let n = bytes.len();
        let stored = u64::from_le_bytes(bytes[n - 8..].try_into().unwrap());
        // The files with a checksum: version >= 5, and one the writer did not disable.
        if header.has_checksum() && stored != 0 {
            assert_eq!(bytes[n - 9], 0xff, "{name}: no EOF opcode before the CRC");
            files.push((name, bytes, stored));
        }
    }
    assert!(files.len() >= 8, "too few files with a checksum");
    let (cases, failures) = with_watchdog("checksums", HANG * 2, move |_p| {
        let mut damaged = Vec::new();
        for (name, bytes, stored) in &files {
            let n = bytes.len();
            for i in 0..8 {
                let mut b = bytes.clone();
                b[n - 8 + i] ^= 1 << i;
                let says = u64::from_le_bytes(b[n - 8..].try_into().unwrap());
                damaged.push(Damaged {
                    what: format!("{name} with bit {i} of CRC byte {} flipped", n - 8 + i),
                    bytes: b,
                    expect: vec![
                        "CRC64 mismatch".into(),
                        format!("{says:016x}"),
                        format!("{stored:016x}"),
                    ],
                    offset: Some((n - 8) as u64),
                    stdin_too: false,
                });
            }
        }
        let cases = damaged.len();
        let mut failures = check_damaged(damaged, HANG);

        // A zeroed CRC: "checksum disabled", and every command reads the file as before.
        let dir = TempDir::new("bad-input-crc0");
        for (name, bytes, _) in &files {
            let n = bytes.len();
            let mut b = bytes.clone();
            b[n - 8..].fill(0);
            let what = format!("{name} with its CRC zeroed");
            match lib_outcome(&b, &[]) {
                Outcome::Ok(_) => {}
                other => failures.push(format!("{what}: in process: {other:?}")),
            }
            let good = dir.file("good.rdb", bytes);
            let zero = dir.file("zero.rdb", &b);
            for args in [
                &["json"][..],
                &["stats"],
                &["check-rdb"],
                &["check-rdb", "--json"],
            ] {
                let run = |f: &Path| {
                    let mut a: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
                    a.push(f.as_os_str());
                    run_redkit(&dir, &a, None)
                };
                let (rg, rz) = (run(&good), run(&zero));
                if let Err(why) = check_any_run(&rz) {
                    failures.push(format!("{what}: `{}`: {why}", rz.cmdline));
                } else if rz.code != Some(0) {
                    failures.push(format!(
                        "{what}: `{}` exits {:?}, expected 0: {:?} {:?}",
                        rz.cmdline,
                        rz.code,
                        rz.stderr,
                        tail(&String::from_utf8_lossy(&rz.stdout))
                    ));
                } else if args[0] != "check-rdb" && rz.stdout != rg.stdout {
                    failures.push(format!(
                        "{what}: `{}` prints something else than for the undamaged file",
                        rz.cmdline
                    ));
                } else if args.len() == 2
                    && !String::from_utf8_lossy(&rz.stdout).contains("\"checksum\":\"disabled\"")
                {
                    failures.push(format!(
                        "{what}: `{}` does not report \"checksum\":\"disabled\": {}",
                        rz.cmdline,
                        String::from_utf8_lossy(&rz.stdout)
                    ));
                }
            }
        }
        (cases + 4 * files.len(), failures)
    });
    report("checksums", cases, &failures);
}

// =============================================================================================
// 4. Unknown value types
// =============================================================================================

/// A key's type byte patched to 30 or 8 (no such value type): "unknown RDB type N" at the type
/// byte's offset.
#[test]
fn unknown_value_type_names_type_and_offset() {
    let mut damaged = Vec::new();
    for (name, _, bytes) in all_inputs() {
        let keys = key_records(&bytes);
        // The first and the last key of every file that has keys.
        let picks: Vec<&KeyAt> = keys.first().into_iter().chain(keys.last()).collect();
        for k in picks {
            for t in [30u8, 8] {
                let mut b = bytes.clone();
                b[k.type_offset] = t;
                damaged.push(Damaged {
                    what: format!(
                        "{name} with the type byte at offset {} ({} of key {:?}) set to {t}",
                        k.type_offset,
                        k.rdb_type,
                        String::from_utf8_lossy(&k.key)
                    ),
                    bytes: b,
                    expect: vec![format!("unknown RDB type {t}")],
                    offset: Some(k.type_offset as u64),
                    stdin_too: false,
                });
            }
        }
    }
    assert!(damaged.len() >= 40, "too few keys found");
    let cases = damaged.len();
    let failures = with_watchdog("unknown types", HANG * 2, move |_p| {
        check_damaged(damaged, HANG)
    });
    report("unknown types", cases, &failures);
}

// =============================================================================================
// 5. Lengths larger than the file
// =============================================================================================

const HUGE_LENGTHS: [&[u8]; 4] = [
    // 32-bit form, 2^31 - 1.
    &[0x80, 0x7f, 0xff, 0xff, 0xff],
    // 64-bit form, 1 TiB, 2^63 - 1 and 2^64 - 1.
    &[0x81, 0, 0, 0x01, 0, 0, 0, 0, 0],
    &[0x81, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    &[0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
];

/// Where a string starts in `b` at `at`: (length field's offset, its size) for a plain string,
/// or for an LZF string (0xC3) its compressed and uncompressed length fields.
fn string_lengths(b: &[u8], at: usize) -> Vec<(usize, usize, &'static str)> {
    if b[at] == 0xc3 {
        let clen_at = at + 1;
        let clen_size = length_field_len(&b[clen_at..]);
        let ulen_at = clen_at + clen_size;
        vec![
            (clen_at, clen_size, "LZF compressed length"),
            (
                ulen_at,
                length_field_len(&b[ulen_at..]),
                "LZF uncompressed length",
            ),
        ]
    } else if b[at] >> 6 == 3 {
        vec![]
    } else {
        vec![(at, length_field_len(&b[at..]), "string length")]
    }
}

#[test]
fn lengths_larger_than_the_file_fail_fast_without_allocating() {
    // The allocation tracker sees a big allocation (reserved, never touched).
    LARGEST_ALLOC.with(|c| c.set(0));
    drop(std::hint::black_box(Vec::<u8>::with_capacity(
        ALLOC_LIMIT + 1,
    )));
    assert_eq!(
        LARGEST_ALLOC.with(|c| c.replace(0)),
        ALLOC_LIMIT + 1,
        "the allocation tracker is broken"
    );
    let mut damaged = Vec::new();
    for s in ["strings.rdb", "all-types.rdb"] {
        let bytes = read(&sample_file(s));
        let keys = key_records(&bytes);
        // Length fields: the key of the first record, the value of the first plain string,
        // both lengths of the first LZF string, the first blob (listpack, intset), and the
        // first count of every aggregate type present.
        let mut fields: Vec<(usize, usize, String)> = Vec::new();
        let mut push = |v: Vec<(usize, usize, &'static str)>, k: &KeyAt| {
            for (at, size, what) in v {
                fields.push((
                    at,
                    size,
                    format!("{what} of key {:?}", String::from_utf8_lossy(&k.key)),
                ));
            }
        };
        push(string_lengths(&bytes, keys[0].key_offset), &keys[0]);
        let string_keys = keys.iter().filter(|k| k.rdb_type == 0);
        if let Some(k) = string_keys.clone().find(|k| bytes[k.value_offset] < 0xc0) {
            push(string_lengths(&bytes, k.value_offset), k);
        }
        if let Some(k) = string_keys.clone().find(|k| bytes[k.value_offset] == 0xc3) {
            push(string_lengths(&bytes, k.value_offset), k);
        }
        // Types whose value is one string holding a blob: intset, listpack hash/zset/set.
        if let Some(k) = keys.iter().find(|k| [11, 16, 17, 20].contains(&k.rdb_type)) {
            push(string_lengths(&bytes, k.value_offset), k);
        }
        let mut seen = Vec::new();
        for k in &keys {
            // Types whose value starts with a count: list, set, zset, hash, zset2, quicklist
            // (2), streams.
            if [1, 2, 3, 4, 5, 14, 18, 15, 19, 21].contains(&k.rdb_type)
                && !seen.contains(&k.rdb_type)
            {
                seen.push(k.rdb_type);
                push(
                    vec![(
                        k.value_offset,
                        length_field_len(&bytes[k.value_offset..]),
                        "count",
                    )],
                    k,
                );
            }
        }
        for (at, size, what) in fields {
            for new in HUGE_LENGTHS {
                damaged.push(Damaged {
                    what: format!(
                        "samples/{s} with the {what} at offset {at} ({}) replaced by {}",
                        hex(&bytes[at..at + size]),
                        hex(new)
                    ),
                    bytes: splice(&bytes, at, size, new),
                    expect: vec![],
                    offset: None,
                    stdin_too: false,
                });
            }
        }
    }
    // The same in an input larger than the reader's 4 MiB chunks (9 MiB of zeros appended), so
    // the record runs past a chunk's end and takes the reader's path that gathers it from
    // several chunks: from a file, whose size the reader knows, and from stdin, whose size it
    // does not.
    let bytes = read(&sample_file("strings.rdb"));
    let k = key_records(&bytes)
        .into_iter()
        .find(|k| k.rdb_type == 0 && bytes[k.value_offset] < 0x40)
        .expect("strings.rdb has a short plain string value");
    for new in [HUGE_LENGTHS[0], HUGE_LENGTHS[3]] {
        let mut b = splice(&bytes, k.value_offset, 1, new);
        b.resize(b.len() + (9 << 20), 0);
        damaged.push(Damaged {
            what: format!(
                "samples/strings.rdb with the string length of key {:?} at offset {} ({}) \
                 replaced by {}, and 9 MiB of zeros appended",
                String::from_utf8_lossy(&k.key),
                k.value_offset,
                hex(&bytes[k.value_offset..k.value_offset + 1]),
                hex(new)
            ),
            bytes: b,
            expect: vec![],
            offset: None,
            stdin_too: true,
        });
    }
    assert!(damaged.len() >= 40, "too few length fields found");
    let cases = damaged.len();
    let failures = with_watchdog("huge lengths", HANG * 2, move |_p| {
        check_damaged(damaged, Duration::from_secs(5))
    });
    report("huge lengths", cases, &failures);
}

// =============================================================================================
// 6, 7. Bad headers, empty and tiny files
// =============================================================================================

#[test]
fn bad_headers_and_tiny_files() {
    let all = read(&sample_file("all-types.rdb"));
    let body = &all[HEADER_LEN..];
    let with_header = |h: &[u8]| {
        let mut v = h.to_vec();
        v.extend_from_slice(body);
        v
    };
    let readme = read(&root().join("README.md"));
    let mut damaged = vec![
        Damaged {
            what: "all-types.rdb with header REDIS0099".into(),
            bytes: with_header(b"REDIS0099"),
            expect: vec!["REDIS0099".into()],
            offset: None,
            stdin_too: false,
        },
        Damaged {
            what: "all-types.rdb with header VALKEY081".into(),
            bytes: with_header(b"VALKEY081"),
            expect: vec!["VALKEY081".into()],
            offset: None,
            stdin_too: false,
        },
        Damaged {
            what: "all-types.rdb with header REDIS0000".into(),
            bytes: with_header(b"REDIS0000"),
            expect: vec!["REDIS0000".into()],
            offset: None,
            stdin_too: false,
        },
        Damaged {
            what: "README.md".into(),
            bytes: readme,
            expect: vec!["not an RDB file".into()],
            offset: None,
            stdin_too: false,
        },
    ];
    for tiny in [
        &b""[..],
        b"R",
        b"REDIS",
        b"REDIS001",
        b"VALKEY",
        b"REDIS0010",
        b"VALKEY080",
    ] {
        damaged.push(Damaged {
            what: format!(
                "a {}-byte file {:?}",
                tiny.len(),
                String::from_utf8_lossy(tiny)
            ),
            bytes: tiny.to_vec(),
            expect: vec![],
            offset: None,
            stdin_too: false,
        });
    }
    let cases = damaged.len();
    let failures = with_watchdog("headers", HANG * 2, move |_p| check_damaged(damaged, HANG));
    report("headers", cases, &failures);
}

/// Bytes of the file quoted in an error (a header's version digits, a zset score stored as
/// text) must not break the error's single line.
#[test]
fn quoted_file_bytes_keep_the_error_on_one_line() {
    let all = read(&sample_file("all-types.rdb"));
    let mut damaged = Vec::new();
    for h in [&b"REDIS00\n1"[..], b"REDIS0\r10", b"VALKEY0\n8"] {
        let mut v = h.to_vec();
        v.extend_from_slice(&all[HEADER_LEN..]);
        damaged.push(Damaged {
            what: format!("all-types.rdb with header {:?}", String::from_utf8_lossy(h)),
            bytes: v,
            expect: vec![],
            offset: None,
            stdin_too: false,
        });
    }
    // encodings.rdb (RDB 4) starts with a type-3 zset, its scores stored as text: replace the
    // first score with one holding a newline.
    let enc = read(&corpus_file("valkey/tests/assets/encodings.rdb"));
    let k = key_records(&enc)
        .into_iter()
        .find(|k| k.rdb_type == 3)
        .expect("encodings.rdb has a type-3 zset");
    let mut at = k.value_offset + length_field_len(&enc[k.value_offset..]);
    // Skip the first member (a plain short string in this file).
    assert!(
        enc[at] < 0x40,
        "unexpected member encoding in encodings.rdb"
    );
    at += 1 + enc[at] as usize;
    let score_len = 1 + enc[at] as usize;
    damaged.push(Damaged {
        what: format!(
            "encodings.rdb with the first score of zset {:?} (offset {at}, {}) replaced by \"1\\n2\"",
            String::from_utf8_lossy(&k.key),
            hex(&enc[at..at + score_len])
        ),
        bytes: splice(&enc, at, score_len, b"\x031\n2"),
        expect: vec![],
        offset: None,
        stdin_too: false,
    });
    // all-types.rdb stores the score -inf of a listpack zset as the 4-byte string entry "-inf":
    // make it "-i\nf" (same length, so the listpack stays well formed).
    let pat = b"\x84-inf";
    let (k, at) = key_records(&all)
        .into_iter()
        .filter(|k| k.rdb_type == 17)
        .find_map(|k| {
            let v = &all[k.value_offset..k.value_offset + k.value_len];
            let i = v.windows(pat.len()).position(|w| w == pat)?;
            Some((k.key, k.value_offset + i + 1))
        })
        .expect("all-types.rdb has a listpack zset holding the entry \"-inf\"");
    damaged.push(Damaged {
        what: format!(
            "all-types.rdb with the listpack entry \"-inf\" at offset {at} of zset {:?} \
             changed to \"-i\\nf\"",
            String::from_utf8_lossy(&k)
        ),
        bytes: splice(&all, at, 4, b"-i\nf"),
        expect: vec![],
        offset: None,
        stdin_too: false,
    });
    let cases = damaged.len();
    let failures = with_watchdog("quoted bytes", HANG * 2, move |_p| {
        check_damaged(damaged, HANG)
    });
    report("quoted bytes", cases, &failures);
}

// =============================================================================================
// 8. Standard input
// =============================================================================================

/// `redkit CMD -` with the file on stdin: the same output as with the path for good files, and
/// the same error for truncated ones.
#[test]
fn stdin_gives_the_same_results_as_the_file() {
    let (cases, failures) = with_watchdog("stdin", HANG * 2, move |p| {
        let dir = TempDir::new("bad-input-stdin");
        let mut failures = Vec::new();
        let mut cases = 0;
        let dash = OsStr::new("-");
        for s in SAMPLES {
            let bytes = read(&sample_file(s));
            let path = sample_file(s);
            for cmd in ["json", "stats"] {
                p.case(|| format!("{cmd} - < {s}"));
                cases += 1;
                let rf = run_cmd(&dir, cmd, path.as_os_str(), None);
                let rs = run_cmd(&dir, cmd, dash, Some(&bytes));
                if rf.code != Some(0) || rs.code != Some(0) || rf.stdout != rs.stdout {
                    failures.push(format!(
                        "samples/{s}: `redkit {cmd} -` (exit {:?}, stderr {:?}) does not print \
                         what `redkit {cmd} FILE` (exit {:?}) prints",
                        rs.code, rs.stderr, rf.code
                    ));
                }
            }
            cases += 1;
            let rs = run_cmd(&dir, "check-rdb", dash, Some(&bytes));
            if rs.code != Some(0) {
                failures.push(format!(
                    "samples/{s}: `redkit check-rdb -` exits {:?}: {}",
                    rs.code,
                    tail(&String::from_utf8_lossy(&rs.stdout))
                ));
            }
        }
        for s in ["all-types.rdb", "multidb-expiry.rdb"] {
            let bytes = read(&sample_file(s));
            let n = bytes.len();
            for cut in [0, 3, 5, 9, 10, n / 3, n / 2, n - 9, n - 8, n - 4, n - 1] {
                let f = dir.file("cut.rdb", &bytes[..cut]);
                for cmd in COMMANDS {
                    p.case(|| format!("{cmd} - < {s} cut to {cut} bytes"));
                    cases += 1;
                    let what = format!("samples/{s} truncated to {cut} bytes, `redkit {cmd} -`");
                    let rf = run_cmd(&dir, cmd, f.as_os_str(), None);
                    let rs = run_cmd(&dir, cmd, dash, Some(&bytes[..cut]));
                    match (
                        check_failed_run(&rf, cmd, cut),
                        check_failed_run(&rs, cmd, cut),
                    ) {
                        (Ok(a), Ok(b)) if a == b => {}
                        (Ok(a), Ok(b)) => {
                            failures.push(format!("{what} says {b:?}, with the path {a:?}"))
                        }
                        (_, Err(why)) => failures.push(format!("{what}: {why}")),
                        (Err(why), _) => failures.push(format!("{what} (the path): {why}")),
                    }
                }
            }
        }
        (cases, failures)
    });
    report("stdin", cases, &failures);
}
