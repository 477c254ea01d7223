//! The stream type: entries ordered by id, consumer groups with their pending entries lists.
//!
//! Entries are kept exactly as Redis keeps them: a map from a node's master id to one listpack
//! ("node") in Redis's stream listpack layout. A node opens with a master entry (live count,
//! deleted count, the field names of the node's first entry, a 0 terminator); each entry is
//! `flags, ms-delta, seq-delta, [num-fields, field...] value..., lp-count`, the field names
//! left out (SAMEFIELDS flag) when they match the master entry. Deleting an entry only flags
//! it; a node goes away when its last live entry does. Keeping the layout costs what Redis pays
//! in memory, lets the RDB writer emit nodes as they are, and makes XINFO's radix-tree numbers
//! and the approximate (`~`) trims, which work on whole nodes, come out as in Redis.
//!
//! Groups are in name order (Redis keeps them in a radix tree: byte order). A pending entry
//! names its consumer; each consumer keeps the set of ids it owns.

use std::collections::{BTreeMap, BTreeSet};

use redkit_formats::listpack::parse_canonical_i64;
pub use redkit_formats::rdb::read::StreamId;
use redkit_formats::rdb::read::{Group as RdbGroup, Sink, StreamMeta};
use redkit_formats::Elem;

use super::{Config, Lp, SStr, Value};

pub const ID_MIN: StreamId = StreamId { ms: 0, seq: 0 };
pub const ID_MAX: StreamId = StreamId {
    ms: u64::MAX,
    seq: u64::MAX,
};
/// A group whose read counter is unknown (Redis's `SCG_INVALID_ENTRIES_READ`).
pub const ENTRIES_READ_INVALID: i64 = -1;

const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;
/// Largest node listpack (and largest entry) Redis allows: 1 GiB.
const LISTPACK_MAX: usize = 1 << 30;

/// The id after `id`, `None` past the last possible id.
pub fn id_incr(id: StreamId) -> Option<StreamId> {
    if id.seq == u64::MAX {
        if id.ms == u64::MAX {
            return None;
        }
        Some(StreamId {
            ms: id.ms + 1,
            seq: 0,
        })
    } else {
        Some(StreamId {
            ms: id.ms,
            seq: id.seq + 1,
        })
    }
}

/// The id before `id`, `None` before 0-0.
pub fn id_decr(id: StreamId) -> Option<StreamId> {
    if id.seq == 0 {
        if id.ms == 0 {
            return None;
        }
        Some(StreamId {
            ms: id.ms - 1,
            seq: u64::MAX,
        })
    } else {
        Some(StreamId {
            ms: id.ms,
            seq: id.seq - 1,
        })
    }
}

/// `ms-seq` as replies show it.
pub fn id_bytes(id: StreamId) -> Vec<u8> {
    format!("{}-{}", id.ms, id.seq).into_bytes()
}

/// The 16-byte big-endian form used as node key in Redis's radix tree.
fn id_key(id: StreamId) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&id.ms.to_be_bytes());
    k[8..].copy_from_slice(&id.seq.to_be_bytes());
    k
}

/// An entry read out of a node.
#[derive(Debug, Clone)]
pub struct EntryRef<'a> {
    pub id: StreamId,
    pub deleted: bool,
    /// Fields and values, alternating.
    pub fv: Vec<Elem<'a>>,
    flags: i64,
    flags_pos: usize,
}

impl EntryRef<'_> {
    /// Fields and values as owned byte strings, alternating.
    pub fn fv_owned(&self) -> Vec<Vec<u8>> {
        self.fv.iter().map(|e| e.to_vec()).collect()
    }
}

fn int_of(e: Elem<'_>) -> i64 {
    match e {
        Elem::Int(i) => i,
        Elem::Bytes(b) => parse_canonical_i64(b).unwrap_or(0),
    }
}

/// The master entry of a node.
struct Head<'a> {
    count: i64,
    deleted: i64,
    /// Position of the deleted counter.
    deleted_pos: usize,
    fields: Vec<Elem<'a>>,
    /// Position of the first entry's flags.
    entries_pos: usize,
}

