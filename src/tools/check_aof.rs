//! `redkit check-aof`: a drop-in for redis-check-aof 7.0.
//!
//! Same detection order (manifest, RDB preamble, plain), same messages, `AOF analyzed:` line,
//! verdicts and exit codes, same bytes after `--fix` or `--truncate-to-timestamp` (the walk itself
//! is modelled in [`super::aof_scan`]). Where redkit deliberately differs (each one in
//! docs/aof.md):
//! - a plain AOF is a manifest only when its first non-comment line starts with `file` (redis 7.0
//!   looks at every line);
//! - the RDB preamble is checked by redkit's own check-rdb, so those report lines differ, and
//!   versions newer than 7.0 knows are accepted; a `VALKEY` preamble is recognised;
//! - truncating a file to 0 bytes needs `--force` (typically the file's line endings were
//!   converted: `redkit fix --line-endings` restores it);
//! - the timestamp mode also asks before it truncates (`--yes` skips the question in both modes);
//! - every changed file is first kept as `<file>.bak.<unix-time>` (`--no-backup` to skip), and
//!   the change is made by writing a new file and renaming it over the old one;
//! - a bad manifest is reported with redis's words but without its log prefix (pid, date).

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde_json::json;

use super::aof_scan::{walk_with, TsStop};
use super::check_rdb;
use crate::aoffile::{self, Input};
use crate::error::{Error, Result};
use crate::rdbfile::RdbReader;
use crate::safefile;

pub struct CheckAofOpts {
    pub fix: bool,
    /// `--truncate-to-timestamp` (0 = off, as in redis).
    pub to_timestamp: i64,
    pub yes: bool,
    pub backup: bool,
    pub dry_run: bool,
    pub force: bool,
    pub json: bool,
    pub now_ms: i64,
}

/// One file's result, for `--json`.
#[derive(Debug, Clone, Default)]
pub struct FileReport {
    /// The name redis-check-aof prints (the manifest's name, or the path as given).
    pub name: String,
    pub path: String,
    /// "aof", "base" or "incr".
    pub role: &'static str,
    /// "resp" or "rdb" (an RDB base or preamble).
    pub format: &'static str,
    pub size: u64,
    pub ok_up_to: u64,
    /// redis-check-aof's counter (skips annotations, runs on across files).
    pub ok_up_to_line: i64,
    /// The real line number (1-based) of the byte at `ok_up_to`.
    pub cut_line: u64,
    pub diff: u64,
    pub commands: u64,
    pub annotations: u64,
    pub error: Option<String>,
    /// valid, empty, truncated, timestamp-truncated, not-valid, would-truncate, aborted, refused,
    /// bad-preamble, missing.
    pub status: &'static str,
    pub backup: Option<String>,
}

impl FileReport {
    fn to_json(&self) -> serde_json::Value {
        json!({
            "name": self.name, "path": self.path, "role": self.role, "format": self.format,
            "size": self.size, "ok_up_to": self.ok_up_to, "ok_up_to_line": self.ok_up_to_line,
            "cut_line": self.cut_line, "diff": self.diff, "commands": self.commands,
            "annotations": self.annotations, "error": self.error, "status": self.status,
            "backup": self.backup,
        })
    }
}

/// The whole run: text lines as redis-check-aof prints them, plus the structured report.
pub struct Checker<'a> {
    opts: &'a CheckAofOpts,
    out: &'a mut dyn Write,
    answers: &'a mut dyn BufRead,
    line: i64,
    /// redis-check-aof's `*` line buffer, shared by all files of a run.
    star_stale: [u8; 128],
    pub files: Vec<FileReport>,
    pub kind: &'static str,
    /// Lines for people, also kept for `--json`.
    text: Vec<u8>,
}

/// How a run ends: redis's `exit(code)`.
struct Exit(u8);

enum Single {
    Ok,
    Empty,
    Truncated,
    TimestampTruncated,
}

impl<'a> Checker<'a> {
    pub fn new(
        opts: &'a CheckAofOpts,
        out: &'a mut dyn Write,
        answers: &'a mut dyn BufRead,
    ) -> Self {
        Checker {
            opts,
            out,
            answers,
            line: 1,
            star_stale: [0; 128],
            files: Vec::new(),
            kind: "plain",
            text: Vec::new(),
        }
    }

    fn say(&mut self, s: impl AsRef<[u8]>) -> std::result::Result<(), Exit> {
        let s = s.as_ref();
        self.text.extend_from_slice(s);
        self.text.push(b'\n');
        if !self.opts.json {
            let _ = self.out.write_all(s);
            let _ = self.out.write_all(b"\n");
        }
        Ok(())
    }

