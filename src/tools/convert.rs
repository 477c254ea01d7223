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
use rayon::prelude::*;

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
    let source = |out: &mut Dest<'_>, report: &mut ConvertReport| -> Result<()> {
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
        // An RDB preamble or base must be readable by the AOF's target server.
        None if opts.to != To::Rdb => rdb_target_for(opts.aof_target),
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
        let mut out = match opts.to {
            To::Rdb => Dest::rdb(w, rdb_target, ctime_s, opts.multi_part.is_some())?,
            To::Aof if opts.preamble => Dest::rdb(w, rdb_target, ctime_s, true)?,
            To::Aof => Dest::aof(w, Enc::Aof(opts.aof_target), opts.aof_target),
            To::Resp if opts.restore => Dest::aof(
                w,
                Enc::Restore(opts.aof_target, rdb_target),
                opts.aof_target,
            ),
            To::Resp => Dest::aof(w, Enc::Aof(opts.aof_target), opts.aof_target),
            To::Json => return Ok(()),
        };
        source(&mut out, report)?;
        out.finish()
    };
    let mut result = Ok(());
    let to_stdout = opts.multi_part.is_none() && opts.output.as_os_str() == "-";
    let mut run_write = |w: &mut dyn Write| -> Result<()> {
        let r = write(w, &mut report);
        if r.is_ok() && !report.losses.is_empty() && !opts.lossy {
            return Err(Error::Usage(format!(
                "the target cannot hold everything in the input ({}); {}; pass --lossy to \
                 convert anyway",
                report.loss_lines().join(", "),
                if to_stdout {
                    "the output written to stdout lacks it"
                } else {
                    "nothing was written"
                }
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
        crate::safefile::replace_with_result_backup(&opts.output, opts.backup, |w| run_write(w))?;
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

/// A function of the Redis 7.0 release-candidate format (opcode 246) as the library a 7.0
/// server makes of it on load: `#!<engine> name=<name>` and a newline before the code.
fn pre_ga_library(engine: &[u8], name: &[u8], code: &[u8]) -> Vec<u8> {
    let mut lib = Vec::with_capacity(code.len() + engine.len() + name.len() + 9);
    lib.extend_from_slice(b"#!");
    lib.extend_from_slice(engine);
    lib.extend_from_slice(b" name=");
    lib.extend_from_slice(name);
    lib.push(b'\n');
    lib.extend_from_slice(code);
    lib
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

/// How keys are encoded for the output; `Copy` so worker threads each take one.
#[derive(Debug, Clone, Copy)]
enum Enc {
    Rdb(Target),
    Aof(AofTarget),
    /// RESTORE commands with DUMP payloads of this RDB version.
    Restore(AofTarget, Target),
}

/// Keys encoded on one thread: their bytes and what they cost.
#[derive(Default)]
struct Chunk {
    bytes: Vec<u8>,
    keys: u64,
    empty: u64,
    losses: Vec<&'static str>,
}

impl Chunk {
    fn merge_into(&self, report: &mut ConvertReport) {
        report.keys += self.keys;
        report.empty += self.empty;
        for l in &self.losses {
            report.lose(l);
        }
    }
}

/// Encodes a run of keys of one db into a [`Chunk`]; the chunks of a run are made in parallel
/// and written in order.
struct ChunkEnc {
    enc: Enc,
    db: u64,
    chunk: Chunk,
    aof: Option<AofWriter<Vec<u8>>>,
    payload: Vec<u8>,
}

impl ChunkEnc {
    fn new(enc: Enc, db: u64) -> Self {
        let aof = match enc {
            Enc::Rdb(_) => None,
            Enc::Aof(t) | Enc::Restore(t, _) => {
                let mut w = AofWriter::new(Vec::new(), t);
                // The output selected `db` before this chunk's bytes.
                w.assume_db(Some(db));
                Some(w)
            }
        };
        ChunkEnc {
            enc,
            db,
            chunk: Chunk::default(),
            aof,
            payload: Vec::new(),
        }
    }

    fn key(&mut self, key: &[u8], expire_ms: Option<i64>, v: &ValueBuf) -> Result<()> {
        let empty =
            matches!(v.kind(), Kind::List | Kind::Set | Kind::Zset | Kind::Hash) && v.is_empty();
        if empty {
            self.chunk.empty += 1;
            return Ok(());
        }
        self.chunk.keys += 1;
        let keyed =
            |e: std::io::Error| Error::Other(format!("writing key '{}': {e}", escape_key(key)));
        match (self.enc, self.aof.as_mut()) {
            (Enc::Rdb(t), _) => {
                for l in rdbw::losses(&t, v) {
                    self.chunk.losses.push(l.describe());
                }
                rdbw::encode_key_record(
                    t,
                    &Limits::default(),
                    key,
                    expire_ms,
                    v,
                    &mut self.chunk.bytes,
                )
                .map_err(keyed)?;
            }
            (Enc::Aof(t), Some(w)) => {
                for l in aofwrite::losses(&t, v) {
                    self.chunk.losses.push(l.describe());
                }
                w.key(self.db, key, expire_ms, v).map_err(keyed)?;
            }
            (Enc::Restore(_, dump), Some(w)) => {
                for l in rdbw::losses(&dump, v) {
                    self.chunk.losses.push(l.describe());
                }
                let p = &mut self.payload;
                p.clear();
                p.push(0);
                let t = rdbw::encode_value(dump, &Limits::default(), v, p).map_err(keyed)?;
                p[0] = t;
                p.extend_from_slice(&(dump.version as u16).to_le_bytes());
                let crc = crc64::crc64(0, p);
                p.extend_from_slice(&crc.to_le_bytes());
                // RESTORE takes 0 as "no expiry": an expiry at or before the epoch is sent as
                // 1 (already past, so the key is not created), like the plain path's PEXPIREAT.
                let ttl = match expire_ms {
                    Some(ms) => ms.max(1),
                    None => 0,
                }
                .to_string();
                let mut args: Vec<&[u8]> = vec![b"RESTORE", key, ttl.as_bytes(), p, b"REPLACE"];
                if expire_ms.is_some() {
                    args.push(b"ABSTTL");
                }
                w.write_command(&args).map_err(keyed)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Bytes encoded so far.
    fn size(&self) -> usize {
        match &self.aof {
            Some(w) => w.bytes_written() as usize,
            None => self.chunk.bytes.len(),
        }
    }

    fn finish(mut self) -> Result<Chunk> {
        if let Some(w) = self.aof.take() {
            self.chunk.bytes = w.finish().map_err(io_err)?;
        }
        Ok(self.chunk)
    }
}

/// The output file: the writer that owns it, and how its keys are encoded.
enum Sink<'w> {
    Rdb {
        w: RdbWriter<&'w mut dyn Write>,
        db: Option<u64>,
        hint: (u64, u64),
    },
    Aof(AofWriter<&'w mut dyn Write>),
}

struct Dest<'w> {
    enc: Enc,
    sink: Sink<'w>,
}

impl<'w> Dest<'w> {
    fn rdb(w: &'w mut dyn Write, target: Target, ctime_s: i64, as_base: bool) -> Result<Self> {
        let mut w = RdbWriter::new(w, target, Limits::default()).map_err(io_err)?;
        // used-mem is not known offline; 0 keeps rewrites of the same data byte-identical.
        w.standard_aux(ctime_s, 0, as_base).map_err(io_err)?;
        Ok(Dest {
            enc: Enc::Rdb(target),
            sink: Sink::Rdb {
                w,
                db: None,
                hint: (0, 0),
            },
        })
    }

    fn aof(w: &'w mut dyn Write, enc: Enc, target: AofTarget) -> Self {
        Dest {
            enc,
            sink: Sink::Aof(AofWriter::new(w, target)),
        }
    }

    fn finish(self) -> Result<()> {
        match self.sink {
            Sink::Rdb { w, .. } => w.finish().map(|_| ()).map_err(io_err),
            Sink::Aof(w) => w.finish().map(|_| ()).map_err(io_err),
        }
    }

    fn function(&mut self, code: &[u8], report: &mut ConvertReport) -> Result<()> {
        match &mut self.sink {
            Sink::Rdb { w, .. } => {
                if !w.target().has_functions() {
                    report.lose("function library (RDB 9 has no functions)");
                    return Ok(());
                }
                w.function(code).map_err(io_err)?;
            }
            Sink::Aof(w) => {
                if !aofwrite::function_losses(&w.target()).is_empty() {
                    report.lose("function library (needs Redis 7.0)");
                    return Ok(());
                }
                w.function(code).map_err(io_err)?;
            }
        }
        report.functions += 1;
        Ok(())
    }

    fn module_aux(&mut self, id: u64, raw: &[u8], report: &mut ConvertReport) -> Result<()> {
        match &mut self.sink {
            Sink::Rdb { w, .. } => w.module_aux(id, raw).map_err(io_err),
            Sink::Aof(_) => {
                report.lose("module aux data (commands cannot carry it)");
                Ok(())
            }
        }
    }

    /// The keys that follow are in this db; the counts are sizing hints for RESIZEDB.
    fn db_hint(&mut self, keys: u64, expires: u64) {
        if let Sink::Rdb { hint, .. } = &mut self.sink {
            *hint = (keys, expires);
        }
    }

    /// Write a chunk of keys of `db`.
    fn chunk(&mut self, db: u64, c: &Chunk, report: &mut ConvertReport) -> Result<()> {
        c.merge_into(report);
        if c.bytes.is_empty() {
            return Ok(());
        }
        match &mut self.sink {
            Sink::Rdb { w, db: cur, hint } => {
                if *cur != Some(db) {
                    w.select_db(db, hint.0, hint.1).map_err(io_err)?;
                    *cur = Some(db);
                }
                w.raw(&c.bytes).map_err(io_err)
            }
            Sink::Aof(w) => {
                w.select(db).map_err(io_err)?;
                w.write_raw(&c.bytes).map_err(io_err)
            }
        }
    }
}

/// Keys per parallel part: eight parts per run keep both cores busy, and a part is large
/// enough to amortise its writer.
fn part_len(n: usize) -> usize {
    (n / 8).max(64)
}

/// Stream an RDB file's keys into `out`: runs of keys are decoded and encoded on all cores.
fn from_rdb(
    input: &Path,
    opts: &ConvertOpts,
    out: &mut Dest<'_>,
    report: &mut ConvertReport,
) -> Result<()> {
    let mut reader = RdbReader::open(input)?;
    let ctx = Ctx::new(reader.header(), false);
    let mut scratch = Vec::new();
    let mut db = 0u64;
    let enc = out.enc;
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
                    } => out.db_hint(*db_size, *expires_size),
                    Item::Function { code } => {
                        let code = code.bytes(&mut scratch, f.start)?.to_vec();
                        out.function(&code, report)?;
                    }
                    Item::FunctionPreGa {
                        name, engine, code, ..
                    } => {
                        let engine = engine.to_vec(f.start)?;
                        let name = name.to_vec(f.start)?;
                        let lib =
                            pre_ga_library(&engine, &name, code.bytes(&mut scratch, f.start)?);
                        out.function(&lib, report)?;
                    }
                    Item::ModuleAux { module_id, raw } => {
                        out.module_aux(*module_id, raw, report)?
                    }
                    _ => {}
                },
                Event::Keys(keys) => {
                    let chunks: Vec<Result<Chunk>> = keys
                        .par_chunks(part_len(keys.len()))
                        .map_init(
                            || (Walker::default(), ValueBuf::default()),
                            |(w, vb), ks| {
                                let mut ce = ChunkEnc::new(enc, ks[0].rec.db);
                                for k in ks {
                                    vb.start(kind_of(k.rec.rdb_type).unwrap_or(Kind::Module));
                                    decode_value(&ctx, w, &k.rec, vb)?;
                                    ce.key(&k.key, k.rec.expire_ms, vb)?;
                                }
                                ce.finish()
                            },
                        )
                        .collect();
                    for (c, ks) in chunks.into_iter().zip(keys.chunks(part_len(keys.len()))) {
                        out.chunk(ks[0].rec.db, &c?, report)?;
                    }
                }
            }
            Ok(())
        },
    )
}

/// Stream redkit's JSON Lines into `out`, in chunks of keys of one db.
fn from_json(
    input: &Path,
    opts: &ConvertOpts,
    out: &mut Dest<'_>,
    report: &mut ConvertReport,
) -> Result<()> {
    let data = aoffile::map(input).map_err(|e| Error::io(input, e))?;
    let mut r = JsonReader::new(&data);
    let mut vb = ValueBuf::default();
    let mut cur: Option<ChunkEnc> = None;
    let flush =
        |cur: &mut Option<ChunkEnc>, out: &mut Dest<'_>, report: &mut ConvertReport| match cur
            .take()
        {
            Some(ce) => {
                let db = ce.db;
                out.chunk(db, &ce.finish()?, report)
            }
            None => Ok(()),
        };
    while let Some(item) = r.next(&mut vb)? {
        match item {
            JsonItem::Key {
                db, key, expire_ms, ..
            } => {
                if !opts.filter.keep_parts(db, Some(vb.kind()), expire_ms, &key) {
                    continue;
                }
                if cur
                    .as_ref()
                    .is_some_and(|c| c.db != db || c.chunk.keys >= 1024 || c.size() >= 8 << 20)
                {
                    flush(&mut cur, out, report)?;
                }
                cur.get_or_insert_with(|| ChunkEnc::new(out.enc, db))
                    .key(&key, expire_ms, &vb)?;
            }
            JsonItem::Function { code } => {
                flush(&mut cur, out, report)?;
                out.function(&code, report)?
            }
            JsonItem::FunctionPreGa {
                name, engine, code, ..
            } => {
                flush(&mut cur, out, report)?;
                out.function(&pre_ga_library(&engine, &name, &code), report)?
            }
            JsonItem::ModuleAux { module_id, raw } => {
                flush(&mut cur, out, report)?;
                out.module_aux(module_id, &raw, report)?
            }
            JsonItem::Aux { .. } => {}
        }
    }
    flush(&mut cur, out, report)
}

/// Write a replayed keyspace into `out`: functions, then db by db with keys in byte order,
/// encoded on all cores.
fn from_keyspace(
    ks: &Keyspace,
    opts: &ConvertOpts,
    out: &mut Dest<'_>,
    report: &mut ConvertReport,
) -> Result<()> {
    for lib in ks.functions.values() {
        out.function(&lib.code, report)?;
    }
    let enc = out.enc;
    for (dbi, db) in ks.dbs.iter().enumerate() {
        let dbi = dbi as u64;
        let mut keys: Vec<(&keyspace::SStr, &keyspace::Entry)> = db
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
            .collect();
        if keys.is_empty() {
            continue;
        }
        keys.sort_unstable_by(|a, b| a.0.cmp(b.0));
        out.db_hint(keys.len() as u64, db.expires() as u64);
        // Bounded runs: the chunks of one run are held in memory until written.
        for run in keys.chunks(8192) {
            let chunks: Vec<Result<Chunk>> = run
                .par_chunks(part_len(run.len()))
                .map_init(ValueBuf::default, |vb, ks| {
                    let mut ce = ChunkEnc::new(enc, dbi);
                    for (key, e) in ks {
                        vb.start(Kind::from_name(e.value.type_name()).unwrap_or(Kind::Module));
                        keyspace::feed(&e.value, vb);
                        if e.value.encoding() == "hashtable" {
                            vb.sort_members();
                        }
                        ce.key(key.as_bytes(), e.expire(), vb)?;
                    }
                    ce.finish()
                })
                .collect();
            for c in chunks {
                out.chunk(dbi, &c?, report)?;
            }
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
                ex.clock_ms = Some(opts.now_ms);
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
        crate::safefile::replace_with_result_backup(&opts.output, opts.backup, |w| {
            run(w, &mut report)
        })?;
    }
    Ok(report)
}