fn head(lp: &Lp) -> Option<Head<'_>> {
    let (c, p) = lp.next(lp.first())?;
    let deleted_pos = p;
    let (d, p) = lp.next(p)?;
    let (n, mut p) = lp.next(p)?;
    let n = int_of(n).max(0) as usize;
    let mut fields = Vec::with_capacity(n.min(256));
    for _ in 0..n {
        let (f, np) = lp.next(p)?;
        fields.push(f);
        p = np;
    }
    let (_, p) = lp.next(p)?; // master terminator
    Some(Head {
        count: int_of(c),
        deleted: int_of(d),
        deleted_pos,
        fields,
        entries_pos: p,
    })
}

/// Every entry of a node (deleted ones too), in id order.
fn node_entries(master: StreamId, lp: &Lp) -> Vec<EntryRef<'_>> {
    let mut out = Vec::new();
    let Some(h) = head(lp) else {
        return out;
    };
    let mut pos = h.entries_pos;
    while let Some((f, p)) = lp.next(pos) {
        let flags = int_of(f);
        let flags_pos = pos;
        let Some((ms, p)) = lp.next(p) else { break };
        let Some((seq, mut p)) = lp.next(p) else {
            break;
        };
        let id = StreamId {
            ms: master.ms.wrapping_add(int_of(ms) as u64),
            seq: master.seq.wrapping_add(int_of(seq) as u64),
        };
        let mut fv = Vec::new();
        if flags & FLAG_SAMEFIELDS != 0 {
            for &field in &h.fields {
                let Some((v, np)) = lp.next(p) else {
                    return out;
                };
                fv.push(field);
                fv.push(v);
                p = np;
            }
        } else {
            let Some((n, np)) = lp.next(p) else {
                return out;
            };
            p = np;
            for _ in 0..int_of(n).max(0) * 2 {
                let Some((e, np)) = lp.next(p) else {
                    return out;
                };
                fv.push(e);
                p = np;
            }
        }
        let Some((_, np)) = lp.next(p) else {
            return out;
        }; // lp-count
        pos = np;
        out.push(EntryRef {
            id,
            deleted: flags & FLAG_DELETED != 0,
            fv,
            flags,
            flags_pos,
        });
    }
    out
}

/// A pending (delivered, not acknowledged) entry of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nack {
    /// Unix ms of the last delivery.
    pub delivery_time: i64,
    pub delivery_count: u64,
    pub consumer: SStr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    pub seen_time: i64,
    /// Redis 7.2's active-time; -1 when unknown (7.0 does not track it).
    pub active_time: i64,
    /// The ids this consumer owns in the group PEL.
    pub pel: BTreeSet<StreamId>,
}

