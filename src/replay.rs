//! AOF replay: load a plain, RDB-preamble or multi-part AOF into an [`Executor`] with Redis's
//! loading rules (`loadSingleAppendOnlyFile` / `loadAppendOnlyFiles` in Redis 7.0):
//!
//! - every file starts in db 0; SELECT switches; `#` annotations are skipped;
//! - nothing expires while loading (the executor runs with `loading` set);
//! - MULTI ... EXEC applies atomically; a MULTI still open at the end of the last file is
//!   dropped with a warning (Redis reverts to before the MULTI);
//! - a truncated last command in the last file is dropped with a warning naming its offset,
//!   like `aof-load-truncated yes`; in an earlier file it is an error;
//! - bad RESP is an error; an unknown or failing command is an error with offset and line,
//!   unless `skip_errors` is set (then it is counted). Whole Lua scripts (EVAL, EVALSHA, SCRIPT,
//!   found in AOFs written by Redis 4.0 and older) cannot be replayed: a clear error.
//!
//! Point-in-time recovery ([`ReplayOptions::until_timestamp`], [`ReplayOptions::until_offset`])
//! stops the replay early; what is left out is reported in [`ReplayReport::stopped_at`]. A MULTI
//! still open at the cut is dropped, as one still open at the end of the input would be.

use std::path::{Path, PathBuf};

use redkit_formats::manifest::{FileType, ManifestError};
use redkit_formats::resp::{self, Record};

use crate::aoffile::{self, Input};
use crate::cmd::{Executor, Reply, Session};
use crate::keyspace::load::{load_rdb, LoadOptions, LoadReport};
use crate::{Error, Result};

#[derive(Debug, Clone, Default)]
pub struct ReplayOptions {
    /// Count and skip failing commands instead of stopping.
    pub skip_errors: bool,
    /// Stop at the first `#TS:<unix seconds>` annotation whose time is after this (unix
    /// seconds): that annotation and everything after it are left out. These are the commands
    /// `redis-check-aof --truncate-to-timestamp` keeps (Redis writes `#TS:` lines with
    /// `aof-timestamp-enabled yes`); commands before the first annotation are kept, and an
    /// annotation at or before the time lets replay go on. A `#TS:` line that is not a number
    /// is an error, as in redis-check-aof. Unlike redis-check-aof, which can only truncate the
    /// last file of a multi-part AOF, replay can stop in any file (later files are not read);
    /// but when the very first record of the input is already too late, nothing would be
    /// loaded, and that is an error (redis-check-aof refuses it too).
    pub until_timestamp: Option<i64>,
    /// Stop before the first command that starts at or beyond this byte offset of the input.
    /// For a multi-part AOF the offset runs across the files concatenated in load order (the
    /// base, then the incremental files in manifest order): a file's first byte is at the sum
    /// of the sizes of the files loaded before it. An RDB part (preamble or RDB base) is loaded
    /// whole: an offset at or before its first byte stops before it, an offset strictly inside
    /// it is an error.
    pub until_offset: Option<u64>,
}

/// One replayed file.
#[derive(Debug, Clone, Default)]
pub struct FileReplay {
    pub path: PathBuf,
    pub bytes: u64,
    /// The RDB preamble or RDB base, when there is one.
    pub rdb: Option<LoadReport>,
    pub commands: u64,
}

#[derive(Debug, Clone, Default)]
pub struct ReplayReport {
    pub files: Vec<FileReplay>,
    pub commands: u64,
    /// Failing commands skipped (with `skip_errors`).
    pub skipped_errors: u64,
    /// One line each: truncated tails, dropped transactions, skipped errors.
    pub warnings: Vec<String>,
    /// Where a point-in-time option stopped the replay: the file, the offset in that file of
    /// the first record left out, and why. `None` when the whole input was replayed.
    pub stopped_at: Option<(PathBuf, u64, String)>,
}

/// The files of `path` in load order: one file, or a manifest's base then incr files.
pub fn files_of(path: &Path) -> Result<Vec<PathBuf>> {
    match aoffile::resolve(path)? {
        Input::File(p) => Ok(vec![p]),
        Input::Manifest(m) => {
            let mp = aoffile::load_manifest(&m)?.map_err(|e: ManifestError| {
                Error::Usage(format!("{}: bad manifest: {}", m.display(), e.message))
            })?;
            let dir = m.parent().map(Path::to_path_buf).unwrap_or_default();
            let mut out = Vec::new();
            if let Some(b) = &mp.manifest.base {
                out.push(dir.join(String::from_utf8_lossy(&b.name).as_ref()));
            }
            for i in &mp.manifest.incr {
                debug_assert_eq!(i.kind, FileType::Incr);
                out.push(dir.join(String::from_utf8_lossy(&i.name).as_ref()));
            }
            Ok(out)
        }
    }
}

