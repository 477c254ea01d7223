//! `redkit check-rdb`: what redis-check-rdb does, for every RDB version and both families.
//!
//! Every value is decoded with deep validation (Redis's `sanitize-dump-payload yes`): blob
//! headers against their entries, ziplist prevlen chains, sorted unique intsets, duplicate
//! members and fields, stream PEL consistency. Values are checked on all cores while one
//! thread frames the file and another computes the CRC.

use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use rayon::prelude::*;
use redkit_formats::rdb::consts::{kind_of, module_name, Kind};
use redkit_formats::rdb::read::{decode_value, Ctx, Item, Walker};
use redkit_formats::string::Str;
use serde_json::json;

use super::CountSink;
use crate::batch::{drive, DriveOpts, Event};
use crate::error::{Error, Result};
use crate::rdbfile::{Checksum, RdbReader};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbCounts {
    pub keys: u64,
    pub expires: u64,
    pub already_expired: u64,
}

/// Everything the check found, for the text and the JSON report.
#[derive(Debug, Default)]
pub struct CheckReport {
    pub version: String,
    /// Report lines for people, in file order (`[offset N] ...`).
    pub lines: Vec<String>,
    pub aux: Vec<(String, String)>,
    pub dbs: BTreeMap<u64, DbCounts>,
    pub keys: u64,
    pub expires: u64,
    pub already_expired: u64,
    pub empty_keys: u64,
    pub functions: u64,
    pub module_aux: u64,
    pub checksum: Option<Checksum>,
    pub trailing_bytes: u64,
    /// (db, key, offset) of keys seen twice in one db (`--dup-keys`).
    pub duplicates: Vec<(u64, Vec<u8>, u64)>,
    pub error: Option<Error>,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.error.is_none() && self.duplicates.is_empty()
    }

    pub fn to_json(&self) -> serde_json::Value {
        let dbs: serde_json::Map<String, serde_json::Value> = self
            .dbs
            .iter()
            .map(|(db, c)| {
                (
                    db.to_string(),
                    json!({"keys": c.keys, "expires": c.expires, "already_expired": c.already_expired}),
                )
            })
            .collect();
        let error = self.error.as_ref().map(|e| match e {
            Error::Format(f) => json!({
                "offset": f.offset,
                "doing": f.doing,
                "key": f.key.as_ref().map(|k| String::from_utf8_lossy(k).into_owned()),
                "message": e.to_string(),
            }),
            other => json!({"message": other.to_string()}),
        });
        json!({
            "ok": self.ok(),
            "version": self.version,
            "aux": self.aux.iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>(),
            "dbs": dbs,
            "keys": self.keys,
            "expires": self.expires,
            "already_expired": self.already_expired,
            "empty_keys": self.empty_keys,
            "functions": self.functions,
            "module_aux": self.module_aux,
            "checksum": match self.checksum {
                Some(Checksum::Ok(_)) => "ok",
                Some(Checksum::Disabled) => "disabled",
                Some(Checksum::Absent) => "absent",
                None => "unchecked",
            },
            "trailing_bytes": self.trailing_bytes,
            "duplicate_keys": self.duplicates.iter().map(|(db, k, off)| json!({
                "db": db, "key": String::from_utf8_lossy(k), "offset": off})).collect::<Vec<_>>(),
            "error": error,
        })
    }
}

pub struct CheckOpts {
    pub now_ms: i64,
    pub dup_keys: bool,
    pub progress: bool,
}

