//! The `redkit` command line.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use redkit::filter::Filter;
use redkit::rdbfile::RdbReader;
use redkit::tools::{
    aof_repair, aof_stats, check_aof, check_rdb, convert, fix, json, keyspace_stats, stats,
};

#[derive(Parser)]
#[command(
    name = "redkit",
    version,
    about = "Read, check and convert Redis RDB and AOF files"
)]
struct Cli {
    /// Fix "now" (unix milliseconds) for everything time-dependent, for reproducible output.
    #[arg(long, global = true, value_name = "MS")]
    now: Option<i64>,
    /// No progress bar.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Print an RDB file's keys as JSON Lines (schema: docs/json.md).
    Json(JsonArgs),
    /// Check an RDB file like redis-check-rdb: exit 0 when sane, 1 when not.
    CheckRdb(CheckArgs),
    /// Keys, sizes and elements per db, type and encoding; the biggest keys.
    Stats(StatsArgs),
    /// Check an AOF (file, manifest or appendonlydir) like redis-check-aof; --fix truncates.
    CheckAof(CheckAofArgs),
    /// Repair an AOF (file, manifest, appendonlydir) or an RDB, keeping what check-aof drops.
    Fix(FixArgs),
    /// Convert between RDB (any version, Redis or Valkey), AOF (file, manifest, appendonlydir),
    /// RESP for redis-cli --pipe, and JSON Lines.
    Convert(ConvertArgs),
    /// Offline BGREWRITEAOF: replay an AOF and write its compact equivalent (a manifest or
    /// appendonlydir input gives a new appendonlydir).
    Rewrite(RewriteArgs),
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum ToFormat {
    Rdb,
    Aof,
    Resp,
    Json,
}

/// Options of every output that is an AOF.
#[derive(Args)]
struct AofOutArgs {
    /// The Redis version the commands must suit (e.g. 6.2, 7.0, 7.4).
    #[arg(long, default_value = "7.0", value_name = "X.Y")]
    target_version: String,
    /// RDB version of an RDB output, preamble or DUMP payload: 9, 10, 11, 12 or valkey80
    /// (default: an RDB input's own version, else 10).
    #[arg(long, value_name = "N")]
    rdb_version: Option<String>,
    /// AOF output as an RDB preamble (the base, with no commands after it).
    #[arg(long)]
    preamble: bool,
    /// Redis's appendfilename: names the files of a multi-part output (default appendonly.aof;
    /// rewrite of a manifest keeps the input's).
    #[arg(long, value_name = "NAME")]
    appendfilename: Option<String>,
    /// Redis's appenddirname: OUTPUT is then Redis's `dir` and the AOF directory is OUTPUT/NAME.
    #[arg(long, value_name = "NAME")]
    appenddirname: Option<String>,
    /// Move an existing non-empty output directory to <dir>.bak.<unix-time> instead of refusing.
    #[arg(long)]
    replace: bool,
    /// Write even when the target cannot hold everything (what is dropped is reported).
    #[arg(long)]
    lossy: bool,
    /// Do not keep an existing output file as <file>.bak.<unix-time>.
    #[arg(long)]
    no_backup: bool,
}

/// Options of every AOF input.
#[derive(Args)]
struct AofInArgs {
    /// Read an RDB-magic file as a preamble AOF.
    #[arg(long)]
    aof: bool,
    /// AOF input: skip failing commands (counted) instead of stopping.
    #[arg(long)]
    skip_errors: bool,
    /// AOF input: stop at the first #TS annotation later than T (unix seconds), like
    /// redis-check-aof --truncate-to-timestamp.
    #[arg(long, value_name = "T")]
    until_timestamp: Option<i64>,
    /// AOF input: stop before the first command at or after byte offset N (counted across the
    /// files of a multi-part AOF in load order).
    #[arg(long, value_name = "N")]
    until_offset: Option<u64>,
}

#[derive(Args)]
struct ConvertArgs {
    /// RDB file, AOF (file, manifest or appendonlydir), or redkit JSON Lines.
    input: PathBuf,
    #[arg(long, value_enum)]
    to: ToFormat,
    /// Output file (- for stdout with resp/json), or the AOF directory with --multi-part.
    #[arg(short, long, value_name = "OUTPUT")]
    output: PathBuf,
    /// --to aof: write a Redis 7 appendonlydir (manifest, base, empty incr file) at OUTPUT.
    #[arg(long)]
    multi_part: bool,
    /// --to resp: RESTORE ... REPLACE commands with DUMP payloads (exact and faster to load).
    #[arg(long)]
    restore: bool,
    /// --to json: also print aux fields, functions and module aux data.
    #[arg(long)]
    meta: bool,
    #[command(flatten)]
    aof_out: AofOutArgs,
    #[command(flatten)]
    aof_in: AofInArgs,
    #[command(flatten)]
    filter: FilterArgs,
}

#[derive(Args)]
struct RewriteArgs {
    /// AOF: plain, preamble, manifest or appendonlydir.
    input: PathBuf,
    /// Output file; for a manifest or appendonlydir input, the new appendonlydir.
    #[arg(short, long, value_name = "OUTPUT")]
    output: PathBuf,
    /// Write a single file even for a multi-part input.
    #[arg(long)]
    single_file: bool,
    #[command(flatten)]
    aof_out: AofOutArgs,
    #[command(flatten)]
    aof_in: AofInArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum FixMode {
    /// Cut at the first damaged command (what check-aof --fix does).
    Truncate,
    /// Skip damaged stretches and keep every intact command after them.
    Salvage,
}

#[derive(Args)]
struct FixArgs {
    /// AOF file, manifest, appendonlydir, or RDB file.
    path: PathBuf,
    #[arg(long, value_enum, default_value = "truncate")]
    mode: FixMode,
    /// Restore CRLF line endings a text tool turned into LF, when that makes the file read.
    #[arg(long)]
    line_endings: bool,
    /// Remove a FLUSHALL/FLUSHDB at the very end of the AOF.
    #[arg(long)]
    drop_flushall: bool,
    /// Do not ask before changing files.
    #[arg(long, short)]
    yes: bool,
    /// Do not keep originals as <file>.bak.<unix-time>.
    #[arg(long)]
    no_backup: bool,
    /// Show the plan; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print one JSON report (the question, if any, goes to stderr).
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct CheckAofArgs {
    /// AOF file, manifest, or appendonlydir.
    path: PathBuf,
    /// Truncate the last file at the end of its last complete command (asks first).
    #[arg(long, conflicts_with = "truncate_to_timestamp")]
    fix: bool,
    /// Truncate the AOF at the first #TS annotation later than T (unix seconds; asks first).
    #[arg(long, value_name = "T")]
    truncate_to_timestamp: Option<String>,
    /// Do not ask before truncating.
    #[arg(long, short)]
    yes: bool,
    /// Do not keep the original as <file>.bak.<unix-time>.
    #[arg(long)]
    no_backup: bool,
    /// Report what would be truncated; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Allow truncating a file to 0 bytes.
    #[arg(long)]
    force: bool,
    /// Print one JSON report (the question, if any, goes to stderr).
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct FilterArgs {
    /// Only this database (repeatable).
    #[arg(long = "db", value_name = "N")]
    dbs: Vec<u64>,
    /// Only keys matching this regex (unanchored; matched against the key's bytes).
    #[arg(long, value_name = "REGEX")]
    key: Option<String>,
    /// Leave out keys matching this regex.
    #[arg(long, value_name = "REGEX")]
    not_key: Option<String>,
    /// Only this type: string, list, set, zset, hash, stream, module (repeatable).
    #[arg(long = "type", value_name = "T")]
    types: Vec<String>,
    /// Leave out keys that have already expired (see --now).
    #[arg(long)]
    no_expired: bool,
}

impl FilterArgs {
    fn build(&self, now: i64) -> anyhow::Result<Filter> {
        Ok(Filter::new(
            self.dbs.clone(),
            self.key.as_deref(),
            self.not_key.as_deref(),
            &self.types,
            self.no_expired.then_some(now),
        )?)
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum JsonFormat {
    /// One JSON object per key (docs/json.md).
    Jsonl,
    /// redis-rdb-tools' shape: a list of one {key: value} object per database.
    Rdbtools,
}

#[derive(Args)]
struct JsonArgs {
    /// RDB file (or - for stdin), or an AOF: file, manifest or appendonlydir (replayed into the
    /// keyspace first; keys then come sorted by db and name).
    file: PathBuf,
    /// Read an RDB-magic file as a preamble AOF (automatic for manifests, directories, files
    /// that start like RESP, and RDB-magic files named *.aof).
    #[arg(long)]
    aof: bool,
    /// AOF input: skip failing commands (counted on stderr) instead of stopping.
    #[arg(long)]
    skip_errors: bool,
    /// Write here instead of stdout.
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,
    /// Also print aux fields, functions and module aux data as leading records.
    #[arg(long)]
    meta: bool,
    #[arg(long, value_enum, default_value = "jsonl")]
    format: JsonFormat,
    #[command(flatten)]
    filter: FilterArgs,
}

#[derive(Args)]
struct CheckArgs {
    /// RDB file, or - for stdin.
    file: PathBuf,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
    /// Also detect keys stored twice in one db (8 bytes of memory per key).
    #[arg(long)]
    dup_keys: bool,
}

#[derive(Args)]
struct StatsArgs {
    /// RDB file (or - for stdin), or an AOF: file, manifest or appendonlydir.
    file: PathBuf,
    /// Read an RDB-magic file as a preamble AOF (automatic for manifests, directories, files
    /// that start like RESP, and RDB-magic files named *.aof). A damaged AOF exits 1.
    #[arg(long)]
    aof: bool,
    /// How many biggest keys to list.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Load the input into the in-memory keyspace (an AOF is replayed) and summarise it:
    /// keys per db, types and encodings, load time, memory.
    #[arg(long, visible_alias = "replay")]
    keyspace: bool,
    /// With --keyspace on an AOF: skip failing commands (counted) instead of stopping.
    #[arg(long, requires = "keyspace")]
    skip_errors: bool,
    /// Encoding rules to follow: 7.0 or 7.2 (small lists and sets as listpacks).
    #[arg(long, default_value = "7.0", value_parser = ["7.0", "7.2"])]
    profile: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let mut msg = format!("{e:#}");
            // Keep errors on one line: a key or path may hold a newline.
            msg = msg.replace('\n', "\\n").replace('\r', "\\r");
            eprintln!("redkit: {msg}");
            ExitCode::from(1)
        }
    }
}

/// Should this path be read as an AOF?
fn is_aof_input(path: &Path, forced: bool) -> anyhow::Result<bool> {
    Ok(redkit::aoffile::is_aof_input(path, forced)?)
}

#[allow(clippy::too_many_arguments)]
fn convert_opts(
    to: convert::To,
    output: &Path,
    multi_part: bool,
    o: &AofOutArgs,
    i: &AofInArgs,
    filter: Filter,
    now: i64,
    progress: bool,
) -> anyhow::Result<convert::ConvertOpts> {
    let aof_target =
        redkit_formats::aofwrite::AofTarget::parse(&o.target_version).with_context(|| {
            format!(
                "--target-version {}: expected a Redis version such as 6.2 or 7.0",
                o.target_version
            )
        })?;
    let rdb_target = match &o.rdb_version {
        Some(v) => Some(
            redkit_formats::rdb::write::Target::parse(v).with_context(|| {
                format!("--rdb-version {v}: expected 9, 10, 11, 12 or valkey80")
            })?,
        ),
        None => None,
    };
    let multi_part = multi_part.then(|| {
        let dir = match &o.appenddirname {
            Some(n) => output.join(n),
            None => output.to_path_buf(),
        };
        redkit::aofdir::AofDirSpec {
            dir,
            filename: o
                .appendfilename
                .clone()
                .unwrap_or_else(|| "appendonly.aof".into()),
            base_is_rdb: o.preamble,
            replace: o.replace,
        }
    });
    Ok(convert::ConvertOpts {
        to,
        output: output.to_path_buf(),
        rdb_target,
        aof_target,
        preamble: o.preamble,
        multi_part,
        restore: false,
        lossy: o.lossy,
        filter,
        replay: redkit::replay::ReplayOptions {
            skip_errors: i.skip_errors,
            until_timestamp: i.until_timestamp,
            until_offset: i.until_offset,
        },
        force_aof: i.aof,
        now_ms: now,
        backup: !o.no_backup,
        progress,
        meta: false,
    })
}

/// Run a conversion and print its summary (to stderr: stdout may be the output).
fn finish_convert(input: &Path, opts: &convert::ConvertOpts) -> anyhow::Result<ExitCode> {
    let r = convert::run(input, opts).map_err(|e| anyhow::anyhow!("{}: {e}", input.display()))?;
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    for l in r.loss_lines() {
        eprintln!("dropped (--lossy): {l}");
    }
    if opts.output.as_os_str() != "-" {
        let mut what = format!("{} keys", r.keys);
        if r.functions > 0 {
            what.push_str(&format!(", {} function libraries", r.functions));
        }
        if r.empty > 0 {
            what.push_str(&format!(", {} empty keys skipped", r.empty));
        }
        let dest = opts
            .multi_part
            .as_ref()
            .map(|s| s.dir.clone())
            .unwrap_or_else(|| opts.output.clone());
        eprintln!("wrote {what} to {}", dest.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn open(path: &Path) -> anyhow::Result<RdbReader> {
    RdbReader::open(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let now = cli.now.unwrap_or_else(redkit::now_ms);
    let progress = !cli.quiet;
    match cli.cmd {
        Cmd::Json(a) => {
            let filter = a.filter.build(now)?;
            let opts = json::JsonOpts {
                filter,
                meta: a.meta,
                format: match a.format {
                    JsonFormat::Jsonl => json::Format::Lines,
                    JsonFormat::Rdbtools => json::Format::RdbTools,
                },
                progress,
            };
            if a.file.as_os_str() != "-" && is_aof_input(&a.file, a.aof)? {
                let mut ex = redkit::cmd::Executor::new(redkit::keyspace::Keyspace::default());
                let rr = redkit::replay::replay(
                    &a.file,
                    &mut ex,
                    &redkit::replay::ReplayOptions {
                        skip_errors: a.skip_errors,
                        ..Default::default()
                    },
                )
                .map_err(|e| anyhow::anyhow!("{e}"))?;
                for w in &rr.warnings {
                    eprintln!("warning: {w}");
                }
                let mut w: Box<dyn Write> = match &a.output {
                    Some(p) => Box::new(BufWriter::with_capacity(
                        256 << 10,
                        File::create(p).with_context(|| format!("{}", p.display()))?,
                    )),
                    None => Box::new(BufWriter::with_capacity(256 << 10, std::io::stdout())),
                };
                json::run_keyspace(&ex.ks, &opts, &mut w)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", a.file.display()))?;
                return Ok(ExitCode::SUCCESS);
            }
            let mut reader = open(&a.file)?;
            let report = match &a.output {
                Some(p) => {
                    let file = File::create(p).with_context(|| format!("{}", p.display()))?;
                    let mut w = BufWriter::with_capacity(256 << 10, file);
                    let r = json::run(&mut reader, &opts, &mut w);
                    w.flush()?;
                    r
                }
                None => {
                    let mut w = BufWriter::with_capacity(256 << 10, std::io::stdout());
                    json::run(&mut reader, &opts, &mut w)
                }
            }
            .map_err(|e| anyhow::anyhow!("{}: {e}", a.file.display()))?;
            if report.trailing_bytes > 0 {
                eprintln!(
                    "warning: {} bytes after the end of the RDB were ignored",
                    report.trailing_bytes
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::CheckRdb(a) => {
            let opts = check_rdb::CheckOpts {
                now_ms: now,
                dup_keys: a.dup_keys,
                progress: progress && !a.json,
            };
            let report = check_rdb::run(
                &a.file.display().to_string(),
                || RdbReader::open(&a.file),
                &opts,
            );
            let mut out = std::io::stdout().lock();
            if a.json {
                writeln!(out, "{}", report.to_json())?;
            } else {
                out.write_all(check_rdb::render_text(&report).as_bytes())?;
            }
            Ok(if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Cmd::Convert(a) => {
            let filter = a.filter.build(now)?;
            if a.multi_part && a.to != ToFormat::Aof {
                anyhow::bail!("--multi-part is for --to aof");
            }
            if a.restore && a.to != ToFormat::Resp {
                anyhow::bail!("--restore is for --to resp");
            }
            let to = match a.to {
                ToFormat::Rdb => convert::To::Rdb,
                ToFormat::Aof => convert::To::Aof,
                ToFormat::Resp => convert::To::Resp,
                ToFormat::Json => convert::To::Json,
            };
            let opts = convert_opts(
                to,
                &a.output,
                a.multi_part,
                &a.aof_out,
                &a.aof_in,
                filter,
                now,
                progress,
            )?;
            let opts = convert::ConvertOpts {
                restore: a.restore,
                meta: a.meta,
                ..opts
            };
            finish_convert(&a.input, &opts)
        }
        Cmd::Rewrite(a) => {
            if !redkit::aoffile::is_aof_input(&a.input, a.aof_in.aof)? {
                anyhow::bail!(
                    "{}: not an AOF (rewrite takes a plain, preamble or multi-part AOF; use convert for RDB files)",
                    a.input.display()
                );
            }
            let manifest = match redkit::aoffile::resolve(&a.input)? {
                redkit::aoffile::Input::Manifest(m) => Some(m),
                redkit::aoffile::Input::File(_) => None,
            };
            let multi = !a.single_file && manifest.is_some();
            // The server that reads the new directory is configured with the input's
            // appendfilename: keep it unless told otherwise.
            let mut aof_out = a.aof_out;
            if aof_out.appendfilename.is_none() {
                aof_out.appendfilename = manifest.as_ref().and_then(|m| {
                    let name = m.file_name()?.to_str()?;
                    name.strip_suffix(".manifest").map(str::to_string)
                });
            }
            let opts = convert_opts(
                convert::To::Aof,
                &a.output,
                multi,
                &aof_out,
                &a.aof_in,
                Filter::default(),
                now,
                progress,
            )?;
            finish_convert(&a.input, &opts)
        }
        Cmd::Stats(a) if a.keyspace => {
            if a.file.as_os_str() == "-" {
                anyhow::bail!("--keyspace needs a file, not stdin");
            }
            let aof = is_aof_input(&a.file, a.aof)?;
            let profile = if a.profile == "7.2" {
                redkit::keyspace::Profile::Redis72
            } else {
                redkit::keyspace::Profile::Redis70
            };
            let cfg = redkit::keyspace::Config::for_profile(profile);
            let opts = redkit::replay::ReplayOptions {
                skip_errors: a.skip_errors,
                ..Default::default()
            };
            let st = keyspace_stats::run(&a.file, aof, cfg, &opts)
                .map_err(|e| anyhow::anyhow!("{}: {e}", a.file.display()))?;
            let mut out = std::io::stdout().lock();
            if a.json {
                writeln!(out, "{}", st.to_json())?;
            } else {
                out.write_all(st.render_text().as_bytes())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Stats(a) => {
            if a.file.as_os_str() != "-" && is_aof_input(&a.file, a.aof)? {
                let st = aof_stats::run(&a.file, a.top)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", a.file.display()))?;
                let mut out = std::io::stdout().lock();
                if a.json {
                    writeln!(out, "{}", st.to_json())?;
                } else {
                    out.write_all(st.render_text().as_bytes())?;
                }
                // Damage was reported above; like any bad input it also ends with one line on
                // stderr and exit code 1.
                if st.damaged {
                    let first = st.warnings.first().map(String::as_str).unwrap_or("damaged");
                    eprintln!("redkit: {}", first.replace('\n', "\\n"));
                }
                return Ok(if st.damaged {
                    ExitCode::from(1)
                } else {
                    ExitCode::SUCCESS
                });
            }
            let mut reader = open(&a.file)?;
            let st = stats::run(&mut reader, a.top, progress && !a.json)
                .map_err(|e| anyhow::anyhow!("{}: {e}", a.file.display()))?;
            let mut out = std::io::stdout().lock();
            if a.json {
                writeln!(out, "{}", st.to_json())?;
            } else {
                out.write_all(st.render_text().as_bytes())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::CheckAof(a) => {
            // Parsed like redis-check-aof (strtol, the whole argument): "" is 0, "12x" is not.
            let to_timestamp = match &a.truncate_to_timestamp {
                None => 0,
                Some(t) => match redkit_formats::cstr::strtol(t.as_bytes()) {
                    (v, end, false) if end == t.len() || t.is_empty() => v,
                    _ => {
                        println!("Invalid timestamp, aborting...");
                        return Ok(ExitCode::from(1));
                    }
                },
            };
            let opts = check_aof::CheckAofOpts {
                fix: a.fix,
                to_timestamp,
                yes: a.yes,
                backup: !a.no_backup,
                dry_run: a.dry_run,
                force: a.force,
                json: a.json,
                now_ms: now,
            };
            let mut out = std::io::stdout().lock();
            let mut answers = std::io::stdin().lock();
            let code = check_aof::Checker::new(&opts, &mut out, &mut answers).run(&a.path)?;
            Ok(ExitCode::from(code))
        }
        Cmd::Fix(a) => {
            let opts = fix::FixOpts {
                mode: match a.mode {
                    FixMode::Truncate => aof_repair::Mode::Truncate,
                    FixMode::Salvage => aof_repair::Mode::Salvage,
                },
                line_endings: a.line_endings,
                drop_flushall: a.drop_flushall,
                yes: a.yes,
                backup: !a.no_backup,
                dry_run: a.dry_run,
                json: a.json,
            };
            let mut out = std::io::stdout().lock();
            let mut answers = std::io::stdin().lock();
            let code = fix::Fixer::new(&opts, &mut out, &mut answers).run(&a.path)?;
            Ok(ExitCode::from(code))
        }
    }
}
