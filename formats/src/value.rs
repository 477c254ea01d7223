//! One key's value, decoded and held in memory: what the writers (RDB and AOF) re-encode.
//!
//! A [`ValueBuf`] is filled through the reader's [`Sink`] interface, so the same writer code works
//! on a value streamed out of an RDB file (`decode_value` into the buffer) and on a value of the
//! in-memory keyspace (fed element by element). It is reused from key to key (`start` clears it
//! and keeps the allocations), so converting a file holds at most one value at a time.
//!
//! Layout: every element (list element, set or zset member, hash field and hash value, stream
//! field and stream value) is a [`Slot`]: an integer kept as an integer (encodings store small
//! numbers in binary, and re-encoding them needs no parsing) or a span of one shared byte arena.
//! Scores, field expiries and stream entry headers live in parallel vectors.

use crate::rdb::consts::Kind;
use crate::rdb::read::{Group, Sink, StreamId, StreamMeta};
use crate::Elem;

/// One stored element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Int(i64),
    Bytes { start: usize, len: usize },
}

/// The string form of a stored element (an integer is formatted into `buf`).
fn slot_text<'a>(arena: &'a [u8], s: &Slot, buf: &'a mut [u8; 20]) -> &'a [u8] {
    match *s {
        Slot::Int(i) => crate::fmt_i64(i, buf),
        Slot::Bytes { start, len } => &arena[start..start + len],
    }
}

/// A stream entry: its id and where its field/value slots start (`2 * pairs` slots).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef {
    pub id: StreamId,
    pub first: usize,
    pub pairs: usize,
}

#[derive(Debug, Clone)]
pub struct ValueBuf {
    kind: Kind,
    arena: Vec<u8>,
    slots: Vec<Slot>,
    scores: Vec<f64>,
    /// One per hash field, only filled once some field has an expiry (then for all fields).
    field_ttls: Vec<Option<i64>>,
    fields: usize,
    entries: Vec<EntryRef>,
    meta: Option<StreamMeta>,
    groups: Vec<Group>,
    module_id: u64,
    /// Longest byte element seen (integers count as their decimal length), for encoding choices.
    max_len: usize,
}

impl Default for ValueBuf {
    fn default() -> Self {
        ValueBuf::new(Kind::String)
    }
}

fn dec_len(i: i64) -> usize {
    let mut n = if i < 0 { 2 } else { 1 };
    let mut v = i.unsigned_abs();
    while v >= 10 {
        v /= 10;
        n += 1;
    }
    n
}

impl ValueBuf {
    pub fn new(kind: Kind) -> Self {
        ValueBuf {
            kind,
            arena: Vec::new(),
            slots: Vec::new(),
            scores: Vec::new(),
            field_ttls: Vec::new(),
            fields: 0,
            entries: Vec::new(),
            meta: None,
            groups: Vec::new(),
            module_id: 0,
            max_len: 0,
        }
    }

    /// Clear the buffer for a new value of type `kind`, keeping the allocations.
    pub fn start(&mut self, kind: Kind) {
        self.kind = kind;
        self.arena.clear();
        self.slots.clear();
        self.scores.clear();
        self.field_ttls.clear();
        self.fields = 0;
        self.entries.clear();
        self.meta = None;
        self.groups.clear();
        self.module_id = 0;
        self.max_len = 0;
    }

    /// Put set members and hash fields in byte order (field expiries follow their fields).
    /// Hash-table encodings have no order of their own; writers sort them so the same data
    /// always gives the same file.
    pub fn sort_members(&mut self) {
        let arena = &self.arena;
        // Compare two elements as their string forms, without allocating.
        let cmp = |a: &Slot, b: &Slot| -> std::cmp::Ordering {
            let (mut x, mut y) = ([0u8; 20], [0u8; 20]);
            slot_text(arena, a, &mut x).cmp(slot_text(arena, b, &mut y))
        };
        match self.kind {
            Kind::Set => self.slots.sort_by(cmp),
            Kind::Hash => {
                let ttls = !self.field_ttls.is_empty();
                let mut order: Vec<usize> = (0..self.fields).collect();
                order.sort_by(|&a, &b| cmp(&self.slots[2 * a], &self.slots[2 * b]));
                let slots: Vec<Slot> = order
                    .iter()
                    .flat_map(|&i| [self.slots[2 * i], self.slots[2 * i + 1]])
                    .collect();
                if ttls {
                    self.field_ttls = order.iter().map(|&i| self.field_ttls[i]).collect();
                }
                self.slots = slots;
            }
            _ => {}
        }
    }

