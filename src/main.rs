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
    aof_repair, aof_stats, check_aof, check_rdb, fix, json, keyspace_stats, stats,
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

/// Should `stats` read this path as an AOF?
fn is_aof_input(path: &Path, forced: bool) -> anyhow::Result<bool> {
    if forced {
        return Ok(true);
    }
    Ok(match redkit::aoffile::resolve(path)? {
        redkit::aoffile::Input::Manifest(_) => true,
        redkit::aoffile::Input::File(f) => {
            let data = redkit::aoffile::map(&f).with_context(|| format!("{}", f.display()))?;
            // An AOF Redis wrote starts with a command or a `#TS:` annotation; anything else
            // (an empty file, a bad header, a text file) goes to the RDB reader, which says
            // what is wrong with it. `--aof` overrides.
            if redkit::aoffile::is_rdb(&data) {
                f.extension().is_some_and(|e| e == "aof")
            } else {
                data.starts_with(b"#TS:")
                    || data.first() == Some(&b'*') && data.get(1).is_some_and(u8::is_ascii_digit)
            }
        }
    })
}

fn open(path: &Path) -> anyhow::Result<RdbReader> {
    RdbReader::open(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let now = cli.now.unwrap_or_else(redkit::now_ms);
    let progress = !cli.quiet;
    match cli.cmd {
        Cmd::Json(a) => {
            let f = &a.filter;
            let filter = Filter::new(
                f.dbs.clone(),
                f.key.as_deref(),
                f.not_key.as_deref(),
                &f.types,
                f.no_expired.then_some(now),
            )?;
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
