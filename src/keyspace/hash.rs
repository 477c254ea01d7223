//! Hash values, encoded as Redis encodes them:
//!
//! - `listpack`: one [`Lp`] of field, value, field, value... while the hash has at most
//!   `hash-max-listpack-entries` fields and no argument longer than `hash-max-listpack-value`
//!   was written to it (Redis 7.0 `t_hash.c` rules; it never converts back);
//! - `listpackex` (Redis 7.4): one [`Lp`] of field, value, expiry triples once a small hash has
//!   been given field expiries. The expiry is absolute unix ms, 0 meaning none, and triples are
//!   kept in expiry order with the fields without expiry last, as 7.4 keeps them;
//! - `hashtable`: a map of [`SStr`] to [`SStr`], plus a second map of field expiries that exists
//!   only while some field has one.
//!
//! Field expiries exist so Redis 7.4 files (RDB types 22-25, HPEXPIREAT in AOFs) load and
//! round-trip; expired fields are hidden or deleted by the commands (`crate::cmd::t_hash`).

use std::borrow::Cow;

use super::FastMap;

use redkit_formats::rdb::read::Sink;
use redkit_formats::Elem;

use super::lp::Lp;
use super::{Config, SStr, Value};

/// Redis refuses to grow a listpack past 1 GiB (`LISTPACK_MAX_SAFETY_SIZE`) and converts instead.
const LP_SAFETY_SIZE: usize = 1 << 30;

/// The expiry a `listpackex` stores for a field without one.
const LP_NO_TTL: i64 = 0;

#[derive(Debug, Clone, PartialEq)]
pub struct Hash {
    repr: Repr,
}

#[derive(Debug, Clone, PartialEq)]
enum Repr {
    /// Field, value pairs.
    Lp(Lp),
    /// Field, value, expiry triples, ordered by expiry (0 = none, last).
    LpEx(Lp),
    Table(Box<Table>),
}

#[derive(Debug, Clone, PartialEq, Default)]
struct Table {
    map: FastMap<SStr, SStr>,
    /// Field expiries in absolute ms; empty (no allocation) while no field has one.
    ttl: FastMap<SStr, i64>,
}

impl Default for Hash {
    fn default() -> Self {
        Hash::new()
    }
}

/// The integer a listpackex stores as a field's expiry (written by us or validated on load).
fn ttl_of_elem(e: Elem<'_>) -> i64 {
    match e {
        Elem::Int(i) => i,
        Elem::Bytes(b) => redkit_formats::listpack::parse_canonical_i64(b).unwrap_or(LP_NO_TTL),
    }
}

fn opt_ttl(t: i64) -> Option<i64> {
    (t != LP_NO_TTL).then_some(t)
}

impl Hash {
    pub fn new() -> Hash {
        Hash {
            repr: Repr::Lp(Lp::new()),
        }
    }

