//! `redkit stats` for an append-only file: commands by name and by db, MULTI/EXEC blocks,
//! annotations and the time range of their `#TS:` stamps, and a summary of an RDB preamble or
//! RDB base file.
//!
//! The input is any AOF form [`aoffile::resolve`] takes: one file (plain RESP, or an RDB
//! preamble followed by a RESP tail), a multi-part manifest, or the directory holding it. The
//! files are read in the order Redis loads them (base, then the incremental files; history files
//! are listed but not read).
//!
//! Counting rules:
//! - Every file starts in db 0: Redis loads each file of a multi-part AOF with a fresh client,
//!   and the RESP tail after an RDB preamble starts in db 0 as well.
//! - A command counts under the db that is selected when it is read. `SELECT` itself counts under
//!   the db it switches *from* (where it was issued), then moves the current db. A `SELECT` whose
//!   argument Redis would refuse (not a plain integer in `0..=2^31-1`) leaves the db unchanged
//!   and is counted as invalid.
//! - `MULTI` and `EXEC` count like any other command under the current db; a block is a `MULTI`
//!   closed by an `EXEC`, and the commands between them are counted as inside transactions.
//! - Counts are of what the file holds, not of what Redis applies: commands in a tail Redis would
//!   drop (an unfinished `MULTI`) are counted, and the warning says how many.
//!
//! The RESP is read with the strict reader [`redkit_formats::resp::next_record`] straight from the
//! memory map; the only allocation per command is the reader's small argument list. Names are
//! lowercased into a stack buffer for the lookup; a table entry is allocated once per distinct
//! name, and at most [`MAX_NAMES`] distinct names are kept (a damaged file full of random names
//! cannot grow the table without bound; the rest share one row).
//!
//! Keys touched are not counted: that needs the keyspace engine (`redkit stats --replay`).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use redkit_formats::resp::{next_record, Record};
use redkit_formats::{escape_key, ErrorKind};
use serde_json::json;

use crate::aoffile::{self, Input};
use crate::error::{Error, Result};
use crate::rdbfile::RdbReader;

/// Names up to this length are lowercased on the stack; longer ones share [`LONG_NAME`].
const NAME_BUF: usize = 64;
/// Distinct command names kept in the table; later new names share [`OTHER_NAMES`].
pub const MAX_NAMES: usize = 4096;
/// The row for command names longer than 64 bytes (no real command name is that long).
pub const LONG_NAME: &[u8] = b"<long name>";
/// The row for new names once [`MAX_NAMES`] are in the table.
pub const OTHER_NAMES: &[u8] = b"<other names>";

/// One row of the by-name table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameStats {
    /// The lowercased command name.
    pub name: Vec<u8>,
    pub commands: u64,
    /// Bytes of these commands' records in the file.
    pub bytes: u64,
    /// Sum of their argument counts (the `*<argc>` of each record, the name included).
    pub argc: u64,
}

/// Commands read while a db was selected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DbStats {
    pub commands: u64,
    pub bytes: u64,
}

/// What the RDB part of a file (a preamble, or a whole RDB base file) holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RdbSummary {
    /// `REDIS0010` style.
    pub version: String,
    /// Bytes of the RDB part, checksum included.
    pub bytes: u64,
    /// db -> (keys, keys with an expiry).
    pub dbs: BTreeMap<u64, (u64, u64)>,
    pub keys: u64,
    pub expires: u64,
}

/// One file of the AOF.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileStats {
    pub path: String,
    /// `aof` (a single-file AOF), `base` or `incr`.
    pub role: &'static str,
    pub size: u64,
    /// `rdb`, `resp`, `rdb+resp`, `empty`, or `unreadable`.
    pub format: &'static str,
    pub rdb: Option<RdbSummary>,
    /// Offset where the RESP part starts (after the RDB part, if any).
    pub resp_offset: u64,
    /// Bytes of the complete RESP records read (commands and annotations).
    pub resp_bytes: u64,
    pub commands: u64,
    pub annotations: u64,
    /// Bytes at the end that Redis drops when it loads the file as the last one (an incomplete
    /// record or an unfinished MULTI).
    pub truncated_tail: Option<u64>,
    /// The file cannot be loaded as it is; the warning says why.
    pub damaged: bool,
}