    /// Print a message and stop with exit code 1.
    fn die(&mut self, s: impl AsRef<[u8]>) -> Exit {
        let _ = self.say(s);
        Exit(1)
    }

    /// Ask "Continue? [y/N]: " and read one answer like redis-check-aof (first character y/Y).
    fn confirm(&mut self) -> bool {
        if self.opts.yes {
            return true;
        }
        let prompt = b"Continue? [y/N]: ";
        if self.opts.json {
            eprint!("Continue? [y/N]: ");
        } else {
            let _ = self.out.write_all(prompt);
            let _ = self.out.flush();
        }
        self.text.extend_from_slice(prompt);
        let mut answer = Vec::new();
        let _ = self.answers.read_until(b'\n', &mut answer);
        matches!(answer.first(), Some(b'y' | b'Y'))
    }

    /// Run the check on `path`; returns the exit code.
    pub fn run(&mut self, path: &Path) -> Result<u8> {
        if let Err(e) = std::fs::metadata(path) {
            // redis-check-aof's first look at the file (is it a manifest?) fails like this.
            let msg = format!(
                "Cannot open file {}: {}",
                path.display(),
                aoffile::strerror(&e)
            );
            let _ = self.say(msg);
            return Ok(1);
        }
        let input = aoffile::resolve(path)?;
        let res = match input {
            Input::Manifest(m) => {
                self.kind = "multi-part";
                self.multi_part(&m)
            }
            Input::File(f) => self.old_style(&f),
        };
        let code = match res {
            Ok(()) => 0,
            Err(Exit(c)) => c,
        };
        if self.opts.json {
            let report = json!({
                "ok": code == 0,
                "exit_code": code,
                "kind": self.kind,
                "files": self.files.iter().map(FileReport::to_json).collect::<Vec<_>>(),
                "text": String::from_utf8_lossy(&self.text),
            });
            writeln!(self.out, "{report}").map_err(|e| Error::io(Path::new("stdout"), e))?;
        }
        let _ = self.out.flush();
        Ok(code)
    }

    fn old_style(&mut self, path: &Path) -> std::result::Result<(), Exit> {
        let name = path.to_string_lossy().into_owned();
        self.say("Start checking Old-Style AOF")?;
        let data = match aoffile::map(path) {
            Ok(d) => d,
            Err(e) => {
                let msg = format!(
                    "Cannot open file {name}: {}, aborting...",
                    aoffile::strerror(&e)
                );
                return Err(self.die(msg));
            }
        };
        let preamble = aoffile::is_rdb(&data);
        if preamble {
            self.kind = "preamble";
        }
        drop(data);
        let r = self.single(&name, &name, path, true, preamble, "aof")?;
        let t = self.opts.to_timestamp;
        match r {
            Single::Ok => self.say(format!("AOF {name} is valid")),
            Single::Empty => self.say(format!("AOF {name} is empty")),
            Single::TimestampTruncated => self.say(format!(
                "Successfully truncated AOF {name} to timestamp {t}"
            )),
            Single::Truncated => self.say(format!("Successfully truncated AOF {name}")),
        }
    }

    fn multi_part(&mut self, manifest_path: &Path) -> std::result::Result<(), Exit> {
        self.say("Start checking Multi Part AOF")?;
        let mp = match aoffile::load_manifest(manifest_path) {
            Ok(Ok(mp)) => mp,
            Ok(Err(e)) => {
                for l in e.redis_log_lines() {
                    self.say(l)?;
                }
                return Err(Exit(1));
            }
            Err(e) => return Err(self.die(format!("{e}"))),
        };
        let total = usize::from(mp.manifest.base.is_some()) + mp.manifest.incr.len();
        let mut n = 0;
        let t = self.opts.to_timestamp;
        if let Some(base) = &mp.manifest.base {
            let name = String::from_utf8_lossy(&base.name).into_owned();
            let fpath = mp.file_path(base);
            n += 1;
            let is_rdb = match aoffile::map(Path::new(&fpath)) {
                Ok(d) => aoffile::is_rdb(&d),
                Err(e) => {
                    let msg = format!("Cannot open file {fpath}: {}", aoffile::strerror(&e));
                    return Err(self.die(msg));
                }
            };
            self.say(format!(
                "Start to check BASE AOF ({} format).",
                if is_rdb { "RDB" } else { "RESP" }
            ))?;
            let r = self.single(&name, &fpath, Path::new(&fpath), n == total, is_rdb, "base")?;
            match r {
                Single::Ok => self.say(format!("BASE AOF {name} is valid"))?,
                Single::Empty => self.say(format!("BASE AOF {name} is empty"))?,
                Single::TimestampTruncated => self.say(format!(
                    "Successfully truncated AOF {name} to timestamp {t}"
                ))?,
                Single::Truncated => self.say(format!("Successfully truncated AOF {name}"))?,
            }
        }
        if !mp.manifest.incr.is_empty() {
            self.say("Start to check INCR files.")?;
            for info in &mp.manifest.incr {
                let name = String::from_utf8_lossy(&info.name).into_owned();
                let fpath = mp.file_path(info);
                n += 1;
                let r = self.single(&name, &fpath, Path::new(&fpath), n == total, false, "incr")?;
                match r {
                    Single::Ok => self.say(format!("INCR AOF {name} is valid"))?,
                    Single::Empty => self.say(format!("INCR AOF {name} is empty"))?,
                    Single::TimestampTruncated => self.say(format!(
                        "Successfully truncated AOF {name} to timestamp {t}"
                    ))?,
                    Single::Truncated => self.say(format!("Successfully truncated AOF {name}"))?,
                }
            }
        }
        self.say("All AOF files and manifest are valid")
    }