impl Consumer {
    pub fn new(now_ms: i64) -> Consumer {
        Consumer {
            seen_time: now_ms,
            active_time: -1,
            pel: BTreeSet::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub last_id: StreamId,
    /// Logical read counter, or [`ENTRIES_READ_INVALID`].
    pub entries_read: i64,
    pub pel: BTreeMap<StreamId, Nack>,
    pub consumers: BTreeMap<SStr, Consumer>,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    /// Remove `id` from the PEL and from its consumer's list; the removed entry.
    pub fn remove_pending(&mut self, id: StreamId) -> Option<Nack> {
        let n = self.pel.remove(&id)?;
        if let Some(c) = self.consumers.get_mut(n.consumer.as_bytes()) {
            c.pel.remove(&id);
        }
        Some(n)
    }
}

/// Why an append failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendError {
    /// The id is not above the stream's last id (or its sequence is exhausted).
    IdTooSmall,
    /// The fields and values together exceed what a node can hold.
    TooLarge,
    /// `ms-*` with the stream's last id at `ms-<max>`. Redis then reports whatever `errno`
    /// holds, which in practice gives the "too large" message.
    SeqExhausted,
}

/// How to trim (XADD/XTRIM options).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrimStrategy {
    None,
    MaxLen(u64),
    MinId(StreamId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrimArgs {
    pub strategy: TrimStrategy,
    /// Remove whole nodes only.
    pub approx: bool,
    /// Most entries to remove, 0 for no limit.
    pub limit: i64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stream {
    /// Nodes by master id (Redis's radix tree keys).
    pub nodes: BTreeMap<StreamId, Lp>,
    /// Live entries.
    pub length: u64,
    pub last_id: StreamId,
    /// First live entry as recorded (0-0 when empty).
    pub first_id: StreamId,
    pub max_deleted_id: StreamId,
    pub entries_added: u64,
    pub groups: BTreeMap<SStr, Group>,
}

impl Stream {
    pub fn new() -> Stream {
        Stream::default()
    }

    pub fn len(&self) -> usize {
        self.length as usize
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    pub fn encoding(&self) -> &'static str {
        "stream"
    }

    /// Add an entry. `use_id` is an explicit id and whether its sequence was given (`ms-*`
    /// leaves it to the stream); `None` generates one from `now_ms`. Node limits are Redis's
    /// `stream-node-max-bytes` / `-entries`.
    pub fn append(
        &mut self,
        fv: &[&[u8]],
        use_id: Option<(StreamId, bool)>,
        now_ms: i64,
        cfg: &Config,
    ) -> Result<StreamId, AppendError> {
        let id = match use_id {
            Some((id, true)) => id,
            Some((id, false)) => {
                if self.last_id.ms == id.ms {
                    if self.last_id.seq == u64::MAX {
                        return Err(AppendError::SeqExhausted);
                    }
                    StreamId {
                        ms: id.ms,
                        seq: self.last_id.seq + 1,
                    }
                } else {
                    id
                }
            }
            None => {
                let ms = now_ms.max(0) as u64;
                if ms > self.last_id.ms {
                    StreamId { ms, seq: 0 }
                } else {
                    id_incr(self.last_id).unwrap_or(ID_MIN)
                }
            }
        };
        if id <= self.last_id {
            return Err(AppendError::IdTooSmall);
        }
        let total: usize = fv.iter().map(|b| b.len()).sum();
        if total > LISTPACK_MAX {
            return Err(AppendError::TooLarge);
        }
        self.push_entry(
            id,
            fv.iter().map(|b| Elem::Bytes(b)),
            fv.len() / 2,
            total,
            cfg,
        );
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
        if self.length == 1 {
            self.first_id = id;
        }
        Ok(id)
    }

    /// Pack one entry into the tail node, or a new node when the tail is full (by bytes or
    /// entries, deleted ones included), as Redis does. Counters are the caller's.
    fn push_entry<'a>(
        &mut self,
        id: StreamId,
        fv: impl Iterator<Item = Elem<'a>> + Clone,
        numfields: usize,
        total_len: usize,
        cfg: &Config,
    ) {
        let mut max_bytes = cfg.stream_node_max_bytes;
        if max_bytes == 0 || max_bytes > LISTPACK_MAX {
            max_bytes = LISTPACK_MAX;
        }
        let mut tail = None;
        if let Some((&k, lp)) = self.nodes.last_key_value() {
            let full = lp.bytes_len() + total_len >= max_bytes
                || (cfg.stream_node_max_entries != 0
                    && head(lp).is_some_and(|h| {
                        h.count + h.deleted >= cfg.stream_node_max_entries as i64
                    }));
            if !full {
                tail = Some(k);
            }
        }
        let (master, mut flags) = match tail {
            Some(k) => (k, 0),
            None => {
                let mut lp = Lp::new();
                lp.push_back(Elem::Int(0)); // count, raised below
                lp.push_back(Elem::Int(0));
                lp.push_back(Elem::Int(numfields as i64));
                for f in fv.clone().step_by(2) {
                    lp.push_back(f);
                }
                lp.push_back(Elem::Int(0));
                self.nodes.insert(id, lp);
                (id, FLAG_SAMEFIELDS)
            }
        };
        let Some(lp) = self.nodes.get_mut(&master) else {
            return;
        };
        if tail.is_some() {
            if let Some(h) = head(lp) {
                let same = h.fields.len() == numfields
                    && h.fields
                        .iter()
                        .zip(fv.clone().step_by(2))
                        .all(|(a, b)| elem_same(*a, b));
                if same {
                    flags = FLAG_SAMEFIELDS;
                }
            }
        }
        let count = lp.next(lp.first()).map(|(c, _)| int_of(c)).unwrap_or(0);
        let first = lp.first();
        lp.replace(first, Elem::Int(count + 1));
        lp.push_back(Elem::Int(flags));
        lp.push_back(Elem::Int(id.ms.wrapping_sub(master.ms) as i64));
        lp.push_back(Elem::Int(id.seq.wrapping_sub(master.seq) as i64));
        let same = flags & FLAG_SAMEFIELDS != 0;
        if !same {
            lp.push_back(Elem::Int(numfields as i64));
        }
        for (i, e) in fv.enumerate() {
            if !same || i % 2 == 1 {
                lp.push_back(e);
            }
        }
        let mut lp_count = numfields as i64 + 3;
        if !same {
            lp_count += numfields as i64 + 1;
        }
        lp.push_back(Elem::Int(lp_count));
    }

    /// Visit entries with `start <= id <= end`, forward or backward; `f` returns false to stop.
    pub fn for_range<'a>(
        &'a self,
        start: StreamId,
        end: StreamId,
        rev: bool,
        skip_tombstones: bool,
        mut f: impl FnMut(&EntryRef<'a>) -> bool,
    ) {
        if !rev {
            let from = self.nodes.range(..=start).next_back().map(|(k, _)| *k);
            let iter = match from {
                Some(k) => self.nodes.range(k..),
                None => self.nodes.range(..),
            };
            for (m, lp) in iter {
                if *m > end {
                    return;
                }
                for e in node_entries(*m, lp) {
                    if e.id < start || (skip_tombstones && e.deleted) {
                        continue;
                    }
                    if e.id > end || !f(&e) {
                        return;
                    }
                }
            }
        } else {
            for (m, lp) in self.nodes.range(..=end).rev() {
                for e in node_entries(*m, lp).iter().rev() {
                    if e.id > end || (skip_tombstones && e.deleted) {
                        continue;
                    }
                    if e.id < start || !f(e) {
                        return;
                    }
                }
            }
        }
    }

    /// Live entries in a range as (id, fields and values), at most `count` (0: all).
    pub fn range(
        &self,
        start: StreamId,
        end: StreamId,
        rev: bool,
        count: usize,
    ) -> Vec<(StreamId, Vec<Vec<u8>>)> {
        let mut out = Vec::new();
        self.for_range(start, end, rev, true, |e| {
            out.push((e.id, e.fv_owned()));
            count == 0 || out.len() < count
        });
        out
    }

    /// The live entry `id`.
    pub fn get(&self, id: StreamId) -> Option<Vec<Vec<u8>>> {
        let mut found = None;
        self.for_range(id, id, false, true, |e| {
            found = Some(e.fv_owned());
            false
        });
        found
    }

    pub fn exists(&self, id: StreamId) -> bool {
        self.get(id).is_some()
    }

    /// Flag entry `id` deleted; drop its node when it was the node's last live entry.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((&master, lp)) = self.nodes.range_mut(..=id).next_back() else {
            return false;
        };
        let Some((flags_pos, flags)) = node_entries(master, lp)
            .into_iter()
            .find(|e| e.id == id && !e.deleted)
            .map(|e| (e.flags_pos, e.flags))
        else {
            return false;
        };
        self.length -= 1;
        let Some(h) = head(lp) else { return true };
        let (count, deleted, dpos) = (h.count, h.deleted, h.deleted_pos);
        if count <= 1 {
            self.nodes.remove(&master);
            return true;
        }
        // Later positions first: earlier ones stay valid.
        lp.replace(flags_pos, Elem::Int(flags | FLAG_DELETED));
        lp.replace(dpos, Elem::Int(deleted + 1));
        let first = lp.first();
        lp.replace(first, Elem::Int(count - 1));
        true
    }

