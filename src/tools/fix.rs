//! `redkit fix`: repair an AOF (plain, preamble or multi-part) or an RDB, keeping more than
//! `redis-check-aof --fix` does.
//!
//! For each file, in load order: an RDB part (an RDB file, a preamble, an RDB base) that does not
//! read cleanly is salvaged (every intact record kept, see [`super::rdb_salvage`]); the RESP part
//! is planned by [`super::aof_repair`] (`--mode truncate` cuts at the first damage, `--mode
//! salvage` skips damaged stretches); `--line-endings` first undoes a CRLF-to-LF conversion when
//! that makes the file read completely; `--drop-flushall` removes a FLUSHALL/FLUSHDB run at the
//! very end of the AOF. A file listed in a manifest but missing is taken out of the manifest.
//! Nothing is changed before the plan is shown and confirmed (`--yes`); each changed file is kept
//! as `<file>.bak.<unix-time>` (unless `--no-backup`) and replaced atomically.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use redkit_formats::manifest::{self, AofInfo};
use serde_json::json;

use super::aof_repair::{analyze, restore_crlf, Analysis, Mode};
use super::rdb_salvage::{salvage, Salvage};
use crate::aoffile::{self, Input};
use crate::error::{Error, Result};
use crate::safefile;

pub struct FixOpts {
    pub mode: Mode,
    pub line_endings: bool,
    pub drop_flushall: bool,
    pub yes: bool,
    pub backup: bool,
    pub dry_run: bool,
    pub json: bool,
}

/// What will happen to (or happened to) one file.
pub struct FilePlan {
    pub name: String,
    pub path: PathBuf,
    pub role: &'static str,
    pub size: u64,
    /// Missing from disk: it will be removed from the manifest.
    pub missing: bool,
    pub rdb: Option<Salvage>,
    /// Where the RESP part starts in the original file.
    pub resp_start: u64,
    /// The RESP part was rebuilt with CRLF line ends (the plan's ranges then index `restored`).
    pub restored: Option<Vec<u8>>,
    pub resp: Analysis,
    pub flush_dropped: Option<Vec<u8>>,
    /// The RDB's end could not be found, so the RESP tail (if any) is lost.
    pub tail_lost: bool,
    pub backup: Option<String>,
    pub changed: bool,
    pub new_size: u64,
}

impl FilePlan {
    fn to_json(&self) -> serde_json::Value {
        let rdb = self.rdb.as_ref().map(|s| {
            json!({
                "clean": s.clean, "kept_keys": s.kept_keys, "crc_was_wrong": s.crc_was_wrong,
                "rdb_end": s.rdb_end,
                "lost": s.lost.iter().map(|l| json!({
                    "offset": l.offset, "len": l.len, "db": l.db,
                    "key": l.key.as_ref().map(|k| String::from_utf8_lossy(k).into_owned()),
                    "reason": l.reason,
                })).collect::<Vec<_>>(),
            })
        });
        let r = &self.resp;
        json!({
            "name": self.name, "path": self.path.display().to_string(), "role": self.role,
            "missing": self.missing, "size": self.size, "new_size": self.new_size,
            "changed": self.changed, "backup": self.backup, "rdb": rdb,
            "tail_lost": self.tail_lost,
            "line_endings_restored": self.restored.is_some(),
            "commands_kept": r.commands_kept,
            "skipped": r.skipped.iter().map(|s| json!({
                "offset": s.offset, "len": s.len, "line": s.line, "reason": s.reason,
                "commands": s.commands,
            })).collect::<Vec<_>>(),
            "dropped_blocks": r.dropped_blocks.iter().map(|b| json!({
                "offset": b.offset, "line": b.line, "commands": b.commands, "reason": b.reason,
            })).collect::<Vec<_>>(),
            "truncated_tail": r.truncated_tail.as_ref().map(|s| json!({
                "offset": s.offset, "len": s.len, "line": s.line, "reason": s.reason,
            })),
            "flush_dropped": self.flush_dropped.as_ref().map(|n| String::from_utf8_lossy(n).into_owned()),
        })
    }