    /// redis's `checkSingleAof`.
    fn single(
        &mut self,
        name: &str,
        filepath: &str,
        path: &Path,
        last_file: bool,
        preamble: bool,
        role: &'static str,
    ) -> std::result::Result<Single, Exit> {
        let data = match aoffile::map(path) {
            Ok(d) => d,
            Err(e) => {
                let msg = format!(
                    "Cannot open file {filepath}: {}, aborting...",
                    aoffile::strerror(&e)
                );
                self.files.push(FileReport {
                    name: name.into(),
                    path: filepath.into(),
                    role,
                    status: "missing",
                    ..Default::default()
                });
                return Err(self.die(msg));
            }
        };
        let size = data.len() as u64;
        let mut rep = FileReport {
            name: name.into(),
            path: filepath.into(),
            role,
            format: if preamble { "rdb" } else { "resp" },
            size,
            ..Default::default()
        };
        if size == 0 {
            rep.status = "empty";
            rep.ok_up_to_line = self.line;
            rep.cut_line = 1;
            self.files.push(rep);
            return Ok(Single::Empty);
        }
        let mut start = 0u64;
        if preamble {
            let copts = check_rdb::CheckOpts {
                now_ms: self.opts.now_ms,
                dup_keys: false,
                progress: false,
            };
            let report = check_rdb::run(name, || RdbReader::open(path), &copts);
            let text = check_rdb::render_text(&report);
            // The bytes after the RDB are the AOF tail here, not a stray trailer.
            for l in text
                .lines()
                .filter(|l| !l.contains("bytes after the end of the RDB"))
            {
                self.say(l)?;
            }
            if !report.ok() {
                rep.status = "bad-preamble";
                rep.error = report.error.as_ref().map(|e| e.to_string());
                self.files.push(rep);
                return Err(self.die("RDB preamble of AOF file is not sane, aborting."));
            }
            self.say("RDB preamble is OK, proceeding with AOF tail...")?;
            start = size - report.trailing_bytes;
        }
        let tail = &data[start as usize..];
        let w = walk_with(
            tail,
            start,
            self.line,
            self.opts.to_timestamp,
            last_file,
            filepath,
            self.star_stale,
        );
        self.line = w.line;
        self.star_stale = w.star_stale;
        rep.ok_up_to = w.ok_up_to;
        rep.ok_up_to_line = w.line;
        rep.commands = w.commands;
        rep.annotations = w.annotations;
        rep.error = w
            .error
            .as_ref()
            .map(|e| String::from_utf8_lossy(e).into_owned());
        let t = self.opts.to_timestamp;
        match w.ts_stop {
            None => {}
            Some(TsStop::Invalid) => {
                rep.status = "not-valid";
                self.files.push(rep);
                return Err(self.die("Invalid timestamp annotation"));
            }
            Some(TsStop::NothingBefore) => {
                rep.status = "not-valid";
                self.files.push(rep);
                return Err(self.die(format!(
                    "AOF {filepath} has nothing before timestamp {t}, aborting..."
                )));
            }
            Some(TsStop::NotLastFile { at }) => {
                rep.status = "not-valid";
                self.files.push(rep);
                self.say(format!("Failed to truncate AOF {filepath} to timestamp {t} to offset {at} because it is not the last file."))?;
                return Err(self.die("If you insist, please delete all files after this file according to the manifest file and delete the corresponding records in manifest file manually. Then re-run redis-check-aof."));
            }
            Some(TsStop::Cut { at }) => {
                rep.ok_up_to = at;
                rep.diff = size - at;
                rep.cut_line = if self.opts.json {
                    true_line(&data, at)
                } else {
                    0
                };
                if self.opts.dry_run {
                    rep.status = "would-truncate";
                    self.files.push(rep);
                    return Err(self.die(format!(
                        "Dry run: AOF {name} would be truncated to timestamp {t} at offset {at} ({} bytes removed); nothing changed",
                        size - at
                    )));
                }
                self.say(format!(
                    "This will truncate the AOF {name} to timestamp {t}: from {size} bytes, with {} bytes, to {at} bytes",
                    size - at
                ))?;
                if !self.confirm() {
                    rep.status = "aborted";
                    self.files.push(rep);
                    return Err(self.die("Aborting..."));
                }
                return self.truncate(data, at, rep, true);
            }
        }
        if w.format_error {
            self.say(format!("AOF {name} format error"))?;
        }
        if let Some(e) = &w.error {
            self.say(e)?;
        }
        let pos = w.ok_up_to;
        let diff = size - pos;
        rep.diff = diff;
        rep.cut_line = if self.opts.json {
            true_line(&data, pos)
        } else {
            0
        };
        if diff == 0 && t != 0 {
            self.say(format!("Truncate nothing in AOF {name} to timestamp {t}"))?;
            rep.status = "valid";
            self.files.push(rep);
            return Ok(Single::Ok);
        }
        self.say(format!(
            "AOF analyzed: filename={name}, size={size}, ok_up_to={pos}, ok_up_to_line={}, diff={diff}",
            self.line
        ))?;
        if diff == 0 {
            rep.status = "valid";
            self.files.push(rep);
            return Ok(Single::Ok);
        }
        if !self.opts.fix {
            rep.status = "not-valid";
            self.files.push(rep);
            return Err(self.die(format!(
                "AOF {name} is not valid. Use the --fix option to try fixing it."
            )));
        }
        if !last_file {
            rep.status = "not-valid";
            self.files.push(rep);
            return Err(self.die(format!(
                "Failed to truncate AOF {name} because it is not the last file"
            )));
        }
        if pos == 0 && !self.opts.force {
            rep.status = "refused";
            self.files.push(rep);
            return Err(self.die(format!(
                "Refusing to truncate AOF {name} to 0 bytes: not one command at its start reads. If a text tool turned its CRLF line endings into LF, `redkit fix --line-endings {filepath}` restores it; --force truncates anyway."
            )));
        }
        if self.opts.dry_run {
            rep.status = "would-truncate";
            self.files.push(rep);
            return Err(self.die(format!(
                "Dry run: AOF {name} would shrink from {size} bytes, with {diff} bytes, to {pos} bytes; nothing changed"
            )));
        }
        self.say(format!(
            "This will shrink the AOF {name} from {size} bytes, with {diff} bytes, to {pos} bytes"
        ))?;
        if !self.confirm() {
            rep.status = "aborted";
            self.files.push(rep);
            return Err(self.die("Aborting..."));
        }
        self.truncate(data, pos, rep, false)
    }