    /// Number of fields, expired ones included (what `HLEN` answers in 7.4).
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Lp(lp) => lp.len() / 2,
            Repr::LpEx(lp) => lp.len() / 3,
            Repr::Table(t) => t.map.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What `OBJECT ENCODING` answers.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Lp(_) => "listpack",
            Repr::LpEx(_) => "listpackex",
            Repr::Table(_) => "hashtable",
        }
    }

    /// Does some field have an expiry? (An RDB writer then needs types 24/25.)
    pub fn has_field_ttls(&self) -> bool {
        match &self.repr {
            Repr::Lp(_) => false,
            Repr::LpEx(lp) => lp
                .iter()
                .skip(2)
                .step_by(3)
                .any(|e| ttl_of_elem(e) != LP_NO_TTL),
            Repr::Table(t) => !t.ttl.is_empty(),
        }
    }

    /// The listpack of a small hash and its tuple size (2: field, value; 3: with expiry), as an
    /// RDB writer stores it (types 16 and 25).
    pub fn listpack(&self) -> Option<(&Lp, usize)> {
        match &self.repr {
            Repr::Lp(lp) => Some((lp, 2)),
            Repr::LpEx(lp) => Some((lp, 3)),
            Repr::Table(_) => None,
        }
    }

    /// Every field with its value and expiry, in storage order.
    pub fn iter(&self) -> Iter<'_> {
        match &self.repr {
            Repr::Lp(lp) => Iter::Lp {
                lp,
                pos: lp.first(),
                ex: false,
            },
            Repr::LpEx(lp) => Iter::Lp {
                lp,
                pos: lp.first(),
                ex: true,
            },
            Repr::Table(t) => Iter::Table {
                it: t.map.iter(),
                ttl: &t.ttl,
            },
        }
    }

    /// The position of `field`'s entry in a listpack repr.
    fn lp_find(lp: &Lp, field: &[u8], stride: usize) -> Option<usize> {
        lp.find(field, stride)
    }

    /// The value of `field` and its expiry, expired or not.
    pub fn get(&self, field: &[u8]) -> Option<(Elem<'_>, Option<i64>)> {
        match &self.repr {
            Repr::Lp(lp) => {
                let f = Self::lp_find(lp, field, 2)?;
                let (_, v) = lp.next(f)?;
                Some((lp.next(v)?.0, None))
            }
            Repr::LpEx(lp) => {
                let f = Self::lp_find(lp, field, 3)?;
                let (_, v) = lp.next(f)?;
                let (val, t) = lp.next(v)?;
                Some((val, opt_ttl(ttl_of_elem(lp.next(t)?.0))))
            }
            Repr::Table(t) => {
                let v = t.map.get(field)?;
                let ttl = t.ttl.get(field).copied();
                Some((Elem::Bytes(v), ttl))
            }
        }
    }

    /// `Some(expiry)` if `field` exists (expired or not), `None` if not.
    pub fn field_ttl(&self, field: &[u8]) -> Option<Option<i64>> {
        self.get(field).map(|(_, t)| t)
    }

    /// Convert to a hash table (never back).
    pub fn convert_to_table(&mut self) {
        if matches!(self.repr, Repr::Table(_)) {
            return;
        }
        let mut t = Table {
            map: FastMap::with_capacity_and_hasher(self.len(), Default::default()),
            ttl: FastMap::default(),
        };
        for (f, v, ttl) in self.iter() {
            let f = SStr::from_elem(f);
            if let Some(x) = ttl {
                t.ttl.insert(f.clone(), x);
            }
            t.map.insert(f, SStr::from_elem(v));
        }
        self.repr = Repr::Table(Box::new(t));
    }

    /// Redis's `hashTypeTryConversion` (7.0): before writing `args` (fields and values), convert
    /// a listpack when one of them is longer than `hash-max-listpack-value` or the listpack would
    /// pass its safety size.
    pub fn try_conversion(&mut self, args: &[&[u8]], cfg: &Config) {
        let bytes = match &self.repr {
            Repr::Lp(lp) | Repr::LpEx(lp) => lp.bytes_len(),
            Repr::Table(_) => return,
        };
        let mut sum = 0usize;
        for a in args {
            if a.len() > cfg.hash_max_listpack_value {
                self.convert_to_table();
                return;
            }
            sum = sum.saturating_add(a.len());
        }
        if bytes.saturating_add(sum) > LP_SAFETY_SIZE {
            self.convert_to_table();
        }
    }

    /// Redis's `hashTypeSet`: set `field` to `value`; true when the field existed (an update).
    /// An update drops the field's expiry unless `keep_ttl` (HINCRBY keeps it, HSET does not).
    pub fn set(&mut self, field: &[u8], value: &[u8], keep_ttl: bool, cfg: &Config) -> bool {
        if !matches!(self.repr, Repr::Table(_))
            && (field.len() > cfg.hash_max_listpack_value
                || value.len() > cfg.hash_max_listpack_value)
        {
            self.convert_to_table();
        }
        let updated = match &mut self.repr {
            Repr::Lp(lp) => match Self::lp_find(lp, field, 2) {
                Some(f) => {
                    if let Some((_, v)) = lp.next(f) {
                        lp.replace(v, Elem::Bytes(value));
                    }
                    true
                }
                None => {
                    lp.push_back(Elem::Bytes(field));
                    lp.push_back(Elem::Bytes(value));
                    false
                }
            },
            Repr::LpEx(lp) => match Self::lp_find(lp, field, 3) {
                Some(f) => {
                    let mut had_ttl = false;
                    if let Some((_, v)) = lp.next(f) {
                        let t = lp.replace(v, Elem::Bytes(value));
                        had_ttl = lp.next(t).is_some_and(|(e, _)| ttl_of_elem(e) != LP_NO_TTL);
                    }
                    if had_ttl && !keep_ttl {
                        // Without an expiry the field moves to the end, as in 7.4.
                        lp.delete(f, 3);
                        lpex_add(lp, Elem::Bytes(field), Elem::Bytes(value), LP_NO_TTL);
                    }
                    true
                }
                None => {
                    lpex_add(lp, Elem::Bytes(field), Elem::Bytes(value), LP_NO_TTL);
                    false
                }
            },
            Repr::Table(t) => {
                let old = t.map.insert(SStr::new(field), SStr::new(value));
                if old.is_some() && !keep_ttl {
                    t.remove_ttl(field);
                }
                old.is_some()
            }
        };
        if self.len() > cfg.hash_max_listpack_entries {
            self.convert_to_table();
        }
        updated
    }

    /// HSET of several pairs (`pairs` is flat: field, value, ...): the result of [`Hash::set`]
    /// on each pair in order, but a listpack is indexed once and rebuilt once instead of being
    /// searched for every field (an HSET of hundreds of fields was quadratic). Untouched entries
    /// are copied as they are, so the blob is byte-for-byte what the one-by-one edits make.
    /// Returns how many fields were created.
    pub fn set_many(&mut self, pairs: &[&[u8]], cfg: &Config) -> usize {
        let batch = matches!(self.repr, Repr::Lp(_))
            && pairs.len() >= 4
            && pairs.iter().all(|a| a.len() <= cfg.hash_max_listpack_value);
        if !batch {
            let mut created = 0;
            for pr in pairs.chunks_exact(2) {
                if !self.set(pr[0], pr[1], false, cfg) {
                    created += 1;
                }
            }
            return created;
        }
        let Repr::Lp(lp) = &self.repr else {
            return 0;
        };
        // An entry is either a byte range of the old blob or a new argument.
        #[derive(Clone, Copy)]
        enum Src<'a> {
            Old(usize, usize),
            New(&'a [u8]),
        }
        let mut items: Vec<(Src<'_>, Src<'_>)> = Vec::with_capacity(lp.len() / 2 + pairs.len() / 2);
        let mut index: FastMap<Cow<'_, [u8]>, usize> =
            FastMap::with_capacity_and_hasher(items.capacity(), Default::default());
        let mut pos = lp.first();
        while let Some((f, p2)) = lp.next(pos) {
            let Some((_, p3)) = lp.next(p2) else { break };
            let key = match f {
                Elem::Bytes(b) => Cow::Borrowed(b),
                Elem::Int(i) => Cow::Owned(i.to_string().into_bytes()),
            };
            // The first of duplicate fields is the one lookups find.
            index.entry(key).or_insert(items.len());
            items.push((Src::Old(pos, p2), Src::Old(p2, p3)));
            pos = p3;
        }
        let mut created = 0;
        for pr in pairs.chunks_exact(2) {
            match index.get(pr[0]) {
                Some(&i) => items[i].1 = Src::New(pr[1]),
                None => {
                    index.insert(Cow::Borrowed(pr[0]), items.len());
                    items.push((Src::New(pr[0]), Src::New(pr[1])));
                    created += 1;
                }
            }
        }
        let bytes = |s: Src<'_>| -> Vec<u8> {
            match s {
                Src::Old(a, _) => lp.next(a).map(|(e, _)| e.to_vec()).unwrap_or_default(),
                Src::New(b) => b.to_vec(),
            }
        };
        // HSET only grows a hash: past the limit at any point means a table at the end.
        let repr = if items.len() > cfg.hash_max_listpack_entries {
            let mut map = FastMap::with_capacity_and_hasher(items.len(), Default::default());
            for &(f, v) in &items {
                map.insert(SStr::from(bytes(f)), SStr::from(bytes(v)));
            }
            Repr::Table(Box::new(Table {
                map,
                ttl: FastMap::default(),
            }))
        } else {
            Repr::Lp(Lp::from_raw_entries(items.len() * 2, |out| {
                for &(f, v) in &items {
                    for s in [f, v] {
                        match s {
                            Src::Old(a, b) => out.extend_from_slice(lp.raw(a, b)),
                            Src::New(x) => {
                                redkit_formats::listpack::write_entry(out, Elem::Bytes(x))
                            }
                        }
                    }
                }
            }))
        };
        self.repr = repr;
        created
    }

    /// Delete `field`; true if it existed.
    pub fn delete(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Lp(lp) => match Self::lp_find(lp, field, 2) {
                Some(f) => {
                    lp.delete(f, 2);
                    true
                }
                None => false,
            },
            Repr::LpEx(lp) => match Self::lp_find(lp, field, 3) {
                Some(f) => {
                    lp.delete(f, 3);
                    true
                }
                None => false,
            },
            Repr::Table(t) => {
                let found = t.map.remove(field).is_some();
                if found {
                    t.remove_ttl(field);
                }
                found
            }
        }
    }

    /// Prepare for field expiries (Redis 7.4 `hashTypeSetExInit`): a plain listpack becomes a
    /// listpackex, even if no expiry ends up set.
    pub fn enable_field_ttls(&mut self) {
        if let Repr::Lp(lp) = &self.repr {
            let mut ex = Lp::new();
            let mut it = lp.iter();
            while let (Some(f), Some(v)) = (it.next(), it.next()) {
                ex.push_back(f);
                ex.push_back(v);
                ex.push_back(Elem::Int(LP_NO_TTL));
            }
            self.repr = Repr::LpEx(ex);
        }
    }

    /// Set (`Some`) or remove (`None`) the expiry of an existing field; false if there is no
    /// such field. A listpackex keeps its expiry order.
    pub fn set_field_ttl(&mut self, field: &[u8], when: Option<i64>) -> bool {
        if when.is_some() {
            self.enable_field_ttls();
        }
        match &mut self.repr {
            Repr::Lp(lp) => Self::lp_find(lp, field, 2).is_some(),
            Repr::LpEx(lp) => {
                let Some(f) = Self::lp_find(lp, field, 3) else {
                    return false;
                };
                let Some((fe, v)) = lp.next(f) else {
                    return false;
                };
                let Some((ve, _)) = lp.next(v) else {
                    return false;
                };
                let (fv, vv) = (fe.to_vec(), ve.to_vec());
                lp.delete(f, 3);
                lpex_add(
                    lp,
                    Elem::Bytes(&fv),
                    Elem::Bytes(&vv),
                    when.unwrap_or(LP_NO_TTL),
                );
                true
            }
            Repr::Table(t) => {
                if !t.map.contains_key(field) {
                    return false;
                }
                match when {
                    Some(w) => {
                        t.ttl.insert(SStr::new(field), w);
                    }
                    None => t.remove_ttl(field),
                }
                true
            }
        }
    }

    /// Delete every field whose expiry is before `now_ms`; returns their names.
    pub fn remove_expired(&mut self, now_ms: i64) -> Vec<Vec<u8>> {
        let gone: Vec<Vec<u8>> = match &self.repr {
            Repr::Lp(_) => return Vec::new(),
            Repr::Table(t) if t.ttl.is_empty() => return Vec::new(),
            _ => self
                .iter()
                .filter(|(_, _, t)| t.is_some_and(|t| t < now_ms))
                .map(|(f, _, _)| f.to_vec())
                .collect(),
        };
        for f in &gone {
            self.delete(f);
        }
        gone
    }

    /// Add a field known to be new, as a loader does (no conversion checks).
    fn push_new(&mut self, f: Elem<'_>, v: Elem<'_>, ttl: Option<i64>, in_order: bool) {
        if ttl.is_some() {
            self.enable_field_ttls();
        }
        match &mut self.repr {
            Repr::Lp(lp) => {
                lp.push_back(f);
                lp.push_back(v);
            }
            Repr::LpEx(lp) => {
                let t = ttl.unwrap_or(LP_NO_TTL);
                if in_order {
                    lp.push_back(f);
                    lp.push_back(v);
                    lp.push_back(Elem::Int(t));
                } else {
                    lpex_add(lp, f, v, t);
                }
            }
            Repr::Table(t) => {
                let f = SStr::from_elem(f);
                match ttl {
                    Some(x) => {
                        t.ttl.insert(f.clone(), x);
                    }
                    None if !t.ttl.is_empty() => t.remove_ttl(&f),
                    None => {}
                }
                t.map.insert(f, SStr::from_elem(v));
            }
        }
    }
}

