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
    for (i, f) in files.iter().enumerate() {
        let data = match aoffile::map(f) {
            Ok(d) => d,
            Err(e) => {
                result = Err(Error::io(f, e));
                break;
            }
        };
        if let Err(e) = replay_bytes(&data, f, i + 1 == n, ex, opts, &mut report) {
            result = Err(e);
            break;
        }
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

/// Replay one file's bytes.
pub fn replay_bytes(
    data: &[u8],
    path: &Path,
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
    }
    let mut sess = Session::default();
    let mut line = 1u64;
    // Where the open MULTI started, for the warning if it is never closed.
    let mut multi_at: Option<u64> = None;
    while pos < data.len() {
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
        if !last_file {
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
