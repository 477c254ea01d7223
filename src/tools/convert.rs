//! `redkit convert` and `redkit rewrite`: read any input (RDB of any version or family, plain,
//! preamble or multi-part AOF, redkit's JSON Lines) and write an RDB, an AOF (single file or a
//! Redis 7 appendonlydir), RESP for `redis-cli --pipe`, or JSON.
//!
//! How each input is read:
//! - RDB: streamed. Each key's value is decoded into one reused [`ValueBuf`] and written at
//!   once, so memory stays bounded whatever the file size.
//! - JSON Lines: streamed the same way.
//! - AOF: replayed into the keyspace first (commands only mean something in order), then
//!   written db by db with keys in byte order, so the output is deterministic.
//!
//! What the target cannot hold (field expiries for an RDB 11, functions for RDB 9 or an AOF for
//! Redis 6.2, ...) is counted per kind; unless `lossy` is set the conversion is then refused and
//! the output left untouched.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use redkit_formats::aofwrite::{self, AofTarget, AofWriter};
use redkit_formats::rdb::consts::{kind_of, Kind};
use redkit_formats::rdb::read::{
    decode_value, parse_header, Ctx, Item, Parser as RdbParser, Walker,
};
use redkit_formats::rdb::write::{self as rdbw, Limits, Target, Writer as RdbWriter};
use redkit_formats::string::Str;
use redkit_formats::value::ValueBuf;
use redkit_formats::{crc64, escape_key};

use crate::aofdir::{write_aof_dir, AofDirSpec};
use crate::aoffile;
use crate::batch::{drive, DriveOpts, Event};
use crate::cmd::Executor;
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::jsonin::{JsonItem, JsonReader};
use crate::keyspace::{self, Keyspace};
use crate::rdbfile::RdbReader;
use crate::replay::{self, ReplayOptions, ReplayReport};
use crate::tools::json;

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum To {
    Rdb,
    Aof,
    Resp,
    Json,
}

/// What the input is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Rdb,
    Aof,
    Json,
}

#[derive(Debug, Clone)]
pub struct ConvertOpts {
    pub to: To,
    /// The output file, `-` for stdout (RESP and JSON only), or the AOF directory to create.
    pub output: PathBuf,
    /// RDB output (and the preamble/base of an AOF): the version to write. `None`: the input
    /// RDB's own version when it is one we write, else 10 (Redis 7.0).
    pub rdb_target: Option<Target>,
    /// AOF and RESP output: the Redis version the commands must suit.
    pub aof_target: AofTarget,
    /// AOF output: an RDB preamble (base) with no commands after it.
    pub preamble: bool,
    /// AOF output as a Redis 7 appendonlydir (manifest, base, empty incr) at `output`.
    pub multi_part: Option<AofDirSpec>,
    /// RESP output: RESTORE ... REPLACE ABSTTL with DUMP payloads instead of plain commands.
    pub restore: bool,
    /// Write even when the target cannot hold everything (what is dropped is reported).
    pub lossy: bool,
    pub filter: Filter,
    pub replay: ReplayOptions,
    /// Read an RDB-magic file as a preamble AOF.
    pub force_aof: bool,
    /// The time written as `ctime` when the input does not carry one (unix ms).
    pub now_ms: i64,
    /// Keep an existing output file as `<output>.bak.<secs>` (a single-file output).
    pub backup: bool,
    pub progress: bool,
    /// JSON output: aux fields, functions and module aux data as leading records.
    pub meta: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ConvertReport {
    pub input: Option<InputKind>,
    pub keys: u64,
    /// Empty aggregates (Redis drops them on load; so do the writers).
    pub empty: u64,
    pub functions: u64,
    /// What the target could not hold: description -> how many keys (or functions).
    pub losses: BTreeMap<&'static str, u64>,
    /// Replay warnings and where a point-in-time replay stopped.
    pub warnings: Vec<String>,
    pub output: PathBuf,
}

impl ConvertReport {
    fn lose(&mut self, what: &'static str) {
        *self.losses.entry(what).or_insert(0) += 1;
    }