impl Table {
    fn remove_ttl(&mut self, field: &[u8]) {
        if self.ttl.remove(field).is_some() && self.ttl.is_empty() {
            // Give the memory back: most hashes never have field expiries again.
            self.ttl = FastMap::default();
        }
    }
}

/// Insert a triple into a listpackex before the first triple whose expiry is none or not
/// earlier than `ttl` (fields without expiry go last), like 7.4's `listpackExAddInternal`.
fn lpex_add(lp: &mut Lp, f: Elem<'_>, v: Elem<'_>, ttl: i64) {
    let mut at = lp.end();
    if ttl != LP_NO_TTL {
        let mut pos = lp.first();
        while let Some((_, vpos)) = lp.next(pos) {
            let Some((_, tpos)) = lp.next(vpos) else {
                break;
            };
            let Some((te, next)) = lp.next(tpos) else {
                break;
            };
            let t = ttl_of_elem(te);
            if t == LP_NO_TTL || t >= ttl {
                at = pos;
                break;
            }
            pos = next;
        }
    }
    lp.insert(at, &[f, v, Elem::Int(ttl)]);
}

/// Iterator over (field, value, expiry).
pub enum Iter<'a> {
    Lp {
        lp: &'a Lp,
        pos: usize,
        ex: bool,
    },
    Table {
        it: std::collections::hash_map::Iter<'a, SStr, SStr>,
        ttl: &'a FastMap<SStr, i64>,
    },
}