/// Everything `stats` reports on an AOF.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AofStats {
    /// The path as given.
    pub input: String,
    /// The manifest, for a multi-part AOF.
    pub manifest: Option<String>,
    /// History files named by the manifest (not loaded by Redis, not read here).
    pub history: Vec<String>,
    pub files: Vec<FileStats>,
    pub commands: u64,
    pub resp_bytes: u64,
    /// Sorted by count, descending, then by name.
    pub by_name: Vec<NameStats>,
    pub by_db: BTreeMap<u64, DbStats>,
    /// SELECTs whose argument Redis refuses (the db stays as it was).
    pub invalid_selects: u64,
    /// MULTI ... EXEC blocks.
    pub multi_blocks: u64,
    /// Commands between a MULTI and its EXEC.
    pub commands_in_multi: u64,
    pub annotations: u64,
    /// `#TS:<seconds>` annotations.
    pub ts_annotations: u64,
    /// `#TS:` annotations whose number does not parse.
    pub invalid_ts: u64,
    /// Annotations that are not `#TS:`.
    pub other_annotations: u64,
    /// First and last `#TS:` in load order, in unix seconds.
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    /// `#TS:` stamps earlier than the one before them.
    pub ts_backwards: u64,
    /// Bytes Redis would drop at the end of the last file.
    pub truncated_tail: Option<u64>,
    /// Some file cannot be loaded as it is.
    pub damaged: bool,
    pub warnings: Vec<String>,
    /// Rows of the by-name table shown in text.
    pub top: usize,
}