    /// One line per kind of loss.
    pub fn loss_lines(&self) -> Vec<String> {
        self.losses
            .iter()
            .map(|(what, n)| format!("{n} x {what}"))
            .collect()
    }
}

/// Work out what `path` holds.
pub fn detect(path: &Path, force_aof: bool) -> Result<InputKind> {
    if path.as_os_str() == "-" {
        return Err(Error::Usage(
            "convert needs a file, not stdin (an AOF is replayed, an RDB is mapped)".into(),
        ));
    }
    if aoffile::is_aof_input(path, force_aof)? {
        return Ok(InputKind::Aof);
    }
    let data = aoffile::map(path).map_err(|e| Error::io(path, e))?;
    let first = data.iter().find(|c| !c.is_ascii_whitespace());
    if first == Some(&b'{') {
        return Ok(InputKind::Json);
    }
    Ok(InputKind::Rdb)
}

/// Run a conversion.
pub fn run(input: &Path, opts: &ConvertOpts) -> Result<ConvertReport> {
    let kind = detect(input, opts.force_aof)?;
    if (opts.replay.until_timestamp.is_some() || opts.replay.until_offset.is_some())
        && kind != InputKind::Aof
    {
        return Err(Error::Usage(
            "--until-timestamp and --until-offset apply to AOF inputs only".into(),
        ));
    }
    let mut report = ConvertReport {
        input: Some(kind),
        output: opts.output.clone(),
        ..Default::default()
    };
    if opts.to == To::Json {
        return to_json(input, kind, opts, report);
    }
    // An AOF input is replayed before anything is written.
    let replayed = match kind {
        InputKind::Aof => {
            let mut ex = Executor::new(Keyspace::default());
            // A fixed clock: relative expiries and stream consumer times in the input resolve
            // the same way on every run (`--now`), so rewrites are reproducible.
            ex.clock_ms = Some(opts.now_ms);
            let rr = replay::replay(input, &mut ex, &opts.replay)?;
            note_replay(&rr, &mut report);
            let ctime = first_rdb_ctime(input);
            Some((ex.ks, ctime))
        }
        _ => None,
    };
    let source = |out: &mut dyn Out, report: &mut ConvertReport| -> Result<()> {
        match (&replayed, kind) {
            (Some((ks, _)), _) => from_keyspace(ks, opts, out, report),
            (None, InputKind::Json) => from_json(input, opts, out, report),
            _ => from_rdb(input, opts, out, report),
        }
    };
    let input_ctime = match (&replayed, kind) {
        (Some((_, c)), _) => *c,
        (None, InputKind::Rdb) => aoffile::map(input).ok().and_then(|d| rdb_ctime(&d)),
        _ => None,
    };
    let rdb_target = match opts.rdb_target {
        Some(t) => t,
        None => match kind {
            InputKind::Rdb => aoffile::map(input)
                .ok()
                .and_then(|d| parse_header(&d).ok())
                .and_then(|h| Target::parse(&h.version.to_string()))
                .filter(|t| {
                    // A Valkey file keeps its family only through the explicit option.
                    t.family == redkit_formats::rdb::consts::Family::Redis
                })
                .unwrap_or(Target::REDIS_10),
            _ => Target::REDIS_10,
        },
    };
    let ctime_s = input_ctime.unwrap_or(opts.now_ms / 1000);
    let write = |w: &mut dyn Write, report: &mut ConvertReport| -> Result<()> {
        match opts.to {
            To::Rdb => {
                let as_base = opts.multi_part.is_some();
                let mut out = RdbOut::new(w, rdb_target, ctime_s, as_base)?;
                source(&mut out, report)?;
                out.finish()
            }
            To::Aof if opts.preamble => {
                let mut out = RdbOut::new(w, rdb_target, ctime_s, true)?;
                source(&mut out, report)?;
                out.finish()
            }
            To::Aof | To::Resp => {
                let mut out = AofOut {
                    w: AofWriter::new(w, opts.aof_target),
                    restore: opts.to == To::Resp && opts.restore,
                    dump_target: rdb_target_for(opts.aof_target),
                    payload: Vec::new(),
                };
                source(&mut out, report)?;
                out.w.finish().map_err(io_err)?;
                Ok(())
            }
            To::Json => Ok(()),
        }
    };
    let mut result = Ok(());
    let mut run_write = |w: &mut dyn Write| -> Result<()> {
        let r = write(w, &mut report);
        if r.is_ok() && !report.losses.is_empty() && !opts.lossy {
            return Err(Error::Usage(format!(
                "the target cannot hold everything in the input ({}); nothing was written; \
                 pass --lossy to convert anyway",
                report.loss_lines().join(", ")
            )));
        }
        r
    };
    if let Some(spec) = &opts.multi_part {
        let mut spec = spec.clone();
        spec.base_is_rdb = opts.preamble || opts.to == To::Rdb;
        write_aof_dir(&spec, |w| run_write(w))?;
    } else if opts.output.as_os_str() == "-" {
        if opts.to == To::Rdb || opts.to == To::Aof {
            return Err(Error::Usage(
                "RDB and AOF output go to a file (-o FILE): it is written atomically".into(),
            ));
        }
        let stdout = std::io::stdout();
        let mut w = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
        result = run_write(&mut w);
        if result.is_ok() {
            w.flush().map_err(io_err)?;
        }
    } else {
        if opts.backup && opts.output.exists() {
            crate::safefile::backup(&opts.output)?;
        }
        crate::safefile::replace_with_result(&opts.output, |w| run_write(w))?;
    }
    result?;
    Ok(report)
}

fn io_err(e: std::io::Error) -> Error {
    Error::Other(format!("writing output: {e}"))
}

/// The RDB version a target Redis reads, for DUMP payloads.
fn rdb_target_for(t: AofTarget) -> Target {
    match t.rdb_version() {
        v if v <= 9 => Target::REDIS_9,
        10 => Target::REDIS_10,
        11 => Target::REDIS_11,
        _ => Target::REDIS_12,
    }
}

fn note_replay(rr: &ReplayReport, report: &mut ConvertReport) {
    report.warnings.extend(rr.warnings.iter().cloned());
    if let Some((path, off, why)) = &rr.stopped_at {
        report.warnings.push(format!(
            "replay stopped at {} offset {off}: {why}",
            path.display()
        ));
    }
}

/// The `ctime` aux field of the RDB at the start of `data`.
pub fn rdb_ctime(data: &[u8]) -> Option<i64> {
    let header = parse_header(data).ok()?;
    let mut p = RdbParser::new(header);
    let mut pos = redkit_formats::rdb::read::HEADER_LEN;
    let mut scratch = Vec::new();
    loop {
        let f = p.next(data, pos, 0).ok()?;
        match f.item {
            Item::Aux { name, value } => {
                if name.bytes(&mut scratch, 0).ok()? == b"ctime" {
                    return match value {
                        Str::Int(i) => Some(i),
                        v => std::str::from_utf8(v.bytes(&mut scratch, 0).ok()?)
                            .ok()?
                            .parse()
                            .ok(),
                    };
                }
            }
            _ => return None,
        }
        pos = f.end;
    }
}

/// The `ctime` of an AOF's RDB part (its base or preamble), if it has one.
fn first_rdb_ctime(input: &Path) -> Option<i64> {
    let first = replay::files_of(input).ok()?.into_iter().next()?;
    let data = aoffile::map(&first).ok()?;
    if aoffile::is_rdb(&data) {
        rdb_ctime(&data)
    } else {
        None
    }
}

/// Where converted keys go.
trait Out {
    fn function(&mut self, code: &[u8], report: &mut ConvertReport) -> Result<()>;
    fn module_aux(&mut self, module_id: u64, raw: &[u8], report: &mut ConvertReport) -> Result<()>;
    /// The keys that follow are in `db`; the counts are sizing hints.
    fn db(&mut self, db: u64, keys: u64, expires: u64) -> Result<()>;
    fn key(
        &mut self,
        db: u64,
        key: &[u8],
        expire_ms: Option<i64>,
        v: &ValueBuf,
        report: &mut ConvertReport,
    ) -> Result<()>;
}

fn count_key(v: &ValueBuf, report: &mut ConvertReport) -> bool {
    let empty =
        matches!(v.kind(), Kind::List | Kind::Set | Kind::Zset | Kind::Hash) && v.is_empty();
    if empty {
        report.empty += 1;
    } else {
        report.keys += 1;
    }
    !empty
}

struct RdbOut<'w> {
    w: RdbWriter<&'w mut dyn Write>,
    db: Option<u64>,
    hint: (u64, u64),
}