impl<'a> Iterator for Iter<'a> {
    type Item = (Elem<'a>, Elem<'a>, Option<i64>);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Lp { lp, pos, ex } => {
                let (f, n) = lp.next(*pos)?;
                let (v, mut n) = lp.next(n)?;
                let mut ttl = None;
                if *ex {
                    let (t, n2) = lp.next(n)?;
                    ttl = opt_ttl(ttl_of_elem(t));
                    n = n2;
                }
                *pos = n;
                Some((f, v, ttl))
            }
            Iter::Table { it, ttl } => {
                let (f, v) = it.next()?;
                let t = ttl.get(f.as_bytes()).copied();
                Some((Elem::Bytes(f), Elem::Bytes(v), t))
            }
        }
    }
}

/// Builds a hash from the RDB reader's callbacks, ending with the encoding Redis 7.0 (7.4 for
/// field expiries) has after loading the same record:
/// - from a ziplist or listpack blob (types 13, 16, 23, 25): a listpack unless it has more than
///   `hash-max-listpack-entries` fields; long elements stay (Redis checks only the count);
/// - from a field list (types 4, 22, 24) or a zipmap (9): also a hash table as soon as a field or
///   value is longer than `hash-max-listpack-value`.
///
/// A listpackex blob keeps its order; fields loaded one by one are inserted in expiry order.
/// Duplicate fields (only in damaged files) keep the last value.
pub struct Loader {
    hash: Hash,
    max_entries: usize,
    max_value: usize,
    /// The blob type announced by `blob`, if the value is one.
    blob_type: Option<u8>,
}