    /// The first (or last) entry id, tombstones included or not; when there is none, the
    /// largest id for `first` and 0-0 for last (Redis's `streamGetEdgeID`).
    pub fn edge_id(&self, first: bool, skip_tombstones: bool) -> StreamId {
        let mut found = None;
        self.for_range(ID_MIN, ID_MAX, !first, skip_tombstones, |e| {
            found = Some(e.id);
            false
        });
        found.unwrap_or(if first { ID_MAX } else { ID_MIN })
    }

    /// The last live id (0-0 when empty).
    pub fn last_valid_id(&self) -> StreamId {
        self.edge_id(false, true)
    }

    /// Remove entries from the head per `args`; returns how many (Redis's `streamTrim`).
    pub fn trim(&mut self, args: &TrimArgs) -> u64 {
        if args.strategy == TrimStrategy::None {
            return 0;
        }
        let mut deleted: u64 = 0;
        let keys: Vec<StreamId> = self.nodes.keys().copied().collect();
        for master in keys {
            if let TrimStrategy::MaxLen(max) = args.strategy {
                if self.length <= max {
                    break;
                }
            }
            let Some(lp) = self.nodes.get_mut(&master) else {
                continue;
            };
            let Some(h) = head(lp) else { break };
            let entries = h.count.max(0) as u64;
            let (hdeleted, dpos) = (h.deleted, h.deleted_pos);
            if args.limit != 0 && (deleted + entries) as i64 > args.limit {
                break;
            }
            let all = node_entries(master, lp);
            let remove_node = match args.strategy {
                TrimStrategy::MaxLen(max) => self.length - entries >= max,
                TrimStrategy::MinId(min) => all.last().is_some_and(|e| e.id < min),
                TrimStrategy::None => false,
            };
            if remove_node {
                self.nodes.remove(&master);
                self.length -= entries;
                deleted += entries;
                continue;
            }
            if args.approx {
                break;
            }
            let mut marks = Vec::new();
            let mut length = self.length;
            for e in &all {
                let stop = match args.strategy {
                    TrimStrategy::MaxLen(max) => length <= max,
                    TrimStrategy::MinId(min) => e.id >= min,
                    TrimStrategy::None => true,
                };
                if stop {
                    break;
                }
                if !e.deleted {
                    marks.push((e.flags_pos, e.flags | FLAG_DELETED));
                    length -= 1;
                }
            }
            let n = marks.len() as i64;
            drop(all);
            for (pos, fl) in marks.into_iter().rev() {
                lp.replace(pos, Elem::Int(fl));
            }
            lp.replace(dpos, Elem::Int(hdeleted + n));
            let first = lp.first();
            lp.replace(first, Elem::Int(entries as i64 - n));
            self.length = length;
            deleted += n as u64;
            break;
        }
        if self.length == 0 {
            self.first_id = ID_MIN;
        } else if deleted > 0 {
            self.first_id = self.edge_id(true, true);
        }
        deleted
    }