impl<'w> RdbOut<'w> {
    fn new(w: &'w mut dyn Write, target: Target, ctime_s: i64, as_base: bool) -> Result<Self> {
        let mut w = RdbWriter::new(w, target, Limits::default()).map_err(io_err)?;
        // used-mem is not known offline; 0 keeps rewrites of the same data byte-identical.
        w.standard_aux(ctime_s, 0, as_base).map_err(io_err)?;
        Ok(RdbOut {
            w,
            db: None,
            hint: (0, 0),
        })
    }

    fn finish(self) -> Result<()> {
        self.w.finish().map_err(io_err)?;
        Ok(())
    }
}

impl Out for RdbOut<'_> {
    fn function(&mut self, code: &[u8], report: &mut ConvertReport) -> Result<()> {
        if !self.w.target().has_functions() {
            report.lose("function library (RDB 9 has no functions)");
            return Ok(());
        }
        report.functions += 1;
        self.w.function(code).map_err(io_err)
    }

    fn module_aux(&mut self, id: u64, raw: &[u8], _report: &mut ConvertReport) -> Result<()> {
        self.w.module_aux(id, raw).map_err(io_err)
    }

    fn db(&mut self, _db: u64, keys: u64, expires: u64) -> Result<()> {
        self.hint = (keys, expires);
        Ok(())
    }

    fn key(
        &mut self,
        db: u64,
        key: &[u8],
        expire_ms: Option<i64>,
        v: &ValueBuf,
        report: &mut ConvertReport,
    ) -> Result<()> {
        if !count_key(v, report) {
            return Ok(());
        }
        for l in rdbw::losses(&self.w.target(), v) {
            report.lose(l.describe());
        }
        if self.db != Some(db) {
            self.w
                .select_db(db, self.hint.0, self.hint.1)
                .map_err(io_err)?;
            self.db = Some(db);
        }
        self.w.key(key, expire_ms, v).map_err(io_err)
    }
}