impl Loader {
    pub fn new(cfg: &Config) -> Loader {
        Loader {
            hash: Hash::new(),
            max_entries: cfg.hash_max_listpack_entries,
            max_value: cfg.hash_max_listpack_value,
            blob_type: None,
        }
    }

    /// The finished value, or `None` when it is empty (Redis skips empty keys on load).
    pub fn finish(self, _cfg: &Config) -> Option<Value> {
        if self.hash.is_empty() {
            return None;
        }
        Some(Value::Hash(Box::new(self.hash)))
    }

    fn checks_lengths(&self) -> bool {
        !matches!(self.blob_type, Some(13 | 16 | 23 | 25))
    }
}

fn elem_len(e: Elem<'_>) -> usize {
    match e {
        Elem::Bytes(b) => b.len(),
        Elem::Int(i) => crate::cmd::util::i64_bytes(i).len(),
    }
}

impl Sink for Loader {
    /// A hash record announces its field count first: above the listpack limit Redis builds
    /// the hash table straight away, and so does this loader (no listpack to outgrow).
    fn len_hint(&mut self, n: u64) {
        if self.blob_type.is_none() && n > self.max_entries as u64 {
            self.hash.convert_to_table();
            if let Repr::Table(t) = &mut self.hash.repr {
                // The count is untrusted: reserve a bounded amount up front.
                t.map.reserve((n as usize).min(1 << 16));
            }
        }
    }

