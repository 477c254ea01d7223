//! `redkit stats`: what an RDB file holds, per db and per type and encoding, and its biggest
//! keys by serialized size and by element count.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use rayon::prelude::*;
use redkit_formats::rdb::consts::{kind_of, module_name, Kind};
use redkit_formats::rdb::read::{decode_value, Ctx, Item, Walker};
use serde_json::json;

use super::json::value_encoding;
use super::CountSink;
use crate::batch::{drive, DriveOpts, Event};
use crate::error::Result;
use crate::rdbfile::RdbReader;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub keys: u64,
    pub expires: u64,
    /// Serialized bytes of the records (prefixes, type, key and value).
    pub bytes: u64,
    pub elements: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.keys += o.keys;
        self.expires += o.expires;
        self.bytes += o.bytes;
        self.elements += o.elements;
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct BigKey {
    pub db: u64,
    pub key: Vec<u8>,
    pub kind: &'static str,
    pub encoding: &'static str,
    pub bytes: u64,
    pub elements: u64,
}

#[derive(Debug, Default)]
pub struct Stats {
    pub version: String,
    pub file_bytes: u64,
    pub aux: Vec<(String, String)>,
    pub functions: Vec<String>,
    pub module_aux: Vec<String>,
    /// db -> (type, encoding) -> counts
    pub dbs: BTreeMap<u64, BTreeMap<(&'static str, &'static str), Counts>>,
    pub by_bytes: Vec<BigKey>,
    pub by_elements: Vec<BigKey>,
}

/// Gather statistics; `top` is how many biggest keys to keep by each measure.
pub fn run(reader: &mut RdbReader, top: usize, progress: bool) -> Result<Stats> {
    let ctx = Ctx::new(reader.header(), false);
    let family = ctx.family;
    let mut st = Stats {
        version: reader.header().display(),
        ..Stats::default()
    };
    let mut heap_b: BinaryHeap<Reverse<(u64, BigKey)>> = BinaryHeap::new();
    let mut heap_e: BinaryHeap<Reverse<(u64, BigKey)>> = BinaryHeap::new();
    let push = |h: &mut BinaryHeap<Reverse<(u64, BigKey)>>, m: u64, k: &BigKey| {
        if top == 0 {
            return;
        }
        if h.len() < top {
            h.push(Reverse((m, k.clone())));
        } else if h.peek().is_some_and(|Reverse((min, _))| m > *min) {
            h.pop();
            h.push(Reverse((m, k.clone())));
        }
    };
    drive(
        reader,
        &DriveOpts { progress },
        |_, _| true,
        |ev| {
            match ev {
                Event::Keys(keys) => {
                    let per: Vec<Result<Vec<(BigKey, bool)>>> = keys
                        .par_chunks(128)
                        .map_init(Walker::default, |w, ks| {
                            let mut v = Vec::with_capacity(ks.len());
                            for k in ks {
                                let mut c = CountSink::default();
                                decode_value(&ctx, w, &k.rec, &mut c)?;
                                let kind = kind_of(k.rec.rdb_type).unwrap_or(Kind::Module);
                                v.push((
                                    BigKey {
                                        db: k.rec.db,
                                        key: k.key.to_vec(),
                                        kind: kind.name(),
                                        encoding: value_encoding(&k.rec, family),
                                        bytes: k.record_len(),
                                        elements: c.0,
                                    },
                                    k.rec.expire_ms.is_some(),
                                ));
                            }
                            Ok(v)
                        })
                        .collect();
                    for part in per {
                        for (k, exp) in part? {
                            let c = st
                                .dbs
                                .entry(k.db)
                                .or_default()
                                .entry((k.kind, k.encoding))
                                .or_default();
                            c.keys += 1;
                            c.expires += u64::from(exp);
                            c.bytes += k.bytes;
                            c.elements += k.elements;
                            push(&mut heap_b, k.bytes, &k);
                            push(&mut heap_e, k.elements, &k);
                        }
                    }
                }
                Event::Item(f) => {
                    let s = |x: &redkit_formats::string::Str<'_>| {
                        x.to_vec(f.start)
                            .map(|v| String::from_utf8_lossy(&v).into_owned())
                            .unwrap_or_default()
                    };
                    match &f.item {
                        Item::Aux { name, value } => st.aux.push((s(name), s(value))),
                        Item::Function { code } => st.functions.push(library_name(&s(code))),
                        Item::FunctionPreGa { name, .. } => st.functions.push(s(name)),
                        Item::ModuleAux { module_id, .. } => {
                            st.module_aux.push(module_name(*module_id).0)
                        }
                        _ => {}
                    }
                }
            }
            Ok(())
        },
    )?;
    st.file_bytes = reader.offset();
    let sorted = |h: BinaryHeap<Reverse<(u64, BigKey)>>| {
        let v: Vec<BigKey> = h.into_iter().map(|Reverse((_, k))| k).collect();
        v
    };
    st.by_bytes = sorted(heap_b);
    st.by_bytes
        .sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.key.cmp(&b.key)));
    st.by_elements = sorted(heap_e);
    st.by_elements
        .sort_by(|a, b| b.elements.cmp(&a.elements).then(a.key.cmp(&b.key)));
    Ok(st)
}