/// Replay the AOF at `path` (file, manifest or appendonlydir) into `ex`.
pub fn replay(path: &Path, ex: &mut Executor, opts: &ReplayOptions) -> Result<ReplayReport> {
    let files = files_of(path)?;
    let mut report = ReplayReport::default();
    let was_loading = ex.loading;
    ex.loading = true;
    let n = files.len();
    let mut result = Ok(());
    // Offset of the current file's first byte in the concatenated input.
    let mut base = 0u64;
    for (i, f) in files.iter().enumerate() {
        let data = match aoffile::map(f) {
            Ok(d) => d,
            Err(e) => {
                result = Err(Error::io(f, e));
                break;
            }
        };
        match replay_part(&data, f, base, i + 1 == n, ex, opts, &mut report) {
            Ok(()) if report.stopped_at.is_some() => break,
            Ok(()) => {}
            Err(e) => {
                result = Err(e);
                break;
            }
        }
        base += data.len() as u64;
    }
    ex.loading = was_loading;
    result.map(|()| report)
}

fn fail(path: &Path, offset: u64, line: u64, msg: String) -> Error {
    Error::Other(format!(
        "{}: [offset {offset}] (line {line}) {msg}",
        path.display()
    ))
}

/// Replay one file's bytes (the only or the first file of the input: `until_offset` counts
/// from its first byte). Sets `report.stopped_at` when a point-in-time option stopped it.
pub fn replay_bytes(
    data: &[u8],
    path: &Path,
    last_file: bool,
    ex: &mut Executor,
    opts: &ReplayOptions,
    report: &mut ReplayReport,
) -> Result<()> {
    replay_part(data, path, 0, last_file, ex, opts, report)
}

/// `#TS:` seconds read the way redis-check-aof reads them (C `strtol`, then the line must go
/// on with `\r`): leading white space, an optional sign, digits (none is 0). `None` when the
/// annotation is not a valid timestamp.
fn ts_seconds(text: &[u8], line_end_cr: bool) -> Option<i64> {
    if !line_end_cr {
        return None;
    }
    let t = text.strip_prefix(b"TS:")?;
    let t = &t[t.iter().take_while(|c| c.is_ascii_whitespace()).count()..];
    let (neg, t) = match t.first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i64 = 0;
    for &d in t {
        v = v.checked_mul(10)?.checked_add(i64::from(d - b'0'))?;
    }
    Some(if neg { -v } else { v })
}