struct AofOut<'w> {
    w: AofWriter<&'w mut dyn Write>,
    restore: bool,
    dump_target: Target,
    payload: Vec<u8>,
}

impl Out for AofOut<'_> {
    fn function(&mut self, code: &[u8], report: &mut ConvertReport) -> Result<()> {
        if !aofwrite::function_losses(&self.w.target()).is_empty() {
            report.lose("function library (needs Redis 7.0)");
            return Ok(());
        }
        report.functions += 1;
        self.w.function(code).map_err(io_err)
    }

    fn module_aux(&mut self, _id: u64, _raw: &[u8], report: &mut ConvertReport) -> Result<()> {
        report.lose("module aux data (commands cannot carry it)");
        Ok(())
    }

    fn db(&mut self, _db: u64, _keys: u64, _expires: u64) -> Result<()> {
        Ok(())
    }

    fn key(
        &mut self,
        db: u64,
        key: &[u8],
        expire_ms: Option<i64>,
        v: &ValueBuf,
        report: &mut ConvertReport,
    ) -> Result<()> {
        if !count_key(v, report) {
            return Ok(());
        }
        if self.restore {
            for l in rdbw::losses(&self.dump_target, v) {
                report.lose(l.describe());
            }
            self.payload.clear();
            let t = rdbw::encode_value(self.dump_target, &Limits::default(), v, &mut self.payload)
                .map_err(io_err)?;
            self.payload.insert(0, t);
            self.payload
                .extend_from_slice(&(self.dump_target.version as u16).to_le_bytes());
            let crc = crc64::crc64(0, &self.payload);
            self.payload.extend_from_slice(&crc.to_le_bytes());
            self.w.select(db).map_err(io_err)?;
            let ttl = expire_ms.unwrap_or(0).max(0).to_string();
            let mut args: Vec<&[u8]> =
                vec![b"RESTORE", key, ttl.as_bytes(), &self.payload, b"REPLACE"];
            if expire_ms.is_some() {
                args.push(b"ABSTTL");
            }
            return self.w.write_command(&args).map_err(io_err);
        }
        for l in aofwrite::losses(&self.w.target(), v) {
            report.lose(l.describe());
        }
        self.w.key(db, key, expire_ms, v).map_err(io_err)
    }
}

/// Stream an RDB file's keys into `out`.
fn from_rdb(
    input: &Path,
    opts: &ConvertOpts,
    out: &mut dyn Out,
    report: &mut ConvertReport,
) -> Result<()> {
    let mut reader = RdbReader::open(input)?;
    let ctx = Ctx::new(reader.header(), false);
    let mut walker = Walker::default();
    let mut vb = ValueBuf::default();
    let mut scratch = Vec::new();
    let mut db = 0u64;
    drive(
        &mut reader,
        &DriveOpts {
            progress: opts.progress,
        },
        |k, key| opts.filter.keep(k, key),
        |ev| {
            match ev {
                Event::Item(f) => match &f.item {
                    Item::SelectDb(n) => db = *n,
                    Item::ResizeDb {
                        db_size,
                        expires_size,
                    } => out.db(db, *db_size, *expires_size)?,
                    Item::Function { code } => {
                        let code = code.bytes(&mut scratch, f.start)?.to_vec();
                        out.function(&code, report)?;
                    }
                    Item::FunctionPreGa { .. } => {
                        report.lose("function in the Redis 7.0 release-candidate format");
                    }
                    Item::ModuleAux { module_id, raw } => {
                        out.module_aux(*module_id, raw, report)?
                    }
                    _ => {}
                },
                Event::Keys(keys) => {
                    for k in keys {
                        vb.start(kind_of(k.rec.rdb_type).unwrap_or(Kind::Module));
                        decode_value(&ctx, &mut walker, &k.rec, &mut vb)?;
                        out.key(k.rec.db, &k.key, k.rec.expire_ms, &vb, report)?;
                    }
                }
            }
            Ok(())
        },
    )
}