    fn truncate(
        &mut self,
        data: aoffile::Mapped,
        at: u64,
        mut rep: FileReport,
        timestamp: bool,
    ) -> std::result::Result<Single, Exit> {
        let path = PathBuf::from(&rep.path);
        if self.opts.backup {
            match safefile::backup(&path) {
                Ok(b) => {
                    eprintln!("redkit: kept the original as {}", b.display());
                    rep.backup = Some(b.display().to_string());
                }
                Err(e) => {
                    self.files.push(rep);
                    return Err(self.die(format!("Failed to back up AOF before truncating: {e}")));
                }
            }
        }
        if let Err(e) = safefile::replace(&path, &data[..at as usize]) {
            let name = rep.name.clone();
            self.files.push(rep);
            return Err(self.die(if timestamp {
                format!(
                    "Failed to truncate AOF {name} to timestamp {}: {e}",
                    self.opts.to_timestamp
                )
            } else {
                format!("Failed to truncate AOF {name}: {e}")
            }));
        }
        rep.status = if timestamp {
            "timestamp-truncated"
        } else {
            "truncated"
        };
        self.files.push(rep);
        Ok(if timestamp {
            Single::TimestampTruncated
        } else {
            Single::Truncated
        })
    }
}

/// 1-based line number of the byte at `at` (counting every `\n` before it).
fn true_line(data: &[u8], at: u64) -> u64 {
    let end = (at as usize).min(data.len());
    1 + data[..end].iter().filter(|&&b| b == b'\n').count() as u64
}