#[allow(clippy::too_many_arguments)]
fn replay_part(
    data: &[u8],
    path: &Path,
    base: u64,
    last_file: bool,
    ex: &mut Executor,
    opts: &ReplayOptions,
    report: &mut ReplayReport,
) -> Result<()> {
    let mut file = FileReplay {
        path: path.to_path_buf(),
        bytes: data.len() as u64,
        ..FileReplay::default()
    };
    let mut pos = 0usize;
    // The offset limit as a position in this file: 0 when it is at or before its start.
    let limit = opts
        .until_offset
        .map(|n| usize::try_from(n.saturating_sub(base)).unwrap_or(usize::MAX));
    if limit == Some(0) && !data.is_empty() {
        report.stopped_at = Some((
            path.to_path_buf(),
            0,
            format!("offset limit {}", opts.until_offset.unwrap_or(0)),
        ));
        return Ok(());
    }
    if aoffile::is_rdb(data) {
        let lr = load_rdb(
            data,
            &mut ex.ks,
            &LoadOptions {
                skip_expired_before: None,
                deep: false,
                allow_duplicates: false,
            },
        )
        .map_err(|e| Error::Other(format!("{}: {e}", path.display())))?;
        pos = lr.end;
        file.rdb = Some(lr);
        if let (Some(l), Some(n)) = (limit, opts.until_offset) {
            if l < pos {
                return Err(Error::Usage(format!(
                    "{}: offset {n} falls inside the RDB part (input offsets {base} to {}), which can only be loaded whole; give an offset of at most {base} or at least {}",
                    path.display(),
                    base + pos as u64,
                    base + pos as u64
                )));
            }
        }
    }
    let mut sess = Session::default();
    let mut line = 1u64;
    // Where the open MULTI started, for the warning if it is never closed.
    let mut multi_at: Option<u64> = None;
    // Where a point-in-time option cut this file, and why.
    let mut cut: Option<(u64, String)> = None;
    while pos < data.len() {
        if let (Some(l), Some(n)) = (limit, opts.until_offset) {
            if pos >= l {
                cut = Some((pos as u64, format!("offset limit {n}")));
                break;
            }
        }
        let rec = match resp::next_record(data, pos, 0, line) {
            Ok(r) => r,
            Err(e) if e.is_incomplete() => {
                if !last_file {
                    return Err(fail(
                        path,
                        pos as u64,
                        line,
                        "truncated command in a file that is not the last one".into(),
                    ));
                }
                report.warnings.push(format!(
                    "{}: [offset {pos}] (line {line}) truncated last command ({} bytes) ignored, as redis does with aof-load-truncated yes",
                    path.display(),
                    data.len() - pos
                ));
                break;
            }
            Err(e) => return Err(Error::Other(format!("{}: {e}", path.display()))),
        };
        if let (
            Some(t),
            Record::Annotation {
                text, offset, end, ..
            },
        ) = (opts.until_timestamp, &rec)
        {
            if text.starts_with(b"TS:") {
                let cr = data.get(end.saturating_sub(2)) == Some(&b'\r');
                let Some(ts) = ts_seconds(text, cr) else {
                    return Err(fail(
                        path,
                        *offset,
                        line,
                        format!(
                            "invalid timestamp annotation '#{}'",
                            String::from_utf8_lossy(text)
                        ),
                    ));
                };
                if ts > t {
                    if base == 0 && *offset == 0 {
                        return Err(fail(
                            path,
                            0,
                            line,
                            format!("nothing before timestamp {t}: the input starts at #TS:{ts}"),
                        ));
                    }
                    cut = Some((*offset, format!("timestamp {ts} after {t}")));
                    break;
                }
            }
        }
        pos = rec.end();
        line = rec.next_line();
        let Record::Command(cmd) = rec else {
            continue;
        };
        let name = cmd.args[0];
        if [&b"eval"[..], b"evalsha", b"script"]
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n))
        {
            let msg = format!(
                "{} cannot be replayed: redkit does not run Lua scripts (an AOF written by Redis 4.0 or older, or with script effects replication off, holds whole scripts)",
                String::from_utf8_lossy(name).to_ascii_uppercase()
            );
            skip_or_fail(opts, report, path, &cmd, msg)?;
            continue;
        }
        if name.eq_ignore_ascii_case(b"multi") {
            multi_at = Some(cmd.offset);
        } else if name.eq_ignore_ascii_case(b"exec") {
            multi_at = None;
        }
        let reply = ex.execute(&mut sess, &cmd.args);
        file.commands += 1;
        if let Some(err) = first_error(&reply) {
            let msg = format!(
                "{} failed: {err}",
                String::from_utf8_lossy(name).to_ascii_uppercase()
            );
            skip_or_fail(opts, report, path, &cmd, msg)?;
        }
    }
    if sess.multi.is_some() {
        let at = multi_at.unwrap_or(0);
        if let Some((c, _)) = &cut {
            report.warnings.push(format!(
                "{}: [offset {at}] MULTI still open at the cut (offset {c}): its commands were not applied",
                path.display()
            ));
        } else if !last_file {
            return Err(fail(
                path,
                at,
                line,
                "MULTI without EXEC in a file that is not the last one".into(),
            ));
        }
        report.warnings.push(format!(
            "{}: [offset {at}] MULTI without EXEC at the end: its commands were not applied (redis reverts an incomplete transaction)",
            path.display()
        ));
    }
    report.commands += file.commands;
    report.files.push(file);
    if let Some((at, why)) = cut {
        report.stopped_at = Some((path.to_path_buf(), at, why));
    }
    Ok(())
}

/// A command that cannot be applied: counted and reported with `skip_errors`, else the error.
fn skip_or_fail(
    opts: &ReplayOptions,
    report: &mut ReplayReport,
    path: &Path,
    cmd: &resp::Command<'_>,
    msg: String,
) -> Result<()> {
    if !opts.skip_errors {
        return Err(fail(path, cmd.offset, cmd.line, msg));
    }
    report.skipped_errors += 1;
    report.warnings.push(format!(
        "{}: [offset {}] (line {}) {msg}: skipped",
        path.display(),
        cmd.offset,
        cmd.line
    ));
    Ok(())
}