    /// Does `[start, end]` (open ends: `None`) hold a deleted entry, as far as the metadata
    /// tells (Redis's `streamRangeHasTombstones`)?
    pub fn range_has_tombstones(&self, start: Option<StreamId>, end: Option<StreamId>) -> bool {
        if self.length == 0 || self.max_deleted_id == ID_MIN {
            return false;
        }
        if self.first_id > self.max_deleted_id {
            return false;
        }
        let s = start.unwrap_or(ID_MIN);
        let e = end.unwrap_or(ID_MAX);
        s <= self.max_deleted_id && self.max_deleted_id <= e
    }

    /// The logical read counter of `id`: how many entries were added up to it, when the
    /// metadata can tell; [`ENTRIES_READ_INVALID`] otherwise.
    pub fn estimate_distance(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        if self.length == 0 && id <= self.last_id {
            return self.entries_added as i64;
        }
        if id == self.last_id {
            return self.entries_added as i64;
        } else if id > self.last_id {
            return ENTRIES_READ_INVALID;
        }
        if self.max_deleted_id == ID_MIN || self.max_deleted_id < self.first_id {
            if id < self.first_id {
                return (self.entries_added - self.length) as i64;
            } else if id == self.first_id {
                return (self.entries_added - self.length + 1) as i64;
            }
        }
        ENTRIES_READ_INVALID
    }