    /// The RESP bytes the plan reads from.
    fn resp_bytes<'a>(&'a self, data: &'a [u8]) -> &'a [u8] {
        match &self.restored {
            Some(r) => r,
            None => &data[self.resp_start as usize..],
        }
    }
}

/// Plan one file's repair.
fn plan_file(name: String, path: PathBuf, role: &'static str, opts: &FixOpts) -> Result<FilePlan> {
    let mut p = FilePlan {
        name,
        path,
        role,
        size: 0,
        missing: false,
        rdb: None,
        resp_start: 0,
        restored: None,
        resp: Analysis::default(),
        flush_dropped: None,
        tail_lost: false,
        backup: None,
        changed: false,
        new_size: 0,
    };
    let data = match aoffile::map(&p.path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && role != "aof" => {
            p.missing = true;
            p.changed = true;
            return Ok(p);
        }
        Err(e) => return Err(Error::io(&p.path, e)),
    };
    p.size = data.len() as u64;
    if aoffile::is_rdb(&data) {
        let s = salvage(&data)?;
        match s.rdb_end {
            Some(end) => p.resp_start = end,
            None => {
                p.resp_start = p.size;
                p.tail_lost = !s.clean;
            }
        }
        p.rdb = Some(s);
    }
    let resp = &data[p.resp_start as usize..];
    let first_line = 1 + data[..p.resp_start as usize]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u64;
    p.resp = analyze(resp, p.resp_start, first_line, opts.mode);
    let damaged = !p.resp.skipped.is_empty() || p.resp.truncated_tail.is_some();
    if opts.line_endings && damaged && !resp.is_empty() {
        if let Ok(restored) = restore_crlf(resp) {
            let a = analyze(&restored, p.resp_start, first_line, opts.mode);
            if a.skipped.is_empty() && a.truncated_tail.is_none() && a.dropped_blocks.is_empty() {
                p.resp = a;
                p.restored = Some(restored);
            }
        }
    }
    Ok(p)
}

pub struct Fixer<'a> {
    opts: &'a FixOpts,
    out: &'a mut dyn Write,
    answers: &'a mut dyn BufRead,
    pub files: Vec<FilePlan>,
    pub warnings: Vec<String>,
    manifest_backup: Option<String>,
    manifest_changed: bool,
}

impl<'a> Fixer<'a> {
    pub fn new(opts: &'a FixOpts, out: &'a mut dyn Write, answers: &'a mut dyn BufRead) -> Self {
        Fixer {
            opts,
            out,
            answers,
            files: Vec::new(),
            warnings: Vec::new(),
            manifest_backup: None,
            manifest_changed: false,
        }
    }

    fn say(&mut self, s: impl AsRef<str>) {
        if !self.opts.json {
            let _ = writeln!(self.out, "{}", s.as_ref());
        }
    }

    fn warn(&mut self, s: String) {
        if !self.opts.json {
            let _ = writeln!(self.out, "warning: {s}");
        }
        self.warnings.push(s);
    }