    fn blob(&mut self, rdb_type: u8, _bytes: &[u8]) {
        self.blob_type = Some(rdb_type);
        if matches!(rdb_type, 23 | 25) {
            self.hash.enable_field_ttls();
        }
    }

    fn hash_field(&mut self, f: Elem<'_>, v: Elem<'_>, expire_ms: Option<i64>) {
        let check = self.checks_lengths();
        let h = &mut self.hash;
        if !matches!(h.repr, Repr::Table(_)) {
            let too_long = check && (elem_len(f) > self.max_value || elem_len(v) > self.max_value);
            let lp_bytes = h.listpack().map_or(0, |(lp, _)| lp.bytes_len());
            if too_long
                || h.len() >= self.max_entries
                || lp_bytes.saturating_add(elem_len(f) + elem_len(v)) > LP_SAFETY_SIZE
            {
                h.convert_to_table();
            }
        }
        // Only a TTL-ordered listpack can meet a field twice here (a repeated field moves to
        // its TTL's place); a plain listpack is filled in file order without a lookup, which
        // keeps loading linear.
        if matches!(h.repr, Repr::LpEx(_)) {
            let fb = f.to_vec();
            if h.field_ttl(&fb).is_some() {
                h.delete(&fb);
            }
        }
        let in_order = matches!(self.blob_type, Some(23 | 25));
        h.push_new(f, v, expire_ms, in_order);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `set_many` must leave what `set` pair by pair leaves: same blob bytes, same count.
    #[test]
    fn set_many_equals_one_by_one() {
        let fields: [&[u8]; 8] = [
            b"a",
            b"6",
            b"07",
            b"-3",
            b"bb",
            b"x",
            b"12345",
            b"longfield",
        ];
        let values: [&[u8]; 5] = [b"1", b"v", b"", b"-0", b"99999999999"];
        let mut seed = 11u64;
        let mut next = |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize % n
        };
        for round in 0..2000 {
            let c = cfg([2usize, 5, 512][round % 3], [64usize, 4][round % 2]);
            let (mut one, mut many) = (Hash::new(), Hash::new());
            for _ in 0..4 {
                let n = 2 + next(5);
                let args: Vec<&[u8]> = (0..n)
                    .flat_map(|_| [fields[next(fields.len())], values[next(values.len())]])
                    .collect();
                // As HSET does: the size check first, then the pairs.
                one.try_conversion(&args, &c);
                many.try_conversion(&args, &c);
                let created = args
                    .chunks_exact(2)
                    .filter(|p| !one.set(p[0], p[1], false, &c))
                    .count();
                assert_eq!(many.set_many(&args, &c), created);
                assert_eq!(one.encoding(), many.encoding());
                match (one.listpack(), many.listpack()) {
                    (Some(x), Some(y)) => assert_eq!(x.0.as_bytes(), y.0.as_bytes()),
                    _ => {
                        let all = |h: &Hash| {
                            let mut v: Vec<_> =
                                h.iter().map(|(f, v, _)| (f.to_vec(), v.to_vec())).collect();
                            v.sort();
                            v
                        };
                        assert_eq!(all(&one), all(&many));
                    }
                }
            }
        }
    }

    fn cfg(entries: usize, value: usize) -> Config {
        Config {
            hash_max_listpack_entries: entries,
            hash_max_listpack_value: value,
            ..Config::default()
        }
    }

    fn fields(h: &Hash) -> Vec<(Vec<u8>, Vec<u8>, Option<i64>)> {
        h.iter()
            .map(|(f, v, t)| (f.to_vec(), v.to_vec(), t))
            .collect()
    }