    /// A group's lag (entries not yet delivered), `None` when unknown.
    pub fn lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != ENTRIES_READ_INVALID
            && !self.range_has_tombstones(Some(g.last_id), None)
        {
            return Some(self.entries_added as i64 - g.entries_read);
        }
        let r = self.estimate_distance(g.last_id);
        (r != ENTRIES_READ_INVALID).then(|| self.entries_added as i64 - r)
    }

    /// Move a group's last delivered id forward to `id` (an entry just delivered), keeping its
    /// read counter as Redis does.
    pub fn advance_group(&mut self, group: &[u8], id: StreamId) {
        let tomb = self.range_has_tombstones(Some(id), None);
        let est = self.estimate_distance(id);
        let added = self.entries_added;
        let Some(g) = self.groups.get_mut(group) else {
            return;
        };
        if id <= g.last_id {
            return;
        }
        if g.entries_read != ENTRIES_READ_INVALID && !tomb {
            g.entries_read += 1;
        } else if added != 0 {
            g.entries_read = est;
        }
        g.last_id = id;
    }

    /// XINFO's `radix-tree-keys` and `radix-tree-nodes`: the node count, and how many nodes
    /// Redis's radix tree has for these keys (a compressed trie: the root, every branching
    /// point, every child of a branching point and every key).
    pub fn rax_stats(&self) -> (usize, usize) {
        let keys: Vec<[u8; 16]> = self.nodes.keys().map(|&k| id_key(k)).collect();
        (keys.len(), rax_nodes(&keys))
    }
}

/// Node count of a Redis radix tree holding `keys` (sorted, all 16 bytes).
fn rax_nodes(keys: &[[u8; 16]]) -> usize {
    let mut set: BTreeSet<&[u8]> = BTreeSet::new();
    set.insert(&[]);
    for k in keys {
        set.insert(&k[..]);
    }
    for w in keys.windows(2) {
        let l = w[0].iter().zip(&w[1]).take_while(|(a, b)| a == b).count();
        if l >= 16 {
            continue;
        }
        set.insert(&w[0][..l]);
        set.insert(&w[0][..l + 1]);
        set.insert(&w[1][..l + 1]);
    }
    set.len()
}

fn elem_same(a: Elem<'_>, b: Elem<'_>) -> bool {
    match b {
        Elem::Bytes(bb) => super::lp::elem_eq(a, bb),
        Elem::Int(i) => super::lp::elem_eq(a, i.to_string().as_bytes()),
    }
}

/// Builds a stream from the RDB reader's callbacks. Node listpacks are adopted as they are
/// (their master id recovered from the first live entry); a node that cannot be adopted is
/// rebuilt by appending its entries.
pub struct Loader {
    s: Stream,
    cfg: Config,
    /// The node listpack announced just before its entries.
    blob: Option<Vec<u8>>,
    /// The entries now arriving belong to an adopted node.
    adopted: bool,
    /// The file stored first id / entries read (RDB type 19 and later).
    v2: bool,
}

impl Loader {
    pub fn new(cfg: &Config) -> Loader {
        Loader {
            s: Stream::new(),
            cfg: cfg.clone(),
            blob: None,
            adopted: false,
            v2: false,
        }
    }

    /// The finished value. Unlike other types, an empty stream is kept (Redis keeps it: it may
    /// carry groups).
    pub fn finish(self, _cfg: &Config) -> Option<Value> {
        Some(Value::Stream(Box::new(self.s)))
    }

    fn adopt(&mut self, blob: Vec<u8>, id: StreamId) -> bool {
        let Some(lp) = Lp::from_blob(blob) else {
            return false;
        };
        let Some((msd, seqd)) = ({
            let probe = node_entries(ID_MIN, &lp);
            probe
                .iter()
                .find(|e| !e.deleted)
                .map(|e| (e.id.ms, e.id.seq))
        }) else {
            return false;
        };
        let master = StreamId {
            ms: id.ms.wrapping_sub(msd),
            seq: id.seq.wrapping_sub(seqd),
        };
        if self
            .s
            .nodes
            .last_key_value()
            .is_some_and(|(k, _)| *k >= master)
        {
            return false;
        }
        self.s.nodes.insert(master, lp);
        true
    }
}

impl Sink for Loader {
    fn blob(&mut self, _rdb_type: u8, bytes: &[u8]) {
        self.blob = Some(bytes.to_vec());
        self.adopted = false;
    }