/// Stream redkit's JSON Lines into `out`.
fn from_json(
    input: &Path,
    opts: &ConvertOpts,
    out: &mut dyn Out,
    report: &mut ConvertReport,
) -> Result<()> {
    let data = aoffile::map(input).map_err(|e| Error::io(input, e))?;
    let mut r = JsonReader::new(&data);
    let mut vb = ValueBuf::default();
    while let Some(item) = r.next(&mut vb)? {
        match item {
            JsonItem::Key {
                db, key, expire_ms, ..
            } => {
                if opts.filter.keep_parts(db, Some(vb.kind()), expire_ms, &key) {
                    out.key(db, &key, expire_ms, &vb, report)?;
                }
            }
            JsonItem::Function { code } => out.function(&code, report)?,
            JsonItem::FunctionPreGa { .. } => {
                report.lose("function in the Redis 7.0 release-candidate format")
            }
            JsonItem::ModuleAux { module_id, raw } => out.module_aux(module_id, &raw, report)?,
            JsonItem::Aux { .. } => {}
        }
    }
    Ok(())
}

/// Write a replayed keyspace into `out`: functions, then db by db, keys in byte order.
fn from_keyspace(
    ks: &Keyspace,
    opts: &ConvertOpts,
    out: &mut dyn Out,
    report: &mut ConvertReport,
) -> Result<()> {
    for lib in ks.functions.values() {
        out.function(&lib.code, report)?;
    }
    let mut vb = ValueBuf::default();
    for (dbi, db) in ks.dbs.iter().enumerate() {
        let dbi = dbi as u64;
        let mut keys: Vec<&keyspace::SStr> = db
            .map
            .iter()
            .filter(|(k, e)| {
                opts.filter.keep_parts(
                    dbi,
                    Kind::from_name(e.value.type_name()),
                    e.expire(),
                    k.as_bytes(),
                )
            })
            .map(|(k, _)| k)
            .collect();
        if keys.is_empty() {
            continue;
        }
        keys.sort_unstable();
        out.db(dbi, keys.len() as u64, db.expires() as u64)?;
        for key in keys {
            let Some(e) = db.map.get(key.as_bytes()) else {
                continue;
            };
            vb.start(Kind::from_name(e.value.type_name()).unwrap_or(Kind::Module));
            keyspace::feed(&e.value, &mut vb);
            out.key(dbi, key.as_bytes(), e.expire(), &vb, report)
                .map_err(|err| match err {
                    Error::Other(m) => {
                        Error::Other(format!("{m} (key '{}')", escape_key(key.as_bytes())))
                    }
                    other => other,
                })?;
        }
    }
    Ok(())
}

/// JSON output: the `json` tool's renderers, written atomically.
fn to_json(
    input: &Path,
    kind: InputKind,
    opts: &ConvertOpts,
    mut report: ConvertReport,
) -> Result<ConvertReport> {
    let jopts = json::JsonOpts {
        filter: opts.filter.clone(),
        meta: opts.meta,
        format: json::Format::Lines,
        progress: opts.progress,
    };
    let run = |w: &mut (dyn Write + Send), report: &mut ConvertReport| -> Result<()> {
        match kind {
            InputKind::Json => Err(Error::Usage(
                "the input is already redkit's JSON Lines".into(),
            )),
            InputKind::Aof => {
                let mut ex = Executor::new(Keyspace::default());
                let rr = replay::replay(input, &mut ex, &opts.replay)?;
                note_replay(&rr, report);
                let r = json::run_keyspace(&ex.ks, &jopts, w)?;
                report.keys = r.keys;
                Ok(())
            }
            InputKind::Rdb => {
                let mut reader = RdbReader::open(input)?;
                let r = json::run(&mut reader, &jopts, w)?;
                report.keys = r.keys;
                Ok(())
            }
        }
    };
    if opts.output.as_os_str() == "-" {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout());
        run(&mut w, &mut report)?;
        w.flush().map_err(io_err)?;
    } else {
        if opts.backup && opts.output.exists() {
            crate::safefile::backup(&opts.output)?;
        }
        crate::safefile::replace_with_result(&opts.output, |w| run(w, &mut report))?;
    }
    Ok(report)
}