    /// Is this a value a server would hold? Members and fields unique, scores not NaN, field
    /// expiries in 1..2^48-1 ms, stream ids strictly increasing and not past the last id, every
    /// consumer's pending id in its group's PEL and every PEL owner a consumer. Values decoded
    /// from a file that passed the reader's checks are; values from other sources (JSON) must be
    /// checked before a writer makes a file a server refuses.
    pub fn check(&self) -> Result<(), String> {
        let text = |s: &Slot| -> Vec<u8> { slot_text(&self.arena, s, &mut [0u8; 20]).to_vec() };
        let unique = |slots: &mut dyn Iterator<Item = &Slot>, what: &str| -> Result<(), String> {
            let mut seen = std::collections::HashSet::new();
            for s in slots {
                let t = text(s);
                if !seen.insert(t.clone()) {
                    return Err(format!("duplicate {what} '{}'", crate::escape_key(&t)));
                }
            }
            Ok(())
        };
        match self.kind {
            Kind::Set => unique(&mut self.slots.iter(), "set member")?,
            Kind::Zset => {
                unique(&mut self.slots.iter(), "sorted set member")?;
                if self.scores.iter().any(|s| s.is_nan()) {
                    return Err("a sorted set score is NaN".into());
                }
            }
            Kind::Hash => {
                unique(&mut self.slots.iter().step_by(2), "hash field")?;
                const MAX: i64 = (1 << 48) - 1;
                if let Some(t) = self
                    .field_ttls
                    .iter()
                    .flatten()
                    .find(|t| !(1..=MAX).contains(*t))
                {
                    return Err(format!("hash field expiry {t} is outside 1..2^48-1 ms"));
                }
            }
            Kind::Stream => {
                if self.entries.windows(2).any(|w| w[0].id >= w[1].id) {
                    return Err("stream entry ids are not strictly increasing".into());
                }
                if let (Some(m), Some(e)) = (&self.meta, self.entries.last()) {
                    if e.id > m.last_id {
                        return Err(format!(
                            "stream entry {} is past the last id {}",
                            e.id, m.last_id
                        ));
                    }
                }
                for g in &self.groups {
                    let mut pel = std::collections::HashSet::new();
                    for p in &g.pending {
                        if !pel.insert(p.id) {
                            return Err(format!("group pending entry {} listed twice", p.id));
                        }
                        if p.consumer.is_some_and(|c| c >= g.consumers.len()) {
                            return Err(format!("pending entry {} has no consumer", p.id));
                        }
                    }
                    for c in &g.consumers {
                        if let Some(id) = c.pending.iter().find(|id| !pel.contains(*id)) {
                            return Err(format!(
                                "consumer '{}' owns {id}, which is not in its group's pending list",
                                crate::escape_key(&c.name)
                            ));
                        }
                    }
                }
            }
            Kind::String | Kind::List | Kind::Module => {}
        }
        Ok(())
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    fn push(&mut self, e: Elem<'_>) {
        match e {
            Elem::Int(i) => {
                self.max_len = self.max_len.max(dec_len(i));
                self.slots.push(Slot::Int(i));
            }
            Elem::Bytes(b) => {
                self.max_len = self.max_len.max(b.len());
                let start = self.arena.len();
                self.arena.extend_from_slice(b);
                self.slots.push(Slot::Bytes {
                    start,
                    len: b.len(),
                });
            }
        }
    }

    /// The element stored in `s`.
    #[inline]
    pub fn elem(&self, s: Slot) -> Elem<'_> {
        match s {
            Slot::Int(i) => Elem::Int(i),
            Slot::Bytes { start, len } => Elem::Bytes(&self.arena[start..start + len]),
        }
    }