    fn stream_entry(&mut self, id: StreamId, fields: &[(Elem<'_>, Elem<'_>)]) {
        if let Some(b) = self.blob.take() {
            self.adopted = self.adopt(b, id);
        }
        if !self.adopted {
            let fv: Vec<Elem<'_>> = fields.iter().flat_map(|(f, v)| [*f, *v]).collect();
            let total = fv.iter().map(|e| e.to_vec().len()).sum();
            let cfg = self.cfg.clone();
            self.s
                .push_entry(id, fv.iter().copied(), fields.len(), total, &cfg);
        }
        self.s.length += 1;
        self.s.last_id = self.s.last_id.max(id);
    }

    fn stream_meta(&mut self, m: &StreamMeta) {
        self.s.last_id = m.last_id;
        self.v2 = m.first_id.is_some();
        match m.first_id {
            Some(f) => self.s.first_id = f,
            None => {
                self.s.first_id = if self.s.length == 0 {
                    ID_MIN
                } else {
                    self.s.edge_id(true, true)
                }
            }
        }
        self.s.max_deleted_id = m.max_deleted_id.unwrap_or(ID_MIN);
        self.s.entries_added = m.entries_added.unwrap_or(self.s.length);
    }

    fn stream_group(&mut self, g: &RdbGroup) {
        let entries_read = match g.entries_read {
            Some(n) => n as i64,
            None if self.v2 => ENTRIES_READ_INVALID,
            None => self.s.estimate_distance(g.last_delivered_id),
        };
        let mut group = Group::new(g.last_delivered_id, entries_read);
        for c in &g.consumers {
            let mut cons = Consumer::new(c.seen_time_ms as i64);
            cons.active_time = c.active_time_ms.map_or(-1, |t| t as i64);
            group.consumers.insert(SStr::new(&c.name), cons);
        }
        for p in &g.pending {
            let Some(c) = p.consumer.and_then(|i| g.consumers.get(i)) else {
                continue;
            };
            group.pel.insert(
                p.id,
                Nack {
                    delivery_time: p.delivery_time_ms as i64,
                    delivery_count: p.delivery_count,
                    consumer: SStr::new(&c.name),
                },
            );
            if let Some(cons) = group.consumers.get_mut(&c.name[..]) {
                cons.pel.insert(p.id);
            }
        }
        self.s.groups.insert(SStr::new(&g.name), group);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    fn add(s: &mut Stream, i: StreamId, fv: &[&[u8]]) -> Result<StreamId, AppendError> {
        s.append(fv, Some((i, true)), 0, &Config::default())
    }

    #[test]
    fn id_generation_rules() {
        let cfg = Config::default();
        let mut s = Stream::new();
        assert_eq!(s.append(&[b"a", b"1"], None, 1000, &cfg), Ok(id(1000, 0)));
        // Clock behind or equal: same ms, next sequence.
        assert_eq!(s.append(&[b"a", b"1"], None, 999, &cfg), Ok(id(1000, 1)));
        assert_eq!(s.append(&[b"a", b"1"], None, 1001, &cfg), Ok(id(1001, 0)));
        // ms-* forms.
        assert_eq!(
            s.append(&[b"a", b"1"], Some((id(1001, 0), false)), 0, &cfg),
            Ok(id(1001, 1))
        );
        assert_eq!(
            s.append(&[b"a", b"1"], Some((id(2000, 0), false)), 0, &cfg),
            Ok(id(2000, 0))
        );
        assert_eq!(
            s.append(&[b"a", b"1"], Some((id(1500, 0), false)), 0, &cfg),
            Err(AppendError::IdTooSmall)
        );
        assert_eq!(
            add(&mut s, id(2000, 0), &[b"a", b"1"]),
            Err(AppendError::IdTooSmall)
        );
        assert_eq!(
            add(&mut s, id(2000, u64::MAX), &[b"a", b"1"]),
            Ok(id(2000, u64::MAX))
        );
        assert_eq!(
            s.append(&[b"a", b"1"], Some((id(2000, 0), false)), 0, &cfg),
            Err(AppendError::SeqExhausted)
        );
        assert_eq!(s.len(), 6);
        assert_eq!(s.entries_added, 6);
        assert_eq!(s.first_id, id(1000, 0));
        assert_eq!(id_incr(ID_MAX), None);
        assert_eq!(id_decr(ID_MIN), None);
        assert_eq!(id_incr(id(1, u64::MAX)), Some(id(2, 0)));
        assert_eq!(id_decr(id(2, 0)), Some(id(1, u64::MAX)));
    }

    #[test]
    fn nodes_fill_like_redis() {
        let mut s = Stream::new();
        for i in 1..=250 {
            add(&mut s, id(i, 0), &[b"f", b"v"]).unwrap();
        }
        assert_eq!(s.nodes.len(), 3);
        assert_eq!(s.rax_stats().0, 3);
        let r = s.range(ID_MIN, ID_MAX, false, 0);
        assert_eq!(r.len(), 250);
        assert_eq!(r[7].0, id(8, 0));
        assert_eq!(r[7].1, vec![b"f".to_vec(), b"v".to_vec()]);
        let r = s.range(id(100, 0), id(102, 0), true, 2);
        assert_eq!(
            r.iter().map(|e| e.0).collect::<Vec<_>>(),
            vec![id(102, 0), id(101, 0)]
        );
        // Different fields are stored with their names.
        add(&mut s, id(300, 0), &[b"x", b"1", b"y", b"2"]).unwrap();
        assert_eq!(
            s.get(id(300, 0)).unwrap(),
            vec![b"x".to_vec(), b"1".to_vec(), b"y".to_vec(), b"2".to_vec()]
        );
    }

    #[test]
    fn delete_and_trim() {
        let mut s = Stream::new();
        for i in 1..=250 {
            add(&mut s, id(i, 0), &[b"f", b"v"]).unwrap();
        }
        assert!(s.delete(id(1, 0)));
        assert!(!s.delete(id(1, 0)));
        assert_eq!(s.len(), 249);
        // Approximate: only whole nodes (the first holds 99 live entries).
        let n = s.trim(&TrimArgs {
            strategy: TrimStrategy::MaxLen(200),
            approx: true,
            limit: 10000,
        });
        assert_eq!(n, 0);
        let n = s.trim(&TrimArgs {
            strategy: TrimStrategy::MaxLen(150),
            approx: true,
            limit: 10000,
        });
        assert_eq!(n, 99);
        assert_eq!(s.nodes.len(), 2);
        assert_eq!(s.first_id, id(101, 0));
        // Exact: flags entries inside the first node.
        let n = s.trim(&TrimArgs {
            strategy: TrimStrategy::MinId(id(120, 0)),
            approx: false,
            limit: 0,
        });
        assert_eq!(n, 19);
        assert_eq!(s.first_id, id(120, 0));
        assert_eq!(s.edge_id(true, false), id(101, 0));
        assert_eq!(s.len(), 131);
        let n = s.trim(&TrimArgs {
            strategy: TrimStrategy::MaxLen(0),
            approx: false,
            limit: 0,
        });
        assert_eq!(n, 131);
        assert!(s.nodes.is_empty());
        assert_eq!(s.first_id, ID_MIN);
        assert_eq!(s.rax_stats(), (0, 1));
    }

    #[test]
    fn radix_node_counts() {
        let mut s = Stream::new();
        add(&mut s, id(1, 0), &[b"f", b"v"]).unwrap();
        assert_eq!(s.rax_stats(), (1, 2));
    }

    #[test]
    fn loader_adopts_nodes() {
        let mut s = Stream::new();
        for i in 1..=150 {
            add(&mut s, id(i, 0), &[b"f", b"v"]).unwrap();
        }
        s.delete(id(1, 0));
        let mut l = Loader::new(&Config::default());
        for (m, lp) in &s.nodes {
            l.blob(21, lp.as_bytes());
            for e in node_entries(*m, lp).iter().filter(|e| !e.deleted) {
                let pairs: Vec<(Elem, Elem)> = e.fv.chunks(2).map(|c| (c[0], c[1])).collect();
                l.stream_entry(e.id, &pairs);
            }
        }
        l.stream_meta(&StreamMeta {
            length: 149,
            last_id: id(150, 0),
            first_id: Some(id(2, 0)),
            max_deleted_id: Some(id(1, 0)),
            entries_added: Some(150),
        });
        let Some(Value::Stream(t)) = l.finish(&Config::default()) else {
            panic!()
        };
        assert_eq!(t.nodes, s.nodes);
        assert_eq!(t.len(), 149);
    }
}