/// The library name from a function payload's shebang line (`#!lua name=mylib`).
fn library_name(code: &str) -> String {
    let first = code.lines().next().unwrap_or("");
    first
        .split_whitespace()
        .find_map(|w| w.strip_prefix("name="))
        .unwrap_or("?")
        .to_string()
}

fn big_json(k: &BigKey) -> serde_json::Value {
    json!({"db": k.db, "key": String::from_utf8_lossy(&k.key), "type": k.kind,
           "encoding": k.encoding, "bytes": k.bytes, "elements": k.elements})
}

impl Stats {
    pub fn totals(&self) -> Counts {
        let mut t = Counts::default();
        for m in self.dbs.values() {
            for c in m.values() {
                t.add(c);
            }
        }
        t
    }

    pub fn to_json(&self) -> serde_json::Value {
        let dbs: serde_json::Map<String, serde_json::Value> = self
            .dbs
            .iter()
            .map(|(db, m)| {
                let mut tot = Counts::default();
                let rows: Vec<_> = m
                    .iter()
                    .map(|((t, e), c)| {
                        tot.add(c);
                        json!({"type": t, "encoding": e, "keys": c.keys, "expires": c.expires,
                               "bytes": c.bytes, "elements": c.elements})
                    })
                    .collect();
                (
                    db.to_string(),
                    json!({"keys": tot.keys, "expires": tot.expires, "bytes": tot.bytes,
                           "elements": tot.elements, "by_type": rows}),
                )
            })
            .collect();
        let t = self.totals();
        json!({
            "version": self.version,
            "file_bytes": self.file_bytes,
            "keys": t.keys, "expires": t.expires, "bytes": t.bytes, "elements": t.elements,
            "aux": self.aux.iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>(),
            "functions": self.functions,
            "module_aux": self.module_aux,
            "dbs": dbs,
            "biggest_by_bytes": self.by_bytes.iter().map(big_json).collect::<Vec<_>>(),
            "biggest_by_elements": self.by_elements.iter().map(big_json).collect::<Vec<_>>(),
        })
    }

    pub fn render_text(&self) -> String {
        let mut s = String::new();
        let t = self.totals();
        s.push_str(&format!(
            "{}  {} bytes  {} keys  {} with expiry\n",
            self.version, self.file_bytes, t.keys, t.expires
        ));
        for (k, v) in &self.aux {
            s.push_str(&format!("aux {k} = {v}\n"));
        }
        for f in &self.functions {
            s.push_str(&format!("function library {f}\n"));
        }
        for m in &self.module_aux {
            s.push_str(&format!("module aux data {m}\n"));
        }
        for (db, m) in &self.dbs {
            s.push_str(&format!(
                "\ndb {db}\n  {:<8} {:<20} {:>10} {:>10} {:>14} {:>12}\n",
                "type", "encoding", "keys", "expires", "bytes", "elements"
            ));
            for ((ty, enc), c) in m {
                s.push_str(&format!(
                    "  {:<8} {:<20} {:>10} {:>10} {:>14} {:>12}\n",
                    ty, enc, c.keys, c.expires, c.bytes, c.elements
                ));
            }
        }
        let list = |s: &mut String, title: &str, v: &[BigKey]| {
            if v.is_empty() {
                return;
            }
            s.push_str(&format!("\n{title}\n"));
            for k in v {
                s.push_str(&format!(
                    "  db {:<3} {:<7} {:<18} {:>12} bytes {:>10} elements  {}\n",
                    k.db,
                    k.kind,
                    k.encoding,
                    k.bytes,
                    k.elements,
                    redkit_formats::escape_key(&k.key)
                ));
            }
        };
        list(&mut s, "biggest keys by serialized size", &self.by_bytes);
        list(&mut s, "biggest keys by element count", &self.by_elements);
        s
    }
}