/// The first error in a reply (EXEC's array included).
fn first_error(r: &Reply) -> Option<String> {
    match r {
        Reply::Error(e) => Some(e.to_string()),
        Reply::Array(items) => items.iter().find_map(first_error),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Keyspace;

    fn cmd(args: &[&str]) -> Vec<u8> {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        let mut out = Vec::new();
        resp::encode_command(&a, &mut out);
        out
    }

    fn set(k: &str) -> Vec<u8> {
        cmd(&["SET", k, "1"])
    }

    /// Sorted keys of db 0.
    fn keys(ex: &Executor) -> Vec<String> {
        let mut k: Vec<String> = ex.ks.dbs[0]
            .map
            .keys()
            .map(|k| String::from_utf8_lossy(k.as_bytes()).into_owned())
            .collect();
        k.sort();
        k
    }

    use crate::testutil::Tmp;

    fn run(path: &Path, opts: &ReplayOptions) -> Result<(Executor, ReplayReport)> {
        let mut ex = Executor::new(Keyspace::default());
        let r = replay(path, &mut ex, opts)?;
        Ok((ex, r))
    }

    /// SET a; #TS:100; SET b; #TS:200; SET c; MULTI; SET d; #TS:300; SET e; EXEC; SET f.
    fn timed_aof() -> (Vec<u8>, Vec<usize>) {
        let mut v = Vec::new();
        let mut at = Vec::new();
        let parts: Vec<Vec<u8>> = vec![
            set("a"),
            b"#TS:100\r\n".to_vec(),
            set("b"),
            b"#TS:200\r\n".to_vec(),
            set("c"),
            cmd(&["MULTI"]),
            set("d"),
            b"#TS:300\r\n".to_vec(),
            set("e"),
            cmd(&["EXEC"]),
            set("f"),
        ];
        for p in parts {
            at.push(v.len());
            v.extend_from_slice(&p);
        }
        (v, at)
    }

    fn ts(t: i64) -> ReplayOptions {
        ReplayOptions {
            until_timestamp: Some(t),
            ..ReplayOptions::default()
        }
    }

    fn off(n: u64) -> ReplayOptions {
        ReplayOptions {
            until_offset: Some(n),
            ..ReplayOptions::default()
        }
    }

    #[test]
    fn until_timestamp_keeps_what_redis_check_aof_keeps() {
        let t = Tmp::new("ts");
        let (aof, at) = timed_aof();
        let f = t.file("a.aof", &aof);
        for (limit, want, stop) in [
            (50, vec!["a"], Some(at[1])),
            (99, vec!["a"], Some(at[1])),
            (100, vec!["a", "b"], Some(at[3])),
            (199, vec!["a", "b"], Some(at[3])),
            // The cut falls inside MULTI: the open transaction is dropped.
            (250, vec!["a", "b", "c"], Some(at[7])),
            (300, vec!["a", "b", "c", "d", "e", "f"], None),
        ] {
            let (ex, r) = run(&f, &ts(limit)).unwrap();
            assert_eq!(keys(&ex), want, "T={limit}");
            assert_eq!(
                r.stopped_at.as_ref().map(|s| s.1 as usize),
                stop,
                "T={limit}"
            );
            if let Some((p, _, why)) = &r.stopped_at {
                assert_eq!(p, &f);
                assert!(why.contains("timestamp"), "{why}");
            }
            let multi_warned = r.warnings.iter().any(|w| w.contains("MULTI still open"));
            assert_eq!(multi_warned, limit == 250, "{:?}", r.warnings);
        }
        // Without the option every annotation is skipped, even a bad one.
        let bad = t.file(
            "bad.aof",
            &[&set("a")[..], b"#TS:12x\r\n", &set("b")].concat(),
        );
        let (ex, r) = run(&bad, &ReplayOptions::default()).unwrap();
        assert_eq!(keys(&ex), ["a", "b"]);
        assert!(r.stopped_at.is_none());
        // With it, a bad timestamp is an error, like redis-check-aof's.
        let e = run(&bad, &ts(5)).err().unwrap().to_string();
        assert!(e.contains("invalid timestamp annotation"), "{e}");
        assert!(e.contains(&format!("[offset {}]", set("a").len())), "{e}");
        // An input that starts after the time has nothing to recover.
        let late = t.file("late.aof", &[&b"#TS:500\r\n"[..], &set("a")].concat());
        let e = run(&late, &ts(100)).err().unwrap().to_string();
        assert!(e.contains("nothing before timestamp 100"), "{e}");
        assert_eq!(keys(&run(&late, &ts(500)).unwrap().0), ["a"]);
    }

    #[test]
    fn until_offset_stops_before_the_command_at_or_after_it() {
        let t = Tmp::new("off");
        let (aof, at) = timed_aof();
        let f = t.file("a.aof", &aof);
        for (n, want, stop) in [
            (0, vec![], Some(0)),
            (1, vec!["a"], Some(at[1])),
            (at[2] as u64, vec!["a"], Some(at[2])),
            (at[2] as u64 + 1, vec!["a", "b"], Some(at[3])),
            // Inside the transaction: it is dropped.
            (at[8] as u64, vec!["a", "b", "c"], Some(at[8])),
            (at[10] as u64, vec!["a", "b", "c", "d", "e"], Some(at[10])),
            (aof.len() as u64, vec!["a", "b", "c", "d", "e", "f"], None),
            (u64::MAX, vec!["a", "b", "c", "d", "e", "f"], None),
        ] {
            let (ex, r) = run(&f, &off(n)).unwrap();
            let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
            assert_eq!(keys(&ex), want, "N={n}");
            assert_eq!(r.stopped_at.as_ref().map(|s| s.1 as usize), stop, "N={n}");
        }
    }

    /// A manifest dir: base (RESP), two incr files; offsets run across them in load order.
    #[test]
    fn multi_part_offsets_run_across_the_files() {
        let t = Tmp::new("multi");
        let base = set("a");
        let incr1 = [&b"#TS:100\r\n"[..], &set("b")].concat();
        let incr2 = [&b"#TS:200\r\n"[..], &set("c"), &cmd(&["MULTI"]), &set("d")].concat();
        t.file("x.aof.1.base.aof", &base);
        t.file("x.aof.1.incr.aof", &incr1);
        let i2 = t.file("x.aof.2.incr.aof", &incr2);
        t.file(
            "x.aof.manifest",
            b"file x.aof.1.base.aof seq 1 type b\nfile x.aof.1.incr.aof seq 1 type i\nfile x.aof.2.incr.aof seq 2 type i\n",
        );
        let dir = t.0.clone();

        // Everything: the open MULTI at the end of the last file is dropped as usual.
        let (ex, r) = run(&dir, &ReplayOptions::default()).unwrap();
        assert_eq!(keys(&ex), ["a", "b", "c"]);
        assert!(r.stopped_at.is_none());

        // The start of the third file.
        let third = (base.len() + incr1.len()) as u64;
        let (ex, r) = run(&dir, &off(third)).unwrap();
        assert_eq!(keys(&ex), ["a", "b"]);
        assert_eq!(r.files.len(), 2);
        let (p, o, _) = r.stopped_at.unwrap();
        assert_eq!((p, o), (i2.clone(), 0));

        // Just past the start of SET c (offset 9 in the third file): c is kept.
        let (ex, r) = run(&dir, &off(third + 10)).unwrap();
        assert_eq!(keys(&ex), ["a", "b", "c"]);
        assert_eq!(r.stopped_at.map(|s| s.1), Some(9 + set("c").len() as u64));

        // A timestamp stop at the first byte of a later file is fine.
        let (ex, r) = run(&dir, &ts(150)).unwrap();
        assert_eq!(keys(&ex), ["a", "b"]);
        assert_eq!(r.stopped_at.map(|s| (s.0, s.1)), Some((i2, 0)));
        let (ex, _) = run(&dir, &ts(50)).unwrap();
        assert_eq!(keys(&ex), ["a"]);
    }

    /// An RDB base is loaded whole: an offset inside it is refused.
    #[test]
    fn an_offset_inside_an_rdb_part_is_an_error() {
        let t = Tmp::new("rdb");
        let rdb =
            std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/multidb-expiry.rdb"))
                .unwrap();
        let f = t.file("p.aof", &[&rdb[..], &set("zz")].concat());
        let e = run(&f, &off(10)).err().unwrap().to_string();
        assert!(e.contains("inside the RDB part"), "{e}");
        let (ex, r) = run(&f, &off(rdb.len() as u64)).unwrap();
        assert!(!keys(&ex).contains(&"zz".to_string()));
        assert!(!ex.ks.dbs[0].is_empty());
        assert_eq!(r.stopped_at.map(|s| s.1), Some(rdb.len() as u64));
        let (ex, _) = run(&f, &off(0)).unwrap();
        assert!(ex.ks.dbs.iter().all(|d| d.is_empty()));
        let (ex, _) = run(&f, &ReplayOptions::default()).unwrap();
        assert!(keys(&ex).contains(&"zz".to_string()));
    }
}