/// Gather the statistics of the AOF at `path` (a file, a manifest or an AOF directory). `top`
/// limits the by-name table in [`AofStats::render_text`]; JSON has every row.
pub fn run(path: &Path, top: usize) -> Result<AofStats> {
    let mut st = AofStats {
        input: path.display().to_string(),
        top,
        ..AofStats::default()
    };
    let files: Vec<(String, &'static str)> = match aoffile::resolve(path)? {
        Input::File(p) => vec![(p.display().to_string(), "aof")],
        Input::Manifest(m) => {
            let mp = aoffile::load_manifest(&m)?
                .map_err(|e| Error::Other(format!("{}: {e}", m.display())))?;
            st.manifest = Some(m.display().to_string());
            st.history = mp
                .manifest
                .history
                .iter()
                .map(|h| mp.file_path(h))
                .collect();
            let mut v: Vec<(String, &'static str)> = Vec::new();
            if let Some(b) = &mp.manifest.base {
                v.push((mp.file_path(b), "base"));
            }
            v.extend(mp.manifest.incr.iter().map(|i| (mp.file_path(i), "incr")));
            v
        }
    };
    let mut acc = Acc::default();
    let n = files.len();
    for (i, (p, role)) in files.into_iter().enumerate() {
        let last = i + 1 == n;
        let fs = acc.file(&p, role, last, &mut st.warnings);
        st.damaged |= fs.damaged;
        if last {
            st.truncated_tail = fs.truncated_tail;
        }
        st.commands += fs.commands;
        st.resp_bytes += fs.resp_bytes;
        st.files.push(fs);
    }
    acc.finish(&mut st);
    Ok(st)
}

/// Per-name running totals.
#[derive(Default, Clone, Copy)]
struct Tally {
    commands: u64,
    bytes: u64,
    argc: u64,
}

/// Counters that run across files.
#[derive(Default)]
struct Acc {
    names: HashMap<Box<[u8]>, Tally>,
    dbs: BTreeMap<u64, DbStats>,
    invalid_selects: u64,
    multi_blocks: u64,
    commands_in_multi: u64,
    annotations: u64,
    ts: u64,
    invalid_ts: u64,
    other_annotations: u64,
    first_ts: Option<i64>,
    last_ts: Option<i64>,
    ts_backwards: u64,
}

/// How the RESP part of one file ended.
enum End {
    /// Every byte read.
    Clean,
    /// The last record is cut short: it starts at this offset.
    Incomplete(usize),
    /// A malformed record.
    Corrupt(redkit_formats::Error),
}

impl Acc {
    /// Read one file; problems become warnings.
    fn file(
        &mut self,
        path: &str,
        role: &'static str,
        last: bool,
        warnings: &mut Vec<String>,
    ) -> FileStats {
        let mut fs = FileStats {
            path: path.to_string(),
            role,
            format: "resp",
            ..FileStats::default()
        };
        let data = match aoffile::map(Path::new(path)) {
            Ok(d) => d,
            Err(e) => {
                fs.format = "unreadable";
                fs.damaged = true;
                warnings.push(format!(
                    "{path}: cannot open: {}; Redis refuses to load this AOF",
                    aoffile::strerror(&e)
                ));
                return fs;
            }
        };
        fs.size = data.len() as u64;
        if data.is_empty() {
            fs.format = "empty";
            return fs;
        }
        let mut start = 0usize;
        if aoffile::is_rdb(&data) {
            fs.format = "rdb";
            match rdb_part(Path::new(path)) {
                Ok(r) => {
                    start = usize::try_from(r.bytes)
                        .unwrap_or(usize::MAX)
                        .min(data.len());
                    fs.rdb = Some(r);
                }
                Err(e) => {
                    fs.damaged = true;
                    warnings.push(format!(
                        "{path}: the RDB part is damaged: {e}; its RESP part (if any) was not \
                         read; the file is damaged: see `redkit check-aof` / `redkit fix`"
                    ));
                    return fs;
                }
            }
            if start < data.len() {
                fs.format = "rdb+resp";
            }
        }
        fs.resp_offset = start as u64;
        let (end, open_multi) = self.resp(&data, start, &mut fs);
        let preamble = start > 0;
        let line_of = |off: usize| {
            // Real line number, counted from the start of the RESP part.
            1 + data[start..off.min(data.len())]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
        };
        let where_ = |off: usize| {
            if preamble {
                format!(
                    "[offset {off}] (line {} of the RESP part after the RDB preamble)",
                    line_of(off)
                )
            } else {
                format!("[offset {off}] (line {})", line_of(off))
            }
        };
        match end {
            End::Clean => {
                if let Some((at, inside)) = open_multi {
                    let what = format!(
                        "{path}: MULTI at {} is never closed by EXEC ({inside} command(s) after \
                         it, counted here, are not applied by Redis)",
                        where_(at)
                    );
                    self.tail_warning(&mut fs, what, at, last, warnings);
                }
            }
            End::Incomplete(at) => {
                let at = open_multi.map_or(at, |(m, _)| m);
                let what = format!("{path}: the last record, at {}, is incomplete", where_(at));
                self.tail_warning(&mut fs, what, at, last, warnings);
            }
            End::Corrupt(e) => {
                fs.damaged = true;
                let off = usize::try_from(e.offset).unwrap_or(usize::MAX);
                let msg = match &e.kind {
                    ErrorKind::Corrupt(m) => m.clone(),
                    k => k.to_string(),
                };
                warnings.push(format!(
                    "{path}: {} corrupt RESP: {msg} (while reading {}); stats of this file \
                     stop there; the file is damaged: see `redkit check-aof` / `redkit fix`",
                    where_(off),
                    e.doing
                ));
            }
        }
        fs
    }

    /// Report bytes Redis drops at the end of a file: fine for the last file (with the default
    /// `aof-load-truncated yes`), fatal for any other.
    fn tail_warning(
        &self,
        fs: &mut FileStats,
        what: String,
        at: usize,
        last: bool,
        warnings: &mut Vec<String>,
    ) {
        let n = fs.size.saturating_sub(at as u64);
        if last {
            fs.truncated_tail = Some(n);
            warnings.push(format!(
                "{what}: truncated tail ({n} bytes); Redis drops it when aof-load-truncated is \
                 yes (the default); `redkit check-aof --fix` cuts it"
            ));
        } else {
            fs.damaged = true;
            warnings.push(format!(
                "{what}: truncated tail ({n} bytes) in a file that is not the last one: Redis \
                 refuses to load this AOF; the file is damaged: see `redkit check-aof` / \
                 `redkit fix`"
            ));
        }
    }

    /// Walk the RESP records from `start` to the end of `data`. Returns how it ended and, when
    /// a MULTI is still open at the end, its offset and the commands read after it.
    fn resp(
        &mut self,
        data: &[u8],
        start: usize,
        fs: &mut FileStats,
    ) -> (End, Option<(usize, u64)>) {
        let mut pos = start;
        let mut line = 1u64;
        // Each file starts in db 0 (a fresh loading client).
        let mut db = 0u64;
        let mut cur = DbStats::default();
        let mut multi: Option<(usize, u64)> = None;
        let mut buf = [0u8; NAME_BUF];
        let end = loop {
            if pos >= data.len() {
                break End::Clean;
            }
            let rec = match next_record(data, pos, 0, line) {
                Ok(r) => r,
                Err(e) if e.is_incomplete() => break End::Incomplete(pos),
                Err(e) => break End::Corrupt(e),
            };
            match rec {
                Record::Command(c) => {
                    let bytes = (c.end - pos) as u64;
                    let name = c.args.first().copied().unwrap_or_default();
                    let lower: &[u8] = if name.len() <= NAME_BUF {
                        let b = &mut buf[..name.len()];
                        for (d, s) in b.iter_mut().zip(name) {
                            *d = s.to_ascii_lowercase();
                        }
                        b
                    } else {
                        LONG_NAME
                    };
                    self.count_name(lower, bytes, c.args.len() as u64);
                    fs.commands += 1;
                    cur.commands += 1;
                    cur.bytes += bytes;
                    // A MULTI is not inside its own block; its EXEC closes it first.
                    let mut opened = false;
                    match lower {
                        b"select" => {
                            let to = c.args.get(1).filter(|_| c.args.len() == 2);
                            match to.and_then(|a| parse_db(a)) {
                                Some(to) if to != db => {
                                    flush(&mut self.dbs, db, &mut cur);
                                    db = to;
                                }
                                Some(_) => {}
                                None => self.invalid_selects += 1,
                            }
                        }
                        b"multi" if multi.is_none() => {
                            multi = Some((pos, 0));
                            opened = true;
                        }
                        b"exec" => {
                            if let Some((_, inside)) = multi.take() {
                                self.multi_blocks += 1;
                                self.commands_in_multi += inside;
                            }
                        }
                        _ => {}
                    }
                    if let (Some((_, inside)), false) = (&mut multi, opened) {
                        *inside += 1;
                    }
                    line = c.next_line();
                    pos = c.end;
                }
                Record::Annotation { end, .. } => {
                    self.annotations += 1;
                    fs.annotations += 1;
                    match rec.timestamp() {
                        Some(t) => {
                            self.ts += 1;
                            if self.last_ts.is_some_and(|l| t < l) {
                                self.ts_backwards += 1;
                            }
                            self.first_ts.get_or_insert(t);
                            self.last_ts = Some(t);
                        }
                        None => {
                            if let Record::Annotation { text, .. } = &rec {
                                if text.starts_with(b"TS:") {
                                    self.invalid_ts += 1;
                                } else {
                                    self.other_annotations += 1;
                                }
                            }
                        }
                    }
                    pos = end;
                }
            }
            fs.resp_bytes = (pos - start) as u64;
        };
        flush(&mut self.dbs, db, &mut cur);
        (end, multi)
    }

    fn count_name(&mut self, lower: &[u8], bytes: u64, argc: u64) {
        let t = match self.names.get_mut(lower) {
            Some(t) => t,
            None => {
                let key = if self.names.len() < MAX_NAMES || lower == LONG_NAME {
                    lower
                } else {
                    OTHER_NAMES
                };
                self.names.entry(key.into()).or_default()
            }
        };
        t.commands += 1;
        t.bytes += bytes;
        t.argc += argc;
    }

    fn finish(self, st: &mut AofStats) {
        let mut rows: Vec<NameStats> = self
            .names
            .into_iter()
            .map(|(name, t)| NameStats {
                name: name.into_vec(),
                commands: t.commands,
                bytes: t.bytes,
                argc: t.argc,
            })
            .collect();
        rows.sort_by(|a, b| {
            b.commands
                .cmp(&a.commands)
                .then_with(|| a.name.cmp(&b.name))
        });
        st.by_name = rows;
        st.by_db = self.dbs;
        st.invalid_selects = self.invalid_selects;
        st.multi_blocks = self.multi_blocks;
        st.commands_in_multi = self.commands_in_multi;
        st.annotations = self.annotations;
        st.ts_annotations = self.ts;
        st.invalid_ts = self.invalid_ts;
        st.other_annotations = self.other_annotations;
        st.first_ts = self.first_ts;
        st.last_ts = self.last_ts;
        st.ts_backwards = self.ts_backwards;
    }
}

/// Add the current db's counts to the table (commands read since the db was selected).
fn flush(dbs: &mut BTreeMap<u64, DbStats>, db: u64, cur: &mut DbStats) {
    if cur.commands > 0 {
        let e = dbs.entry(db).or_default();
        e.commands += cur.commands;
        e.bytes += cur.bytes;
    }
    *cur = DbStats::default();
}

/// The db a SELECT argument names, as Redis reads it: a plain decimal integer (no sign, no
/// leading zeros, no spaces) that fits a C `int`. Negative numbers are refused by SELECT anyway.
/// The configured number of dbs is unknown here, so any such number is taken.
fn parse_db(arg: &[u8]) -> Option<u64> {
    if arg.is_empty() || arg.len() > 10 || !arg.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if arg.len() > 1 && arg[0] == b'0' {
        return None;
    }
    let v = std::str::from_utf8(arg).ok()?.parse::<u64>().ok()?;
    (v <= i32::MAX as u64).then_some(v)
}

/// Summarise the RDB part of a file with the RDB stats machinery. `bytes` is where the RDB part
/// ends (the reader does not read past the checksum of a regular file).
fn rdb_part(path: &Path) -> Result<RdbSummary> {
    let mut reader = RdbReader::open(path)?;
    let st = super::stats::run(&mut reader, 0, false)?;
    let end = match (reader.trailer(), reader.total_len) {
        (Some(t), Some(total)) => total.saturating_sub(t.trailing_bytes),
        _ => st.file_bytes,
    };
    let mut r = RdbSummary {
        version: st.version.clone(),
        bytes: end,
        ..RdbSummary::default()
    };
    for (db, m) in &st.dbs {
        let (k, e) = m
            .values()
            .fold((0, 0), |(k, e), c| (k + c.keys, e + c.expires));
        r.dbs.insert(*db, (k, e));
        r.keys += k;
        r.expires += e;
    }
    Ok(r)
}

/// `YYYY-MM-DDTHH:MM:SSZ` for unix seconds (proleptic Gregorian calendar, UTC).
pub fn iso8601_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Year, month (1..=12) and day (1..=31) of the day `days` after 1970-01-01.
///
/// The calendar repeats every 400 years (146097 days). Counting from 0000-03-01 puts the leap
/// day at the end of each year, so within an era the year and the day of the year follow from
/// plain division, and the month from a linear formula over the March-based year (153 days per
/// five months).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Days from 0000-03-01 to 1970-01-01.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146096
                                     // Year of era: take out the leap days of the 4-, 100- and 400-year cycles.
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the March-based year, 0..=365
    let mp = (5 * doy + 2) / 153; // month counted from March, 0..=11
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn ts_json(t: Option<i64>) -> serde_json::Value {
    match t {
        Some(t) => json!({"unix": t, "utc": iso8601_utc(t)}),
        None => serde_json::Value::Null,
    }
}

impl AofStats {
    /// Total size of the files read.
    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    pub fn to_json(&self) -> serde_json::Value {
        let files: Vec<_> = self
            .files
            .iter()
            .map(|f| {
                let rdb = f.rdb.as_ref().map(|r| {
                    let dbs: serde_json::Map<String, serde_json::Value> = r
                        .dbs
                        .iter()
                        .map(|(db, (k, e))| (db.to_string(), json!({"keys": k, "expires": e})))
                        .collect();
                    json!({"version": r.version, "bytes": r.bytes, "keys": r.keys,
                           "expires": r.expires, "dbs": dbs})
                });
                json!({"path": f.path, "role": f.role, "size": f.size, "format": f.format,
                       "rdb": rdb, "resp_offset": f.resp_offset, "resp_bytes": f.resp_bytes,
                       "commands": f.commands, "annotations": f.annotations,
                       "truncated_tail": f.truncated_tail, "damaged": f.damaged})
            })
            .collect();
        let by_db: serde_json::Map<String, serde_json::Value> = self
            .by_db
            .iter()
            .map(|(db, d)| {
                (
                    db.to_string(),
                    json!({"commands": d.commands, "bytes": d.bytes}),
                )
            })
            .collect();
        json!({
            "input": self.input,
            "manifest": self.manifest,
            "history": self.history,
            "size": self.total_size(),
            "files": files,
            "commands": self.commands,
            "resp_bytes": self.resp_bytes,
            "by_name": self.by_name.iter().map(|n| json!({
                "name": String::from_utf8_lossy(&n.name), "commands": n.commands,
                "bytes": n.bytes, "argc": n.argc})).collect::<Vec<_>>(),
            "by_db": by_db,
            "invalid_selects": self.invalid_selects,
            "transactions": {"multi_exec_blocks": self.multi_blocks,
                             "commands_inside": self.commands_in_multi},
            "annotations": {"total": self.annotations, "ts": self.ts_annotations,
                            "invalid_ts": self.invalid_ts, "other": self.other_annotations,
                            "first_ts": ts_json(self.first_ts), "last_ts": ts_json(self.last_ts),
                            "ts_backwards": self.ts_backwards},
            "keys_touched": serde_json::Value::Null,
            "keys_touched_note": "needs the keyspace: `redkit stats --replay`",
            "truncated_tail": self.truncated_tail,
            "damaged": self.damaged,
            "warnings": self.warnings,
        })
    }

    pub fn render_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "AOF {}  {} file(s)  {} bytes  {} commands  {} annotations",
            self.input,
            self.files.len(),
            self.total_size(),
            self.commands,
            self.annotations
        );
        if let Some(m) = &self.manifest {
            let _ = writeln!(s, "manifest {m}");
        }
        for h in &self.history {
            let _ = writeln!(s, "history file (not loaded) {h}");
        }
        if !self.files.is_empty() {
            let _ = writeln!(
                s,
                "\nfiles\n  {:<5} {:<10} {:>14} {:>14} {:>12} {:>12}  path",
                "role", "format", "size", "resp bytes", "commands", "annotations"
            );
            for f in &self.files {
                let _ = writeln!(
                    s,
                    "  {:<5} {:<10} {:>14} {:>14} {:>12} {:>12}  {}{}",
                    f.role,
                    f.format,
                    f.size,
                    f.resp_bytes,
                    f.commands,
                    f.annotations,
                    f.path,
                    if f.damaged { "  (damaged)" } else { "" }
                );
            }
        }
        for f in &self.files {
            let Some(r) = &f.rdb else { continue };
            let what = if f.format == "rdb+resp" {
                "RDB preamble"
            } else {
                "RDB"
            };
            let _ = writeln!(
                s,
                "\n{what} of {}: {}  {} bytes  {} keys  {} with expiry",
                f.path, r.version, r.bytes, r.keys, r.expires
            );
            for (db, (k, e)) in &r.dbs {
                let _ = writeln!(s, "  db {db:<4} {k:>12} keys {e:>12} with expiry");
            }
        }
        if !self.by_name.is_empty() {
            let shown = self.by_name.len().min(self.top);
            let _ = writeln!(
                s,
                "\ncommands by name ({shown} of {})\n  {:<24} {:>12} {:>14} {:>14}",
                self.by_name.len(),
                "name",
                "commands",
                "bytes",
                "argc"
            );
            for n in &self.by_name[..shown] {
                let _ = writeln!(
                    s,
                    "  {:<24} {:>12} {:>14} {:>14}",
                    escape_key(&n.name),
                    n.commands,
                    n.bytes,
                    n.argc
                );
            }
            if shown < self.by_name.len() {
                let _ = writeln!(
                    s,
                    "  ... {} more (all in --json)",
                    self.by_name.len() - shown
                );
            }
        }
        if !self.by_db.is_empty() {
            let _ = writeln!(
                s,
                "\ncommands by db (SELECT counts under the db it switches from)\n  {:<6} {:>12} {:>14}",
                "db", "commands", "bytes"
            );
            for (db, d) in &self.by_db {
                let _ = writeln!(s, "  {:<6} {:>12} {:>14}", db, d.commands, d.bytes);
            }
        }
        if self.invalid_selects > 0 {
            let _ = writeln!(
                s,
                "invalid SELECTs (db unchanged): {}",
                self.invalid_selects
            );
        }
        let _ = writeln!(
            s,
            "\ntransactions: {} MULTI/EXEC block(s), {} command(s) inside",
            self.multi_blocks, self.commands_in_multi
        );
        let _ = write!(
            s,
            "annotations: {} ({} #TS, {} other",
            self.annotations, self.ts_annotations, self.other_annotations
        );
        if self.invalid_ts > 0 {
            let _ = write!(s, ", {} #TS with a bad number", self.invalid_ts);
        }
        s.push_str(")\n");
        if let (Some(a), Some(b)) = (self.first_ts, self.last_ts) {
            let _ = writeln!(s, "  first #TS {a:>12}  {}", iso8601_utc(a));
            let _ = writeln!(s, "  last  #TS {b:>12}  {}", iso8601_utc(b));
            if self.ts_backwards > 0 {
                let _ = writeln!(
                    s,
                    "  {} #TS stamp(s) earlier than the one before",
                    self.ts_backwards
                );
            }
        }
        s.push_str("keys touched: not counted (needs the keyspace: `redkit stats --replay`)\n");
        if !self.warnings.is_empty() {
            s.push('\n');
            for w in &self.warnings {
                let _ = writeln!(s, "warning: {w}");
            }
        }
        if self.damaged {
            s.push_str(
                "\nthe AOF is damaged: the counts above stop at the damage; run `redkit check-aof` \
                 (and `redkit fix`)\n",
            );
        } else if let Some(n) = self.truncated_tail {
            let _ = writeln!(
                s,
                "\ntruncated tail ({n} bytes) at the end of the last file"
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(args: &[&[u8]]) -> Vec<u8> {
        let mut v = Vec::new();
        redkit_formats::resp::encode_command(args, &mut v);
        v
    }

    use crate::testutil::Tmp;

    fn name<'a>(st: &'a AofStats, n: &str) -> &'a NameStats {
        st.by_name
            .iter()
            .find(|r| r.name == n.as_bytes())
            .unwrap_or_else(|| panic!("no row {n}: {:?}", st.by_name))
    }

    #[test]
    fn dates() {
        assert_eq!(iso8601_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601_utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(iso8601_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601_utc(-1), "1969-12-31T23:59:59Z");
        assert_eq!(iso8601_utc(4_107_542_399), "2100-02-28T23:59:59Z");
        assert_eq!(iso8601_utc(4_107_542_400), "2100-03-01T00:00:00Z");
        assert_eq!(iso8601_utc(253_402_300_799), "9999-12-31T23:59:59Z");
        // Walk day by day across several centuries against a naive calendar.
        let (mut y, mut m, mut d) = (1900i64, 1u32, 1u32);
        let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let mdays = |y: i64, m: u32| match m {
            2 if leap(y) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        for days in -25_567..150_000i64 {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            d += 1;
            if d > mdays(y, m) {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
        // Extremes do not overflow or panic.
        let _ = iso8601_utc(i64::MAX / 2);
        let _ = iso8601_utc(i64::MIN / 2);
    }

    #[test]
    fn select_argument() {
        assert_eq!(parse_db(b"0"), Some(0));
        assert_eq!(parse_db(b"15"), Some(15));
        assert_eq!(parse_db(b"2147483647"), Some(2_147_483_647));
        for bad in [
            &b""[..],
            b"01",
            b"-1",
            b"+1",
            b" 1",
            b"1x",
            b"2147483648",
            b"99999999999",
        ] {
            assert_eq!(parse_db(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn plain_file_counts() {
        let t = Tmp::new("plain");
        let mut d = b"#TS:1700000000\r\n".to_vec();
        redkit_formats::resp::encode_command(&[b"SELECT", b"0"], &mut d);
        redkit_formats::resp::encode_command(&[b"SET", b"a", b"1"], &mut d);
        redkit_formats::resp::encode_command(&[b"set", b"b", b"2"], &mut d);
        d.extend_from_slice(b"#TS:1700000005\r\n#note\n");
        redkit_formats::resp::encode_command(&[b"MULTI"], &mut d);
        redkit_formats::resp::encode_command(&[b"Set", b"c", b"3"], &mut d);
        redkit_formats::resp::encode_command(&[b"RPUSH", b"l", b"x", b"y"], &mut d);
        redkit_formats::resp::encode_command(&[b"EXEC"], &mut d);
        redkit_formats::resp::encode_command(&[b"SELECT", b"3"], &mut d);
        redkit_formats::resp::encode_command(&[b"DEL", b"a"], &mut d);
        redkit_formats::resp::encode_command(&[b"SELECT", b"x"], &mut d); // refused: stays in db 3
        redkit_formats::resp::encode_command(&[b"SELECT", b"0"], &mut d);
        d.extend_from_slice(b"#TS:1699999999\r\n#TS:12x\r\n");
        redkit_formats::resp::encode_command(&[b"DEL", b"b"], &mut d);
        let p = t.file("a.aof", &d);
        let st = run(&p, 10).unwrap();
        assert!(st.warnings.is_empty(), "{:?}", st.warnings);
        assert!(!st.damaged);
        assert_eq!(st.commands, 12);
        assert_eq!(st.files.len(), 1);
        let f = &st.files[0];
        assert_eq!((f.role, f.format, f.size), ("aof", "resp", d.len() as u64));
        assert_eq!((f.resp_bytes, f.resp_offset), (d.len() as u64, 0));
        assert_eq!((f.commands, f.annotations), (12, 5));
        let set = name(&st, "set");
        assert_eq!(set.commands, 3);
        assert_eq!(set.bytes, (cmd(&[b"SET", b"a", b"1"]).len() * 3) as u64);
        assert_eq!(set.argc, 9);
        assert_eq!(name(&st, "select").commands, 4);
        assert_eq!(name(&st, "rpush").argc, 4);
        // Sorted by count, then name.
        let order: Vec<_> = st.by_name.iter().map(|r| r.name.as_slice()).collect();
        assert_eq!(
            order,
            [&b"select"[..], b"set", b"del", b"exec", b"multi", b"rpush"]
        );
        // db 0: SELECT 0, 2 SET, MULTI, SET, RPUSH, EXEC, SELECT 3, then SELECT 0 (after the
        // refused one), DEL b; db 3: DEL a, SELECT x, SELECT 0.
        assert_eq!(st.by_db.len(), 2);
        assert_eq!(st.by_db[&0].commands, 9);
        assert_eq!(st.by_db[&3].commands, 3);
        assert_eq!(
            st.by_db[&0].bytes + st.by_db[&3].bytes,
            st.by_name.iter().map(|r| r.bytes).sum::<u64>()
        );
        assert_eq!(st.invalid_selects, 1);
        assert_eq!((st.multi_blocks, st.commands_in_multi), (1, 2));
        assert_eq!(
            (
                st.annotations,
                st.ts_annotations,
                st.invalid_ts,
                st.other_annotations
            ),
            (5, 3, 1, 1)
        );
        assert_eq!(
            (st.first_ts, st.last_ts),
            (Some(1_700_000_000), Some(1_699_999_999))
        );
        assert_eq!(st.ts_backwards, 1);
        let text = st.render_text();
        assert!(text.contains("2023-11-14T22:13:20Z"), "{text}");
        assert!(text.contains("stats --replay"), "{text}");
        let j = st.to_json();
        assert_eq!(j["by_name"].as_array().unwrap().len(), 6);
        assert_eq!(j["by_db"]["3"]["commands"], 3);
        assert_eq!(j["annotations"]["first_ts"]["utc"], "2023-11-14T22:13:20Z");
        // `top` limits the text table only.
        let st2 = run(&p, 2).unwrap();
        let text = st2.render_text();
        assert!(text.contains("commands by name (2 of 6)"), "{text}");
        assert!(text.contains("4 more"), "{text}");
        assert_eq!(st2.to_json()["by_name"].as_array().unwrap().len(), 6);
    }

    #[test]
    fn truncated_and_corrupt() {
        let t = Tmp::new("bad");
        let mut d = Vec::new();
        redkit_formats::resp::encode_command(&[b"SELECT", b"0"], &mut d);
        redkit_formats::resp::encode_command(&[b"SET", b"a", b"1"], &mut d);
        let good = d.len();
        redkit_formats::resp::encode_command(&[b"SET", b"b", b"2"], &mut d);
        // Truncated last record.
        let p = t.file("t.aof", &d[..d.len() - 3]);
        let st = run(&p, 10).unwrap();
        assert!(!st.damaged);
        let tail = (d.len() - 3 - good) as u64;
        assert_eq!(st.truncated_tail, Some(tail));
        assert_eq!(st.commands, 2);
        assert_eq!(st.files[0].resp_bytes, good as u64);
        assert_eq!(st.warnings.len(), 1);
        assert!(
            st.warnings[0].contains(&format!("truncated tail ({tail} bytes)")),
            "{:?}",
            st.warnings
        );
        assert!(st.render_text().contains("truncated tail"));

        // A corrupt record in the middle: counts stop there, the warning names offset and line.
        let mut c = d[..good].to_vec();
        c.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$1\nk\r\n");
        redkit_formats::resp::encode_command(&[b"SET", b"z", b"1"], &mut c);
        let p = t.file("c.aof", &c);
        let st = run(&p, 10).unwrap();
        assert!(st.damaged);
        assert_eq!(st.commands, 2);
        assert_eq!(st.truncated_tail, None);
        let w = &st.warnings[0];
        // The bad byte is the LF after `$1`: 8 lines in, offset good + 15.
        assert!(
            w.contains(&format!("[offset {}] (line 16)", good + 15)) && w.contains("c.aof"),
            "{w}"
        );
        assert!(w.contains("redkit check-aof"), "{w}");
        assert!(st.render_text().contains("damaged"));

        // An unfinished MULTI at the end of the last file is a truncated tail from the MULTI.
        let mut m = d.clone();
        let at = m.len();
        redkit_formats::resp::encode_command(&[b"MULTI"], &mut m);
        redkit_formats::resp::encode_command(&[b"SET", b"q", b"1"], &mut m);
        let p = t.file("m.aof", &m);
        let st = run(&p, 10).unwrap();
        assert!(!st.damaged, "{:?}", st.warnings);
        assert_eq!(st.truncated_tail, Some((m.len() - at) as u64));
        assert_eq!(st.commands, 5);
        assert_eq!(st.multi_blocks, 0);
        assert!(st.warnings[0].contains("never closed"), "{:?}", st.warnings);
    }

    #[test]
    fn multi_part_resets_db_per_file() {
        let t = Tmp::new("multi");
        let mut base = Vec::new();
        redkit_formats::resp::encode_command(&[b"SELECT", b"2"], &mut base);
        redkit_formats::resp::encode_command(&[b"SET", b"a", b"1"], &mut base);
        let mut incr1 = Vec::new();
        // No SELECT: a new file starts in db 0.
        redkit_formats::resp::encode_command(&[b"SET", b"b", b"1"], &mut incr1);
        redkit_formats::resp::encode_command(&[b"SET", b"c"], &mut incr1); // truncated below
        let incr1_cut = &incr1[..incr1.len() - 2];
        let mut incr2 = b"#TS:1700000000\r\n".to_vec();
        redkit_formats::resp::encode_command(&[b"INCR", b"n"], &mut incr2);
        t.file("ap.aof.1.base.aof", &base);
        t.file("ap.aof.1.incr.aof", incr1_cut);
        t.file("ap.aof.2.incr.aof", &incr2);
        t.file(
            "ap.aof.manifest",
            b"file ap.aof.1.base.aof seq 1 type b\nfile ap.aof.0.base.aof seq 9 type h\n\
              file ap.aof.1.incr.aof seq 1 type i\nfile ap.aof.2.incr.aof seq 2 type i\n",
        );
        let st = run(&t.0, 10).unwrap();
        assert_eq!(st.files.len(), 3);
        assert_eq!(
            st.files.iter().map(|f| f.role).collect::<Vec<_>>(),
            ["base", "incr", "incr"]
        );
        assert_eq!(st.history.len(), 1);
        assert!(st.manifest.as_deref().unwrap().ends_with("ap.aof.manifest"));
        assert_eq!(st.by_db[&2].commands, 1);
        // SELECT 2 (from db 0), SET b, INCR n.
        assert_eq!(st.by_db[&0].commands, 3);
        // The truncated record is in a file that is not the last one: damaged.
        assert!(st.damaged);
        assert!(st.files[1].damaged);
        assert_eq!(st.truncated_tail, None);
        assert!(st.warnings[0].contains("not the last"), "{:?}", st.warnings);
        assert_eq!(st.ts_annotations, 1);

        // The same with the manifest path, and a missing file.
        std::fs::remove_file(t.0.join("ap.aof.2.incr.aof")).unwrap();
        let st = run(&t.0.join("ap.aof.manifest"), 10).unwrap();
        assert_eq!(st.files[2].format, "unreadable");
        assert!(st.warnings.iter().any(|w| w.contains("cannot open")));
    }

    #[test]
    fn names_are_lowercased_and_bounded() {
        let t = Tmp::new("names");
        let mut d = Vec::new();
        let long = vec![b'X'; 100];
        redkit_formats::resp::encode_command(&[&long, b"a"], &mut d);
        redkit_formats::resp::encode_command(&[&long], &mut d);
        for i in 0..MAX_NAMES + 10 {
            redkit_formats::resp::encode_command(&[format!("Cmd{i}").as_bytes()], &mut d);
        }
        redkit_formats::resp::encode_command(&[b"CMD0"], &mut d);
        let p = t.file("n.aof", &d);
        let st = run(&p, 5).unwrap();
        assert_eq!(st.commands, MAX_NAMES as u64 + 13);
        let l = name(&st, "<long name>");
        assert_eq!((l.commands, l.argc), (2, 3));
        assert_eq!(name(&st, "cmd0").commands, 2);
        // The long-name row took one slot: MAX_NAMES - 1 real names fit.
        let other = name(&st, "<other names>");
        assert_eq!(other.commands, 11);
        assert_eq!(st.by_name.len(), MAX_NAMES + 1);
    }

    #[test]
    fn empty_file() {
        let t = Tmp::new("empty");
        let p = t.file("e.aof", b"");
        let st = run(&p, 5).unwrap();
        assert_eq!(st.files[0].format, "empty");
        assert_eq!(st.commands, 0);
        assert!(st.warnings.is_empty());
        let _ = st.render_text();
    }
}
