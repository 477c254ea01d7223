//! Key filters shared by the tools: `--db`, `--key`, `--not-key`, `--type`, `--no-expired`.

use redkit_formats::rdb::consts::{kind_of, Kind};
use redkit_formats::rdb::read::KeyRecord;
use regex::bytes::Regex;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub dbs: Vec<u64>,
    pub key: Option<Regex>,
    pub not_key: Option<Regex>,
    pub kinds: Vec<Kind>,
    /// Drop keys whose expiry is at or before this time (unix ms).
    pub expired_before: Option<i64>,
}

impl Filter {
    /// Build from CLI values. Regexes match the key's bytes anywhere (use ^...$ to anchor).
    pub fn new(
        dbs: Vec<u64>,
        key: Option<&str>,
        not_key: Option<&str>,
        types: &[String],
        no_expired_now: Option<i64>,
    ) -> Result<Self> {
        let re = |s: Option<&str>| -> Result<Option<Regex>> {
            s.map(|s| Regex::new(s).map_err(|e| Error::Usage(format!("bad regex '{s}': {e}"))))
                .transpose()
        };
        let mut kinds = Vec::new();
        for t in types {
            for t in t.split(',').filter(|t| !t.is_empty()) {
                kinds.push(Kind::from_name(t).ok_or_else(|| {
                    Error::Usage(format!(
                        "unknown type '{t}' (expected string, list, set, zset, hash, stream or module)"
                    ))
                })?);
            }
        }
        Ok(Filter {
            dbs,
            key: re(key)?,
            not_key: re(not_key)?,
            kinds,
            expired_before: no_expired_now,
        })
    }

    pub fn keep(&self, k: &KeyRecord<'_>, key: &[u8]) -> bool {
        self.keep_parts(k.db, kind_of(k.rdb_type), k.expire_ms, key)
    }

    /// The same test on a key's parts (for keys that come from the keyspace, not a file).
    pub fn keep_parts(
        &self,
        db: u64,
        kind: Option<Kind>,
        expire_ms: Option<i64>,
        key: &[u8],
    ) -> bool {
        if !self.dbs.is_empty() && !self.dbs.contains(&db) {
            return false;
        }
        if !self.kinds.is_empty() && !kind.is_some_and(|t| self.kinds.contains(&t)) {
            return false;
        }
        if let (Some(now), Some(exp)) = (self.expired_before, expire_ms) {
            if exp <= now {
                return false;
            }
        }
        if let Some(r) = &self.key {
            if !r.is_match(key) {
                return false;
            }
        }
        if let Some(r) = &self.not_key {
            if r.is_match(key) {
                return false;
            }
        }
        true
    }
}