/// The fingerprints are already hashes: store them as they are.
#[derive(Default)]
struct IdHasher(u64);
impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, b: &[u8]) {
        for &c in b {
            self.0 = (self.0 << 8) | u64::from(c);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

fn fingerprint(db: u64, key: &[u8]) -> u64 {
    // FNV-1a over the db number and the key; 64 bits make a false duplicate in a file of n keys
    // about n^2 / 2^65 likely (1e-7 for 1M keys).
    let mut h: u64 = 0xcbf29ce484222325 ^ db.wrapping_mul(0x9e3779b97f4a7c15);
    for &c in key {
        h ^= u64::from(c);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// Check a file. Never fails itself: problems end up in `report.error`.
pub fn run(
    path_for_display: &str,
    open: impl FnOnce() -> Result<RdbReader>,
    opts: &CheckOpts,
) -> CheckReport {
    let mut report = CheckReport::default();
    report
        .lines
        .push(format!("[offset 0] Checking RDB file {path_for_display}"));
    let mut reader = match open() {
        Ok(r) => r,
        Err(e) => {
            report.error = Some(e);
            return report;
        }
    };
    report.version = reader.header().display();
    report.lines.push(format!(
        "[offset 0] RDB version {} ({})",
        reader.header().version,
        report.version
    ));
    let ctx = Ctx::new(reader.header(), true);
    let mut seen: HashSet<u64, BuildHasherDefault<IdHasher>> = HashSet::default();
    let res = {
        let report = &mut report;
        let mut counts: BTreeMap<u64, DbCounts> = BTreeMap::new();
        let mut dups = Vec::new();
        let r = drive(
            &mut reader,
            &DriveOpts {
                progress: opts.progress,
            },
            |k, key| {
                let c = counts.entry(k.db).or_default();
                c.keys += 1;
                if let Some(e) = k.expire_ms {
                    c.expires += 1;
                    if e < opts.now_ms {
                        c.already_expired += 1;
                    }
                }
                if opts.dup_keys && !seen.insert(fingerprint(k.db, key)) {
                    dups.push((k.db, key.to_vec(), k.key_offset));
                }
                true
            },
            |ev| {
                match ev {
                    Event::Keys(keys) => {
                        let results: Vec<(u64, Option<Error>)> = keys
                            .par_chunks(64)
                            .map_init(Walker::default, |w, ks| {
                                let mut empty = 0;
                                for k in ks {
                                    let mut c = CountSink::default();
                                    if let Err(e) = decode_value(&ctx, w, &k.rec, &mut c) {
                                        return (empty, Some(Error::Format(e)));
                                    }
                                    let aggregate = matches!(
                                        kind_of(k.rec.rdb_type),
                                        Some(Kind::List | Kind::Set | Kind::Zset | Kind::Hash)
                                    );
                                    if aggregate && c.0 == 0 {
                                        empty += 1;
                                    }
                                }
                                (empty, None)
                            })
                            .collect();
                        for (empty, err) in results {
                            report.empty_keys += empty;
                            if let Some(e) = err {
                                return Err(e);
                            }
                        }
                    }
                    Event::Item(f) => {
                        let at = f.start;
                        let text = |s: &Str<'_>| -> String {
                            s.to_vec(at)
                                .map(|v| String::from_utf8_lossy(&v).into_owned())
                                .unwrap_or_else(|e| format!("<{e}>"))
                        };
                        match &f.item {
                            Item::Aux { name, value } => {
                                let (n, v) = (text(name), text(value));
                                report.lines.push(format!(
                                    "[offset {at}] AUX FIELD {} = '{}'",
                                    redkit_formats::escape_key(n.as_bytes()),
                                    redkit_formats::escape_key(v.as_bytes())
                                ));
                                report.aux.push((n, v));
                            }
                            Item::SelectDb(db) => report
                                .lines
                                .push(format!("[offset {at}] Selecting DB ID {db}")),
                            Item::Function { .. } | Item::FunctionPreGa { .. } => {
                                report.functions += 1;
                                report.lines.push(format!("[offset {at}] Function library"));
                            }
                            Item::ModuleAux { module_id, .. } => {
                                report.module_aux += 1;
                                let (name, ver) = module_name(*module_id);
                                report.lines.push(format!(
                                    "[offset {at}] Module aux data of module '{name}' (version {ver})"
                                ));
                            }
                            _ => {}
                        }
                    }
                }
                Ok(())
            },
        );
        report.dbs = counts;
        report.duplicates = dups;
        r
    };
    for c in report.dbs.values() {
        report.keys += c.keys;
        report.expires += c.expires;
        report.already_expired += c.already_expired;
    }
    match res {
        Err(e) => report.error = Some(e),
        Ok(()) => {
            if let Some(t) = reader.trailer() {
                report.checksum = Some(t.checksum);
                report.trailing_bytes = t.trailing_bytes;
                let at = t.eof_offset;
                report.lines.push(match t.checksum {
                    Checksum::Ok(_) => format!("[offset {at}] Checksum OK"),
                    Checksum::Disabled => {
                        format!("[offset {at}] Checksum disabled by the writer (stored as 0)")
                    }
                    Checksum::Absent => {
                        format!("[offset {at}] No checksum (RDB version before 5)")
                    }
                });
                if t.trailing_bytes > 0 {
                    report.lines.push(format!(
                        "[offset {}] warning: {} bytes after the end of the RDB (ignored; a diskless transfer leaves such a trailer)",
                        at + 9, t.trailing_bytes
                    ));
                }
            }
        }
    }
    for (db, k, off) in &report.duplicates {
        report.lines.push(format!(
            "[offset {off}] duplicate key '{}' in db {db}",
            redkit_formats::escape_key(k)
        ));
    }
    report
}

/// The text report, redis-check-rdb style.
pub fn render_text(r: &CheckReport) -> String {
    let mut s = String::new();
    for l in &r.lines {
        s.push_str(l);
        s.push('\n');
    }
    if let Some(e) = &r.error {
        s.push_str("--- RDB ERROR DETECTED ---\n");
        s.push_str(&e.to_string());
        s.push('\n');
    } else if !r.duplicates.is_empty() {
        s.push_str(&format!(
            "--- {} DUPLICATE KEYS (Redis refuses to load this file) ---\n",
            r.duplicates.len()
        ));
    } else {
        s.push_str("\\o/ RDB looks OK! \\o/\n");
    }
    for (db, c) in &r.dbs {
        s.push_str(&format!(
            "[info] db {db}: {} keys, {} expires, {} already expired\n",
            c.keys, c.expires, c.already_expired
        ));
    }
    s.push_str(&format!("[info] {} keys read\n", r.keys));
    s.push_str(&format!("[info] {} expires\n", r.expires));
    s.push_str(&format!("[info] {} already expired\n", r.already_expired));
    if r.empty_keys > 0 {
        s.push_str(&format!(
            "[info] {} empty keys (Redis skips them on load)\n",
            r.empty_keys
        ));
    }
    s
}