    /// Plan, confirm, apply. Returns the exit code.
    pub fn run(&mut self, path: &Path) -> Result<u8> {
        let input = aoffile::resolve(path)?;
        let mut mp = None;
        match input {
            Input::File(f) => {
                let name = f.display().to_string();
                self.files.push(plan_file(name, f, "aof", self.opts)?);
            }
            Input::Manifest(m) => {
                let parsed = aoffile::load_manifest(&m)?.map_err(|e| {
                    Error::Other(format!(
                        "{}: {e} (redkit fix does not repair manifests)",
                        m.display()
                    ))
                })?;
                let infos: Vec<(AofInfo, &'static str)> = parsed
                    .manifest
                    .base
                    .iter()
                    .map(|b| (b.clone(), "base"))
                    .chain(parsed.manifest.incr.iter().map(|i| (i.clone(), "incr")))
                    .collect();
                for (info, role) in infos {
                    let name = String::from_utf8_lossy(&info.name).into_owned();
                    let fpath = PathBuf::from(parsed.file_path(&info));
                    self.files.push(plan_file(name, fpath, role, self.opts)?);
                }
                mp = Some(parsed);
            }
        }
        self.decide();
        let code = self.report_and_apply(mp.as_ref())?;
        if self.opts.json {
            let report = json!({
                "ok": code == 0,
                "exit_code": code,
                "dry_run": self.opts.dry_run,
                "changed": self.files.iter().any(|f| f.changed) && !self.opts.dry_run && code == 0,
                "manifest_changed": self.manifest_changed,
                "manifest_backup": self.manifest_backup,
                "files": self.files.iter().map(FilePlan::to_json).collect::<Vec<_>>(),
                "warnings": self.warnings,
            });
            writeln!(self.out, "{report}").map_err(|e| Error::io(Path::new("stdout"), e))?;
        }
        let _ = self.out.flush();
        Ok(code)
    }

    /// Apply the cross-file rules: FLUSHALL at the very end; what changes.
    fn decide(&mut self) {
        if self.opts.drop_flushall {
            // The last file holding any command decides what "the end of the AOF" is.
            let last = self
                .files
                .iter()
                .rposition(|f| !f.missing && (f.resp.commands_kept > 0 || f.rdb.is_some()));
            match last {
                Some(i) if self.files[i].resp.trailing_flush.is_some() => {
                    let name = self.files[i].resp.trailing_flush.as_ref().map(|t| t.2.clone());
                    self.files[i].resp.drop_trailing_flush();
                    self.files[i].flush_dropped = name;
                }
                _ => self.warn(
                    "the AOF does not end with FLUSHALL or FLUSHDB: --drop-flushall has nothing to remove"
                        .into(),
                ),
            }
        }
        let n = self.files.len();
        for i in 0..n {
            let f = &mut self.files[i];
            if f.missing {
                continue;
            }
            let rdb_changed = f.rdb.as_ref().is_some_and(|s| !s.clean);
            let resp_len = (f.size - f.resp_start) as usize;
            let resp_changed = f.restored.is_some() || f.resp.changes(resp_len);
            f.changed = rdb_changed || resp_changed;
            let rdb_len = match &f.rdb {
                Some(s) if !s.clean => s.rdb.len() as u64,
                _ => f.resp_start,
            };
            f.new_size = rdb_len + f.resp.kept_len();
        }
        for i in 0..n {
            let later = self.files[i + 1..].iter().any(|f| !f.missing && f.size > 0);
            let f = &self.files[i];
            let lost = f.missing
                || f.rdb.as_ref().is_some_and(|s| !s.lost.is_empty())
                || !f.resp.skipped.is_empty()
                || f.resp.truncated_tail.is_some()
                || !f.resp.dropped_blocks.is_empty();
            if lost && later {
                let msg = format!(
                    "{} is not the last file: the files after it replay after the gap left by what was lost here",
                    f.name
                );
                self.warn(msg);
            }
        }
    }

    fn report_and_apply(&mut self, mp: Option<&aoffile::MultiPart>) -> Result<u8> {
        let mut lines = Vec::new();
        for f in &self.files {
            lines.extend(describe(f));
        }
        for l in lines {
            self.say(l);
        }
        let changed: Vec<usize> = (0..self.files.len())
            .filter(|&i| self.files[i].changed)
            .collect();
        if changed.is_empty() {
            self.say("Nothing to repair.");
            return Ok(0);
        }
        if self.opts.dry_run {
            self.say("Dry run: nothing changed.");
            return Ok(0);
        }
        if !self.opts.yes {
            let prompt = "Continue? [y/N]: ";
            if self.opts.json {
                eprint!("{prompt}");
            } else {
                let _ = write!(self.out, "{prompt}");
                let _ = self.out.flush();
            }
            let mut answer = Vec::new();
            let _ = self.answers.read_until(b'\n', &mut answer);
            if !matches!(answer.first(), Some(b'y' | b'Y')) {
                self.say("Aborting...");
                return Ok(1);
            }
        }
        for &i in &changed {
            if self.files[i].missing {
                continue;
            }
            self.apply(i)?;
        }
        if let Some(mp) = mp {
            if changed.iter().any(|&i| self.files[i].missing) {
                let missing: Vec<&[u8]> = changed
                    .iter()
                    .filter(|&&i| self.files[i].missing)
                    .map(|&i| self.files[i].name.as_bytes())
                    .collect();
                let mut m = mp.manifest.clone();
                if m.base
                    .as_ref()
                    .is_some_and(|b| missing.contains(&&b.name[..]))
                {
                    m.base = None;
                }
                m.incr.retain(|x| !missing.contains(&&x.name[..]));
                if self.opts.backup {
                    let b = safefile::backup(&mp.manifest_path)?;
                    self.manifest_backup = Some(b.display().to_string());
                }
                safefile::replace(&mp.manifest_path, &manifest::format(&m))?;
                self.manifest_changed = true;
                let msg = format!(
                    "Manifest {} rewritten without the missing file(s)",
                    mp.manifest_path.display()
                );
                self.say(msg);
            }
        }
        self.say("Repair done.");
        Ok(0)
    }

    fn apply(&mut self, i: usize) -> Result<()> {
        let path = self.files[i].path.clone();
        let data = aoffile::map(&path).map_err(|e| Error::io(&path, e))?;
        if self.opts.backup {
            let b = safefile::backup(&path)?;
            self.files[i].backup = Some(b.display().to_string());
        }
        let f = &self.files[i];
        safefile::replace_with(&path, |w| {
            match &f.rdb {
                Some(s) if !s.clean => w.write_all(&s.rdb)?,
                _ => w.write_all(&data[..f.resp_start as usize])?,
            }
            let resp = f.resp_bytes(&data);
            for r in &f.resp.keep {
                w.write_all(&resp[r.clone()])?;
            }
            Ok(())
        })?;
        let msg = format!(
            "Rewrote {} ({} -> {} bytes){}",
            f.path.display(),
            f.size,
            f.new_size,
            f.backup
                .as_ref()
                .map(|b| format!(", original kept as {b}"))
                .unwrap_or_default()
        );
        self.say(msg);
        Ok(())
    }
}

/// Lines describing one file's plan.
fn describe(f: &FilePlan) -> Vec<String> {
    let mut v = vec![format!(
        "{} {} ({} bytes)",
        f.role.to_uppercase(),
        f.name,
        f.size
    )];
    if f.missing {
        v.push("  missing: will be removed from the manifest".into());
        return v;
    }
    if let Some(s) = &f.rdb {
        if s.clean {
            v.push(format!("  RDB part: intact, {} keys", s.kept_keys));
        } else {
            v.push(format!(
                "  RDB part: {} keys kept, {} damaged range(s) lost{}",
                s.kept_keys,
                s.lost.len(),
                if s.crc_was_wrong {
                    ", checksum recomputed"
                } else {
                    ""
                }
            ));
            for l in &s.lost {
                v.push(format!(
                    "    lost [offset {}] {} bytes{}: {}",
                    l.offset,
                    l.len,
                    l.key
                        .as_ref()
                        .map(|k| format!(" (key '{}')", redkit_formats::escape_key(k)))
                        .unwrap_or_default(),
                    l.reason
                ));
            }
        }
        if f.tail_lost {
            v.push("  the RDB's end was not found: any AOF tail after it is lost".into());
        }
    }
    let r = &f.resp;
    if f.restored.is_some() {
        v.push("  line endings: LF restored to CRLF; the file now reads completely".into());
    }
    for s in &r.skipped {
        v.push(format!(
            "  skipped [offset {} line {}] {} bytes, about {} command(s): {}",
            s.offset, s.line, s.len, s.commands, s.reason
        ));
    }
    for b in &r.dropped_blocks {
        v.push(format!(
            "  dropped MULTI/EXEC block [offset {} line {}] of {} command(s): {}",
            b.offset, b.line, b.commands, b.reason
        ));
    }
    if let Some(t) = &r.truncated_tail {
        v.push(format!(
            "  truncated last command [offset {} line {}] {} bytes removed",
            t.offset, t.line, t.len
        ));
    }
    if let Some(n) = &f.flush_dropped {
        v.push(format!(
            "  removed the trailing {} so the data comes back",
            String::from_utf8_lossy(n)
        ));
    }
    v.push(format!(
        "  {} command(s) kept; {}",
        r.commands_kept,
        if f.changed {
            format!("will be rewritten: {} -> {} bytes", f.size, f.new_size)
        } else {
            "unchanged".into()
        }
    ));
    v
}