    /// Number of logical elements: list elements, set/zset members, hash fields, stream
    /// entries (live ones); 1 for a string or module value.
    pub fn len(&self) -> usize {
        match self.kind {
            Kind::String | Kind::Module => 1,
            Kind::List | Kind::Set | Kind::Zset => self.slots.len(),
            Kind::Hash => self.fields,
            Kind::Stream => self.entries.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Longest element in bytes (decimal length for integers).
    pub fn max_elem_len(&self) -> usize {
        self.max_len
    }

    /// A string value's bytes (a module value's serialized bytes).
    pub fn string(&self) -> &[u8] {
        &self.arena
    }

    /// List elements or set members, in order.
    pub fn elems(&self) -> impl ExactSizeIterator<Item = Elem<'_>> + '_ {
        self.slots.iter().map(|s| self.elem(*s))
    }

    /// Sorted-set members with their scores, in the order they were fed.
    pub fn zset(&self) -> impl ExactSizeIterator<Item = (Elem<'_>, f64)> + '_ {
        self.slots
            .iter()
            .zip(self.scores.iter())
            .map(|(s, sc)| (self.elem(*s), *sc))
    }

    /// Hash fields: field, value, the field's absolute expiry in unix ms if it has one.
    pub fn hash(&self) -> impl ExactSizeIterator<Item = (Elem<'_>, Elem<'_>, Option<i64>)> + '_ {
        (0..self.fields).map(move |i| {
            (
                self.elem(self.slots[2 * i]),
                self.elem(self.slots[2 * i + 1]),
                self.field_ttls.get(i).copied().flatten(),
            )
        })
    }

    /// Does some hash field carry an expiry?
    pub fn has_field_ttls(&self) -> bool {
        !self.field_ttls.is_empty()
    }

    /// Stream entries (live ones), in id order as fed.
    pub fn entries(&self) -> &[EntryRef] {
        &self.entries
    }

    /// The field/value pairs of entry `e`.
    pub fn entry_fields(
        &self,
        e: &EntryRef,
    ) -> impl ExactSizeIterator<Item = (Elem<'_>, Elem<'_>)> + '_ {
        let first = e.first;
        (0..e.pairs).map(move |i| {
            (
                self.elem(self.slots[first + 2 * i]),
                self.elem(self.slots[first + 2 * i + 1]),
            )
        })
    }

    pub fn stream_meta(&self) -> Option<&StreamMeta> {
        self.meta.as_ref()
    }

    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// A module value: its 64-bit type id and serialized bytes.
    pub fn module(&self) -> (u64, &[u8]) {
        (self.module_id, &self.arena)
    }
}

impl Sink for ValueBuf {
    fn string(&mut self, v: &[u8]) {
        self.arena.clear();
        self.arena.extend_from_slice(v);
        self.max_len = v.len();
    }
    fn list_elem(&mut self, e: Elem<'_>) {
        self.push(e);
    }
    fn set_member(&mut self, e: Elem<'_>) {
        self.push(e);
    }
    fn zset_member(&mut self, m: Elem<'_>, score: f64) {
        self.push(m);
        self.scores.push(score);
    }
    fn hash_field(&mut self, f: Elem<'_>, v: Elem<'_>, expire_ms: Option<i64>) {
        self.push(f);
        self.push(v);
        // Expiries are recorded for every field once the first one has any.
        if expire_ms.is_some() || !self.field_ttls.is_empty() {
            self.field_ttls.resize(self.fields, None);
            self.field_ttls.push(expire_ms);
        }
        self.fields += 1;
    }
    fn stream_entry(&mut self, id: StreamId, fields: &[(Elem<'_>, Elem<'_>)]) {
        let first = self.slots.len();
        for (f, v) in fields {
            self.push(*f);
            self.push(*v);
        }
        self.entries.push(EntryRef {
            id,
            first,
            pairs: fields.len(),
        });
    }
    fn stream_meta(&mut self, m: &StreamMeta) {
        self.meta = Some(m.clone());
    }
    fn stream_group(&mut self, g: &Group) {
        self.groups.push(g.clone());
    }
    fn module(&mut self, module_id: u64, raw: &[u8]) {
        self.module_id = module_id;
        self.arena.clear();
        self.arena.extend_from_slice(raw);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_members_orders_by_string_form_and_keeps_ttls_with_fields() {
        let mut v = ValueBuf::new(Kind::Set);
        for e in [
            Elem::Bytes(b"b"),
            Elem::Int(10),
            Elem::Int(9),
            Elem::Bytes(b""),
        ] {
            v.set_member(e);
        }
        v.sort_members();
        let got: Vec<Vec<u8>> = v.elems().map(|e| e.to_vec()).collect();
        assert_eq!(
            got,
            vec![b"".to_vec(), b"10".to_vec(), b"9".to_vec(), b"b".to_vec()]
        );

        let mut h = ValueBuf::new(Kind::Hash);
        h.hash_field(Elem::Bytes(b"z"), Elem::Int(1), Some(7));
        h.hash_field(Elem::Int(5), Elem::Bytes(b"v"), None);
        h.hash_field(Elem::Bytes(b"a"), Elem::Bytes(b"w"), Some(3));
        h.sort_members();
        let got: Vec<(Vec<u8>, Vec<u8>, Option<i64>)> = h
            .hash()
            .map(|(f, x, t)| (f.to_vec(), x.to_vec(), t))
            .collect();
        assert_eq!(
            got,
            vec![
                (b"5".to_vec(), b"v".to_vec(), None),
                (b"a".to_vec(), b"w".to_vec(), Some(3)),
                (b"z".to_vec(), b"1".to_vec(), Some(7)),
            ]
        );
    }

    #[test]
    fn check_refuses_what_a_server_refuses() {
        let mut v = ValueBuf::new(Kind::Set);
        v.set_member(Elem::Int(5));
        v.set_member(Elem::Bytes(b"x"));
        assert!(v.check().is_ok());
        v.set_member(Elem::Bytes(b"5"));
        assert!(v.check().unwrap_err().contains("duplicate set member '5'"));

        let mut h = ValueBuf::new(Kind::Hash);
        h.hash_field(Elem::Bytes(b"f"), Elem::Int(1), Some(10));
        assert!(h.check().is_ok());
        h.hash_field(Elem::Bytes(b"g"), Elem::Int(1), Some(0));
        assert!(h.check().unwrap_err().contains("outside"));
        h.start(Kind::Hash);
        h.hash_field(Elem::Bytes(b"f"), Elem::Int(1), None);
        h.hash_field(Elem::Bytes(b"f"), Elem::Int(2), None);
        assert!(h.check().unwrap_err().contains("duplicate hash field"));

        let mut z = ValueBuf::new(Kind::Zset);
        z.zset_member(Elem::Bytes(b"m"), f64::NAN);
        assert!(z.check().unwrap_err().contains("NaN"));

        let mut st = ValueBuf::new(Kind::Stream);
        st.stream_entry(StreamId { ms: 5, seq: 0 }, &[]);
        st.stream_entry(StreamId { ms: 3, seq: 0 }, &[]);
        assert!(st.check().unwrap_err().contains("strictly increasing"));
    }

    #[test]
    fn collects_each_kind_and_reuses() {
        let mut v = ValueBuf::new(Kind::Hash);
        v.hash_field(Elem::Bytes(b"a"), Elem::Int(1), None);
        v.hash_field(Elem::Bytes(b"bb"), Elem::Bytes(b"x"), Some(5));
        let mut first = ValueBuf::new(Kind::Hash);
        first.hash_field(Elem::Bytes(b"a"), Elem::Int(1), Some(9));
        first.hash_field(Elem::Bytes(b"b"), Elem::Int(2), None);
        assert_eq!(
            first.hash().map(|x| x.2).collect::<Vec<_>>(),
            vec![Some(9), None]
        );
        v.hash_field(Elem::Int(-10), Elem::Bytes(b""), None);
        let h: Vec<_> = v.hash().collect();
        assert_eq!(
            h,
            vec![
                (Elem::Bytes(b"a"), Elem::Int(1), None),
                (Elem::Bytes(b"bb"), Elem::Bytes(b"x"), Some(5)),
                (Elem::Int(-10), Elem::Bytes(b""), None),
            ]
        );
        assert_eq!(v.len(), 3);
        assert!(v.has_field_ttls());
        assert_eq!(v.max_elem_len(), 3);

        v.start(Kind::Stream);
        assert!(v.is_empty());
        let id = StreamId { ms: 1, seq: 2 };
        v.stream_entry(id, &[(Elem::Bytes(b"f"), Elem::Int(7))]);
        let e = v.entries()[0];
        assert_eq!(e.id, id);
        assert_eq!(
            v.entry_fields(&e).collect::<Vec<_>>(),
            vec![(Elem::Bytes(b"f"), Elem::Int(7))]
        );

        v.start(Kind::Zset);
        v.zset_member(Elem::Bytes(b"m"), 1.5);
        assert_eq!(v.zset().collect::<Vec<_>>(), vec![(Elem::Bytes(b"m"), 1.5)]);
        assert!(!v.has_field_ttls());
    }
}