    #[test]
    fn converts_past_the_entry_limit_and_never_back() {
        let c = cfg(4, 8);
        let mut h = Hash::new();
        for i in 0..4 {
            assert!(!h.set(format!("f{i}").as_bytes(), b"v", false, &c));
        }
        assert_eq!(h.encoding(), "listpack");
        assert!(h.set(b"f0", b"12", false, &c));
        assert_eq!(h.encoding(), "listpack");
        h.set(b"f4", b"v", false, &c);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 5);
        for i in 0..5 {
            h.delete(format!("f{i}").as_bytes());
        }
        assert!(h.is_empty());
        assert_eq!(h.encoding(), "hashtable");
    }

    #[test]
    fn long_values_convert_at_the_exact_threshold() {
        let c = cfg(512, 8);
        let mut h = Hash::new();
        h.try_conversion(&[b"f", &[b'x'; 8]], &c);
        h.set(b"f", &[b'x'; 8], false, &c);
        assert_eq!(h.encoding(), "listpack");
        h.try_conversion(&[b"g", &[b'x'; 9]], &c);
        assert_eq!(h.encoding(), "hashtable");
        let mut h = Hash::new();
        // The HINCRBY path: no try_conversion, set() checks on its own.
        h.set(&[b'f'; 9], b"1", false, &c);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(
            h.get(&[b'f'; 9]).map(|(v, _)| v.to_vec()),
            Some(b"1".to_vec())
        );
    }

    #[test]
    fn listpackex_keeps_expiry_order() {
        let c = cfg(512, 64);
        let mut h = Hash::new();
        for f in [b"a", b"b", b"c", b"d"] {
            h.set(f, b"1", false, &c);
        }
        h.enable_field_ttls();
        assert_eq!(h.encoding(), "listpackex");
        assert!(h.set_field_ttl(b"c", Some(300)));
        assert!(h.set_field_ttl(b"a", Some(100)));
        assert!(h.set_field_ttl(b"d", Some(200)));
        assert!(!h.set_field_ttl(b"zz", Some(5)));
        let order: Vec<_> = fields(&h).into_iter().map(|(f, _, t)| (f, t)).collect();
        assert_eq!(
            order,
            vec![
                (b"a".to_vec(), Some(100)),
                (b"d".to_vec(), Some(200)),
                (b"c".to_vec(), Some(300)),
                (b"b".to_vec(), None),
            ]
        );
        // HSET drops the expiry and moves the field last; HINCRBY-style keeps it.
        h.set(b"a", b"2", false, &c);
        assert_eq!(h.field_ttl(b"a"), Some(None));
        assert_eq!(fields(&h).last().map(|x| x.0.clone()), Some(b"a".to_vec()));
        h.set(b"d", b"3", true, &c);
        assert_eq!(
            h.get(b"d").map(|(v, t)| (v.to_vec(), t)),
            Some((b"3".to_vec(), Some(200)))
        );
        assert_eq!(h.remove_expired(250), vec![b"d".to_vec()]);
        h.convert_to_table();
        assert_eq!(h.field_ttl(b"c"), Some(Some(300)));
        assert!(h.has_field_ttls());
        assert!(h.set_field_ttl(b"c", None));
        assert!(!h.has_field_ttls());
    }

    #[test]
    fn loader_follows_the_rdb_type_rules() {
        let c = cfg(2, 4);
        // Field list (type 4): long value converts.
        let mut l = Loader::new(&c);
        l.hash_field(Elem::Bytes(b"f"), Elem::Bytes(b"long-value"), None);
        let Some(Value::Hash(h)) = l.finish(&c) else {
            panic!()
        };
        assert_eq!(h.encoding(), "hashtable");
        // Listpack blob (type 16): long value stays, count converts.
        let mut l = Loader::new(&c);
        l.blob(16, b"");
        l.hash_field(Elem::Bytes(b"f"), Elem::Bytes(b"long-value"), None);
        let Some(Value::Hash(h)) = l.finish(&c) else {
            panic!()
        };
        assert_eq!(h.encoding(), "listpack");
        let mut l = Loader::new(&c);
        l.blob(16, b"");
        for f in [b"a", b"b", b"c"] {
            l.hash_field(Elem::Bytes(f), Elem::Int(1), None);
        }
        let Some(Value::Hash(h)) = l.finish(&c) else {
            panic!()
        };
        assert_eq!(h.encoding(), "hashtable");
        assert!(Loader::new(&c).finish(&c).is_none());
        // Field expiries make a listpackex, ordered by expiry.
        let c = cfg(512, 64);
        let mut l = Loader::new(&c);
        l.hash_field(Elem::Bytes(b"x"), Elem::Bytes(b"1"), None);
        l.hash_field(Elem::Bytes(b"y"), Elem::Bytes(b"2"), Some(50));
        let Some(Value::Hash(h)) = l.finish(&c) else {
            panic!()
        };
        assert_eq!(h.encoding(), "listpackex");
        assert_eq!(
            fields(&h),
            vec![
                (b"y".to_vec(), b"2".to_vec(), Some(50)),
                (b"x".to_vec(), b"1".to_vec(), None)
            ]
        );
    }
}
