//! `redkit stats --keyspace`: load the input into the in-memory keyspace (RDB by the parallel
//! loader, AOF by replay) and summarise it: keys and expiries per db, types and the encodings
//! `OBJECT ENCODING` would report, load time and the process's memory.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use crate::cmd::Executor;
use crate::keyspace::load::{load_rdb, LoadOptions};
use crate::keyspace::{Config, Keyspace};
use crate::replay::{replay, ReplayOptions, ReplayReport};
use crate::{aoffile, Error, Result};

#[derive(Debug, Default)]
pub struct KeyspaceStats {
    /// (db, keys, keys with an expiry) for non-empty dbs.
    pub dbs: Vec<(usize, usize, usize)>,
    /// type -> encoding -> keys.
    pub types: BTreeMap<&'static str, BTreeMap<&'static str, u64>>,
    pub functions: usize,
    pub load_seconds: f64,
    /// Resident memory after the load (VmRSS and its anonymous part, bytes), Linux only.
    pub rss: Option<u64>,
    pub rss_anon: Option<u64>,
    pub replay: Option<ReplayReport>,
}

/// Load `path` (an RDB, or an AOF when `aof` is set) and summarise the keyspace.
pub fn run(path: &Path, aof: bool, cfg: Config, opts: &ReplayOptions) -> Result<KeyspaceStats> {
    let t0 = Instant::now();
    let mut ex = Executor::new(Keyspace::new(cfg));
    let mut st = KeyspaceStats::default();
    if aof {
        st.replay = Some(replay(path, &mut ex, opts)?);
    } else {
        let data = aoffile::map(path).map_err(|e| Error::io(path, e))?;
        load_rdb(&data, &mut ex.ks, &LoadOptions::default())?;
    }
    st.load_seconds = t0.elapsed().as_secs_f64();
    let (rss, anon) = memory();
    st.rss = rss;
    st.rss_anon = anon;
    summarise(&ex.ks, &mut st);
    // Freeing millions of values one by one only delays the exit; the process is about to end.
    std::mem::forget(ex);
    Ok(st)
}

fn summarise(ks: &Keyspace, st: &mut KeyspaceStats) {
    for (i, db) in ks.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        st.dbs.push((i, db.len(), db.expires()));
        for e in db.map.values() {
            *st.types
                .entry(e.value.type_name())
                .or_default()
                .entry(e.value.encoding())
                .or_default() += 1;
        }
    }
    st.functions = ks.functions.len();
}

/// VmRSS and RssAnon of this process in bytes.
pub fn memory() -> (Option<u64>, Option<u64>) {
    let Ok(s) = std::fs::read_to_string("/proc/self/status") else {
        return (None, None);
    };
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    (field("VmRSS:"), field("RssAnon:"))
}

impl KeyspaceStats {
    pub fn render_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "keyspace:");
        for (db, keys, expires) in &self.dbs {
            let _ = writeln!(s, "  db{db}: keys={keys} expires={expires}");
        }
        for (t, encs) in &self.types {
            let total: u64 = encs.values().sum();
            let parts: Vec<String> = encs.iter().map(|(e, n)| format!("{e} {n}")).collect();
            let _ = writeln!(s, "  {t}: {total} ({})", parts.join(", "));
        }
        if self.functions > 0 {
            let _ = writeln!(s, "  function libraries: {}", self.functions);
        }
        if let Some(r) = &self.replay {
            let _ = writeln!(
                s,
                "  replayed {} commands from {} file(s){}",
                r.commands,
                r.files.len(),
                if r.skipped_errors > 0 {
                    format!(", {} failing commands skipped", r.skipped_errors)
                } else {
                    String::new()
                }
            );
            for w in &r.warnings {
                let _ = writeln!(s, "  warning: {w}");
            }
        }
        let _ = writeln!(s, "  load time: {:.2} s", self.load_seconds);
        if let (Some(rss), Some(anon)) = (self.rss, self.rss_anon) {
            let _ = writeln!(
                s,
                "  memory: rss {} bytes ({:.1} MiB), anonymous {} bytes ({:.1} MiB)",
                rss,
                rss as f64 / 1048576.0,
                anon,
                anon as f64 / 1048576.0
            );
        }
        s
    }

    pub fn to_json(&self) -> String {
        let dbs: Vec<serde_json::Value> = self
            .dbs
            .iter()
            .map(|(db, k, e)| serde_json::json!({"db": db, "keys": k, "expires": e}))
            .collect();
        let mut v = serde_json::json!({
            "dbs": dbs,
            "types": self.types,
            "functions": self.functions,
            "load_seconds": self.load_seconds,
            "rss_bytes": self.rss,
            "rss_anon_bytes": self.rss_anon,
        });
        if let Some(r) = &self.replay {
            v["replay"] = serde_json::json!({
                "commands": r.commands,
                "files": r.files.iter().map(|f| f.path.display().to_string()).collect::<Vec<_>>(),
                "skipped_errors": r.skipped_errors,
                "warnings": r.warnings,
            });
        }
        v.to_string()
    }
}
