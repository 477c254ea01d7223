//! Sorted sets, with Redis 7.0's two encodings.
//!
//! - `listpack`: one [`Lp`] holding (member, score) entry pairs in rank order (score, then
//!   member bytes). A score is stored the way Redis stores it: an integer entry when it is a
//!   whole number in (-2^62, 2^62) (so `-0` becomes `0`), otherwise its `d2string` text. Small
//!   sets stay in this form; every operation on it is a linear walk, as in Redis.
//! - `skiplist`: [`Sorted`], a member -> score `HashMap` next to an ordered sequence of
//!   (score, member) kept in chunks of at most [`CHUNK_MAX`] entries, with a Fenwick tree over
//!   the chunk lengths. Costs: score of a member O(1); insert/delete O(log n + CHUNK_MAX)
//!   (binary search over chunk tails, then a shift inside one chunk; the Fenwick tree is
//!   updated in O(log C), and rebuilt in O(C), C = n / CHUNK_MAX, only when a chunk splits,
//!   merges or disappears); rank of a member, element at a rank and the start of a score or
//!   lex range O(log n). Compared with Redis's skiplist there are no per-node pointers or
//!   levels; the member is kept twice (map key and sequence), inline when up to 22 bytes.
//!
//! Ordering is Redis's: by score (`-0` equal to `0`), ties by member bytes (memcmp, then
//! length). Scores are never NaN.

use std::borrow::Cow;
use std::cmp::Ordering;

use redkit_formats::rdb::consts::{TYPE_ZSET_LISTPACK, TYPE_ZSET_ZIPLIST};
use redkit_formats::rdb::read::Sink;
use redkit_formats::Elem;

use super::{Config, FastMap, Lp, SStr, Value};
use crate::cmd::util::{d2string, double_to_i64};

/// Largest chunk of the ordered sequence; a full chunk splits in two halves.
pub const CHUNK_MAX: usize = 128;

/// Redis's `LISTPACK_MAX_SAFETY_SIZE`: a listpack never grows past 1 GiB.
const LP_SAFETY: usize = 1 << 30;

/// Redis's order of two (score, member) entries.
#[inline]
pub fn cmp_entry(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    if s1 < s2 {
        Ordering::Less
    } else if s1 > s2 {
        Ordering::Greater
    } else {
        m1.cmp(m2)
    }
}

/// Compare a listpack element (as its string form) with `b`.
pub fn elem_cmp(e: Elem<'_>, b: &[u8]) -> Ordering {
    match e {
        Elem::Bytes(x) => x.cmp(b),
        Elem::Int(i) => {
            let mut buf = [0u8; 24];
            let n = fmt_i64(i, &mut buf);
            buf[..n].cmp(b)
        }
    }
}

fn fmt_i64(i: i64, buf: &mut [u8; 24]) -> usize {
    use std::io::Write;
    let mut w = &mut buf[..];
    let _ = write!(w, "{i}");
    24 - w.len()
}

/// Read a listpack score entry (Redis's `zzlGetScore`: integers as they are, text by strtod).
pub fn lp_score(e: Elem<'_>) -> f64 {
    match e {
        Elem::Int(i) => i as f64,
        Elem::Bytes(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .unwrap_or(0.0),
    }
}

/// The two entries (member, score) of one pair, encoded like `zzlInsertAt`.
fn pair_elems<'a>(m: &'a [u8], s: f64, text: &'a mut String) -> [Elem<'a>; 2] {
    match double_to_i64(s) {
        Some(i) => [Elem::Bytes(m), Elem::Int(i)],
        None => {
            *text = d2string(s);
            [Elem::Bytes(m), Elem::Bytes(text.as_bytes())]
        }
    }
}

/// Pairs of a zset listpack: (position of the member entry, member, score).
fn lp_pairs(lp: &Lp) -> impl Iterator<Item = (usize, Elem<'_>, f64)> + '_ {
    let mut pos = lp.first();
    std::iter::from_fn(move || {
        let (m, p2) = lp.next(pos)?;
        let (s, p3) = lp.next(p2)?;
        let at = pos;
        pos = p3;
        Some((at, m, lp_score(s)))
    })
}

fn lp_find(lp: &Lp, m: &[u8]) -> Option<(usize, f64)> {
    let pos = lp.find(m, 2)?;
    let (_, p2) = lp.next(pos)?;
    let (s, _) = lp.next(p2)?;
    Some((pos, lp_score(s)))
}

/// `zzlInsert`: before the first pair ordered after (s, m), else at the end.
fn lp_insert(lp: &mut Lp, m: &[u8], s: f64) {
    let at = lp_pairs(lp)
        .find(|&(_, em, es)| es > s || (es == s && elem_cmp(em, m) == Ordering::Greater))
        .map(|(p, _, _)| p)
        .unwrap_or_else(|| lp.end());
    let mut text = String::new();
    let elems = pair_elems(m, s, &mut text);
    lp.insert(at, &elems);
}

fn lp_pair_count(lp: &Lp) -> usize {
    lp.len() / 2
}

// ---------------------------------------------------------------------------------------------
// The skiplist equivalent
// ---------------------------------------------------------------------------------------------

/// The big encoding: member -> score map plus the chunked ordered sequence (see module doc).
#[derive(Clone, Default)]
pub struct Sorted {
    dict: FastMap<SStr, f64>,
    chunks: Vec<Vec<(f64, SStr)>>,
    /// Fenwick tree over `chunks[i].len()`.
    fen: Vec<usize>,
}

impl PartialEq for Sorted {
    fn eq(&self, o: &Sorted) -> bool {
        self.len() == o.len() && self.iter().eq(o.iter())
    }
}

impl std::fmt::Debug for Sorted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.iter()
                    .map(|(m, s)| (String::from_utf8_lossy(m).into_owned(), s)),
            )
            .finish()
    }
}

impl Sorted {
    pub fn new() -> Sorted {
        Sorted::default()
    }

    /// Build from pairs in any order; a repeated member keeps its first score.
    pub fn from_pairs(pairs: Vec<(SStr, f64)>) -> Sorted {
        let mut dict = FastMap::with_capacity_and_hasher(pairs.len(), Default::default());
        let mut seq: Vec<(f64, SStr)> = Vec::with_capacity(pairs.len());
        for (m, s) in pairs {
            if dict.contains_key(&m) {
                continue;
            }
            dict.insert(m.clone(), s);
            seq.push((s, m));
        }
        seq.sort_unstable_by(|a, b| cmp_entry(a.0, &a.1, b.0, &b.1));
        // Leave room in every chunk so the first inserts do not split at once.
        let fill = CHUNK_MAX * 3 / 4;
        let mut chunks = Vec::with_capacity(seq.len().div_ceil(fill));
        let mut it = seq.into_iter().peekable();
        while it.peek().is_some() {
            chunks.push(it.by_ref().take(fill).collect::<Vec<_>>());
        }
        let mut z = Sorted {
            dict,
            chunks,
            fen: Vec::new(),
        };
        z.fen_rebuild();
        z
    }

    pub fn len(&self) -> usize {
        self.dict.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dict.is_empty()
    }

    pub fn score(&self, m: &[u8]) -> Option<f64> {
        self.dict.get(m).copied()
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&[u8], f64)> + '_ {
        self.chunks.iter().flatten().map(|(s, m)| (&m[..], *s))
    }

    fn fen_rebuild(&mut self) {
        let c = self.chunks.len();
        self.fen.clear();
        self.fen.extend(self.chunks.iter().map(Vec::len));
        for i in 1..=c {
            let j = i + (i & i.wrapping_neg());
            if j <= c {
                self.fen[j - 1] += self.fen[i - 1];
            }
        }
    }

    fn fen_add(&mut self, ci: usize, delta: isize) {
        let c = self.fen.len();
        let mut i = ci + 1;
        while i <= c {
            self.fen[i - 1] = self.fen[i - 1].wrapping_add(delta as usize);
            i += i & i.wrapping_neg();
        }
    }

    /// Entries in chunks `0..ci`.
    fn prefix(&self, ci: usize) -> usize {
        let mut s = 0;
        let mut i = ci.min(self.fen.len());
        while i > 0 {
            s += self.fen[i - 1];
            i -= i & i.wrapping_neg();
        }
        s
    }

    /// (chunk, offset) of the entry at `rank`.
    fn select(&self, rank: usize) -> Option<(usize, usize)> {
        if rank >= self.len() {
            return None;
        }
        let c = self.fen.len();
        let mut pos = 0;
        let mut rem = rank;
        let mut step = if c == 0 {
            0
        } else {
            1usize << (usize::BITS - 1 - c.leading_zeros())
        };
        while step > 0 {
            let nx = pos + step;
            if nx <= c && self.fen[nx - 1] <= rem {
                pos = nx;
                rem -= self.fen[nx - 1];
            }
            step >>= 1;
        }
        (pos < c && rem < self.chunks[pos].len()).then_some((pos, rem))
    }

    /// The entry at `rank` (0-based, ascending).
    pub fn get(&self, rank: usize) -> Option<(&[u8], f64)> {
        let (ci, i) = self.select(rank)?;
        let (s, m) = &self.chunks[ci][i];
        Some((m, *s))
    }

    /// Entries from `rank` upwards.
    pub fn iter_from(&self, rank: usize) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        let (ci, i) = self.select(rank).unwrap_or((self.chunks.len(), 0));
        self.chunks[ci.min(self.chunks.len())..]
            .iter()
            .flatten()
            .skip(i)
            .map(|(s, m)| (&m[..], *s))
    }

    /// Entries from `rank` downwards.
    pub fn iter_down_from(&self, rank: usize) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        let (end, skip) = match self.select(rank) {
            Some((ci, i)) => (ci + 1, self.chunks[ci].len() - 1 - i),
            None => (0, 0),
        };
        self.chunks[..end]
            .iter()
            .rev()
            .flat_map(|c| c.iter().rev())
            .skip(skip)
            .map(|(s, m)| (&m[..], *s))
    }

    /// Where (s, m) is or would be inserted: (chunk, offset).
    fn locate(&self, s: f64, m: &[u8]) -> (usize, usize) {
        let ci = self.chunks.partition_point(|c| match c.last() {
            Some((ls, lm)) => cmp_entry(*ls, lm, s, m) == Ordering::Less,
            None => true,
        });
        if ci == self.chunks.len() {
            return match ci {
                0 => (0, 0),
                _ => (ci - 1, self.chunks[ci - 1].len()),
            };
        }
        let i =
            self.chunks[ci].partition_point(|(es, em)| cmp_entry(*es, em, s, m) == Ordering::Less);
        (ci, i)
    }

    /// Number of leading entries for which `pred` holds (`pred` must be true then false
    /// along the sequence).
    pub fn partition_point(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        let ci = self.chunks.partition_point(|c| match c.last() {
            Some((s, m)) => pred(*s, m),
            None => true,
        });
        match self.chunks.get(ci) {
            None => self.len(),
            Some(c) => self.prefix(ci) + c.partition_point(|(s, m)| pred(*s, m)),
        }
    }

    fn insert_ordered(&mut self, s: f64, key: SStr) {
        if self.chunks.is_empty() {
            self.chunks.push(Vec::with_capacity(4));
            self.fen_rebuild();
        }
        let (ci, i) = self.locate(s, &key);
        self.chunks[ci].insert(i, (s, key));
        if self.chunks[ci].len() > CHUNK_MAX {
            let tail = self.chunks[ci].split_off(CHUNK_MAX / 2);
            self.chunks.insert(ci + 1, tail);
            self.fen_rebuild();
        } else {
            self.fen_add(ci, 1);
        }
    }

    fn remove_ordered(&mut self, s: f64, m: &[u8]) -> Option<SStr> {
        let (ci, i) = self.locate(s, m);
        match self.chunks.get(ci).and_then(|c| c.get(i)) {
            Some((es, em)) if *es == s && &em[..] == m => {}
            _ => return None,
        }
        let (_, key) = self.chunks[ci].remove(i);
        let len = self.chunks[ci].len();
        let next = self.chunks.get(ci + 1).map(Vec::len);
        if len == 0 {
            self.chunks.remove(ci);
            self.fen_rebuild();
        } else if len < CHUNK_MAX / 4 && next.is_some_and(|n| len + n <= CHUNK_MAX / 2) {
            let nx = self.chunks.remove(ci + 1);
            self.chunks[ci].extend(nx);
            self.fen_rebuild();
        } else {
            self.fen_add(ci, -1);
        }
        Some(key)
    }

    /// Insert a member that is not present.
    pub fn insert(&mut self, m: &[u8], s: f64) {
        let key = SStr::new(m);
        self.dict.insert(key.clone(), s);
        self.insert_ordered(s, key);
    }

    /// Remove a member; its score if it was present.
    pub fn remove(&mut self, m: &[u8]) -> Option<f64> {
        let s = self.dict.remove(m)?;
        self.remove_ordered(s, m);
        Some(s)
    }

    /// Change the score of a present member.
    pub fn update(&mut self, m: &[u8], new: f64) {
        let Some(old) = self.dict.get_mut(m) else {
            return;
        };
        let prev = std::mem::replace(old, new);
        let key = self.remove_ordered(prev, m).unwrap_or_else(|| SStr::new(m));
        self.insert_ordered(new, key);
    }

    /// 0-based ascending rank of a member.
    pub fn rank(&self, m: &[u8]) -> Option<usize> {
        let s = self.score(m)?;
        let (ci, i) = self.locate(s, m);
        Some(self.prefix(ci) + i)
    }
}

// ---------------------------------------------------------------------------------------------
// The sorted set value
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Repr {
    Lp(Lp),
    Sk(Sorted),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ZSet {
    repr: Repr,
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::new()
    }
}

/// ZADD's options (`zsetAdd` input flags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddFlags {
    pub incr: bool,
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
}

/// What `add` did (`zsetAdd` output flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    Added,
    Updated,
    /// Present with the same score: nothing changed, but the element was processed.
    Unchanged,
    /// NX/XX/GT/LT skipped it.
    Nop,
    /// The resulting score is NaN: nothing changed.
    Nan,
}

/// A score interval (`zrangespec`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub minex: bool,
    pub maxex: bool,
}

impl ScoreRange {
    #[inline]
    pub fn gte_min(&self, v: f64) -> bool {
        if self.minex {
            v > self.min
        } else {
            v >= self.min
        }
    }
    #[inline]
    pub fn lte_max(&self, v: f64) -> bool {
        if self.maxex {
            v < self.max
        } else {
            v <= self.max
        }
    }
}

/// One end of a lex interval: `-`, `+`, `[x` or `(x`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexBound {
    NegInf,
    PosInf,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

/// A lex interval (`zlexrangespec`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    /// Is `v` at or after the lower bound?
    pub fn gte_min(&self, v: &[u8]) -> bool {
        match &self.min {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Incl(s) => v >= &s[..],
            LexBound::Excl(s) => v > &s[..],
        }
    }
    pub fn lte_max(&self, v: &[u8]) -> bool {
        match &self.max {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(s) => v <= &s[..],
            LexBound::Excl(s) => v < &s[..],
        }
    }
    /// Ranges that can hold nothing whatever the set (`-`/`+` count as exclusive).
    pub fn always_empty(&self) -> bool {
        use LexBound::*;
        let ex = |b: &LexBound| !matches!(b, Incl(_));
        let cmp = match (&self.min, &self.max) {
            (NegInf, NegInf) | (PosInf, PosInf) => Ordering::Equal,
            (NegInf, _) | (_, PosInf) => Ordering::Less,
            (PosInf, _) | (_, NegInf) => Ordering::Greater,
            (Incl(a) | Excl(a), Incl(b) | Excl(b)) => a.cmp(b),
        };
        cmp == Ordering::Greater || (cmp == Ordering::Equal && (ex(&self.min) || ex(&self.max)))
    }
}

impl ZSet {
    /// An empty listpack-encoded set.
    pub fn new() -> ZSet {
        ZSet {
            repr: Repr::Lp(Lp::new()),
        }
    }

    pub fn new_skiplist() -> ZSet {
        ZSet {
            repr: Repr::Sk(Sorted::new()),
        }
    }

    pub fn from_sorted(s: Sorted) -> ZSet {
        ZSet { repr: Repr::Sk(s) }
    }

    /// The set ZADD creates for a missing key, given its first member's length.
    pub fn for_zadd(cfg: &Config, first_member_len: usize) -> ZSet {
        if cfg.zset_max_listpack_entries == 0 || cfg.zset_max_listpack_value < first_member_len {
            ZSet::new_skiplist()
        } else {
            ZSet::new()
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Lp(lp) => lp_pair_count(lp),
            Repr::Sk(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self.repr {
            Repr::Lp(_) => "listpack",
            Repr::Sk(_) => "skiplist",
        }
    }

    /// The listpack, when listpack-encoded (for writing RDB type 17 as it is).
    pub fn listpack(&self) -> Option<&Lp> {
        match &self.repr {
            Repr::Lp(lp) => Some(lp),
            Repr::Sk(_) => None,
        }
    }

    /// (member, score) in rank order.
    pub fn iter(&self) -> Iter<'_> {
        match &self.repr {
            Repr::Lp(lp) => Iter::Lp {
                lp,
                pos: lp.first(),
            },
            Repr::Sk(s) => Iter::Sk(s.chunks.iter().flatten()),
        }
    }

    pub fn score(&self, m: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Lp(lp) => lp_find(lp, m).map(|(_, s)| s),
            Repr::Sk(s) => s.score(m),
        }
    }

    /// Ascending 0-based rank.
    pub fn rank(&self, m: &[u8]) -> Option<usize> {
        match &self.repr {
            Repr::Lp(lp) => lp_pairs(lp).position(|(_, e, _)| elem_cmp(e, m) == Ordering::Equal),
            Repr::Sk(s) => s.rank(m),
        }
    }

    pub fn convert_to_skiplist(&mut self) {
        if let Repr::Lp(lp) = &self.repr {
            let pairs: Vec<(SStr, f64)> = lp_pairs(lp)
                .map(|(_, m, s)| (SStr::from_elem(m), s))
                .collect();
            self.repr = Repr::Sk(Sorted::from_pairs(pairs));
        }
    }

    pub fn convert_to_listpack(&mut self) {
        if let Repr::Sk(s) = &self.repr {
            let mut lp = Lp::new();
            let mut text = String::new();
            for (m, sc) in s.iter() {
                let [a, b] = pair_elems(m, sc, &mut text);
                lp.push_back(a);
                lp.push_back(b);
            }
            self.repr = Repr::Lp(lp);
        }
    }

    /// `zsetConvertToListpackIfNeeded`: a skiplist small enough (by the lengths the caller
    /// measured) becomes a listpack.
    pub fn convert_to_listpack_if_needed(
        &mut self,
        maxelelen: usize,
        totelelen: usize,
        cfg: &Config,
    ) {
        if matches!(self.repr, Repr::Sk(_))
            && self.len() <= cfg.zset_max_listpack_entries
            && maxelelen <= cfg.zset_max_listpack_value
            && totelelen <= LP_SAFETY
        {
            self.convert_to_listpack();
        }
    }

    /// `zsetAdd`. Returns the outcome and the resulting score (meaningful unless Nop/Nan).
    pub fn add(&mut self, m: &[u8], score: f64, f: AddFlags, cfg: &Config) -> (AddOutcome, f64) {
        if score.is_nan() {
            return (AddOutcome::Nan, score);
        }
        if let Repr::Lp(lp) = &mut self.repr {
            match lp_find(lp, m) {
                Some((pos, cur)) => {
                    return match decide(score, cur, f) {
                        Err(o) => (o, score),
                        Ok(new) => {
                            if new != cur {
                                lp.delete(pos, 2);
                                lp_insert(lp, m, new);
                                (AddOutcome::Updated, new)
                            } else {
                                (AddOutcome::Unchanged, new)
                            }
                        }
                    };
                }
                None if f.xx => return (AddOutcome::Nop, score),
                None => {
                    if lp_pair_count(lp) + 1 > cfg.zset_max_listpack_entries
                        || m.len() > cfg.zset_max_listpack_value
                        || lp.bytes_len() + m.len() > LP_SAFETY
                    {
                        self.convert_to_skiplist();
                    } else {
                        lp_insert(lp, m, score);
                        return (AddOutcome::Added, score);
                    }
                }
            }
        }
        let Repr::Sk(s) = &mut self.repr else {
            return (AddOutcome::Nop, score);
        };
        match s.score(m) {
            Some(cur) => match decide(score, cur, f) {
                Err(o) => (o, score),
                Ok(new) => {
                    if new != cur {
                        s.update(m, new);
                        (AddOutcome::Updated, new)
                    } else {
                        (AddOutcome::Unchanged, new)
                    }
                }
            },
            None if f.xx => (AddOutcome::Nop, score),
            None => {
                s.insert(m, score);
                (AddOutcome::Added, score)
            }
        }
    }

    /// ZADD of several members without INCR: the outcome of [`ZSet::add`] on each member in
    /// order, but a listpack is decoded once and rebuilt once, instead of being searched and
    /// re-parsed for every member (quadratic for big ZADDs). Untouched pairs keep their bytes.
    /// Returns (added, updated, processed).
    pub fn add_many(
        &mut self,
        items: &[(&[u8], f64)],
        f: AddFlags,
        cfg: &Config,
    ) -> (i64, i64, i64) {
        let batch = matches!(self.repr, Repr::Lp(_))
            && items.len() >= 2
            && !f.incr
            && items.iter().all(|(_, s)| !s.is_nan());
        let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
        let mut count = |out: AddOutcome| {
            match out {
                AddOutcome::Added => added += 1,
                AddOutcome::Updated => updated += 1,
                AddOutcome::Unchanged | AddOutcome::Nop | AddOutcome::Nan => {}
            }
            if out != AddOutcome::Nop {
                processed += 1;
            }
        };
        let Repr::Lp(lp) = &self.repr else {
            for &(m, s) in items {
                count(self.add(m, s, f, cfg).0);
            }
            return (added, updated, processed);
        };
        if !batch {
            for &(m, s) in items {
                count(self.add(m, s, f, cfg).0);
            }
            return (added, updated, processed);
        }
        // A pair is either a byte range of the old blob (untouched) or a member to encode.
        #[derive(Clone, Copy)]
        enum Src<'a> {
            Old(usize, usize),
            New(&'a [u8]),
        }
        struct Item<'a> {
            src: Src<'a>,
            member: Cow<'a, [u8]>,
            score: f64,
        }
        let mut list: Vec<Item<'_>> = Vec::with_capacity(lp.len() / 2 + items.len());
        let mut pos = lp.first();
        while let Some((m, p2)) = lp.next(pos) {
            let Some((sc, p3)) = lp.next(p2) else { break };
            let member = match m {
                Elem::Bytes(b) => Cow::Borrowed(b),
                Elem::Int(i) => Cow::Owned(i.to_string().into_bytes()),
            };
            list.push(Item {
                src: Src::Old(pos, p3),
                member,
                score: lp_score(sc),
            });
            pos = p3;
        }
        // Members by string form (an integer member's text is its own copy, as in
        // `Hash::set_many`); the first of duplicates is the one lookups find.
        let mut index: FastMap<Cow<'_, [u8]>, usize> =
            FastMap::with_capacity_and_hasher(list.len() + items.len(), Default::default());
        for (i, it) in list.iter().enumerate() {
            index.entry(it.member.clone()).or_insert(i);
        }
        let mut convert = false;
        // A score written to the listpack reads back through its encoding (-0 is stored as
        // the integer 0); once converted, the skiplist keeps the double as given.
        let lp_norm = |s: f64| double_to_i64(s).map_or(s, |i| i as f64);
        let mut outcomes = Vec::with_capacity(items.len());
        for &(m, s) in items {
            let at = index.get(m).copied();
            let out = match at {
                Some(i) => {
                    let cur = list[i].score;
                    match decide(s, cur, f) {
                        Err(o) => o,
                        Ok(new) if new != cur => {
                            list[i].score = if convert { new } else { lp_norm(new) };
                            list[i].src = Src::New(m);
                            AddOutcome::Updated
                        }
                        Ok(_) => AddOutcome::Unchanged,
                    }
                }
                None if f.xx => AddOutcome::Nop,
                None => {
                    let i = list.len();
                    if i + 1 > cfg.zset_max_listpack_entries
                        || m.len() > cfg.zset_max_listpack_value
                    {
                        convert = true;
                    }
                    list.push(Item {
                        src: Src::New(m),
                        member: Cow::Borrowed(m),
                        score: if convert { s } else { lp_norm(s) },
                    });
                    index.insert(Cow::Borrowed(m), i);
                    AddOutcome::Added
                }
            };
            outcomes.push(out);
        }
        for o in outcomes {
            count(o);
        }
        let repr = if convert {
            Repr::Sk(Sorted::from_pairs(
                list.iter()
                    .map(|it| (SStr::new(&it.member), it.score))
                    .collect(),
            ))
        } else {
            // Redis inserts each new pair before the first one ordered after it: on a sorted
            // listpack that is sorted order, which a stable sort keeps for the old pairs.
            list.sort_by(|a, b| cmp_entry(a.score, &a.member, b.score, &b.member));
            let n = list.len() * 2;
            Repr::Lp(Lp::from_raw_entries(n, |out| {
                let mut text = String::new();
                for it in &list {
                    match it.src {
                        Src::Old(a, b) => out.extend_from_slice(lp.raw(a, b)),
                        Src::New(m) => {
                            for e in pair_elems(m, it.score, &mut text) {
                                redkit_formats::listpack::write_entry(out, e);
                            }
                        }
                    }
                }
            }))
        };
        self.repr = repr;
        (added, updated, processed)
    }

    /// Remove a member; true if it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Lp(lp) => match lp.find(m, 2) {
                Some(pos) => {
                    lp.delete(pos, 2);
                    true
                }
                None => false,
            },
            Repr::Sk(s) => s.remove(m).is_some(),
        }
    }

    /// Delete the entries with ranks in `start..end`; returns how many went.
    pub fn delete_ranks(&mut self, start: usize, end: usize) -> usize {
        let end = end.min(self.len());
        if start >= end {
            return 0;
        }
        match &mut self.repr {
            Repr::Lp(lp) => match lp.pos_of(2 * start) {
                Some(pos) => lp.delete(pos, 2 * (end - start)) / 2,
                None => 0,
            },
            Repr::Sk(s) => {
                let gone: Vec<SStr> = s
                    .iter_from(start)
                    .take(end - start)
                    .map(|(m, _)| SStr::new(m))
                    .collect();
                for m in &gone {
                    s.remove(m);
                }
                gone.len()
            }
        }
    }

    /// Indexed read access for range queries.
    pub fn view(&self) -> View<'_> {
        match &self.repr {
            Repr::Lp(lp) => View::Lp(lp_pairs(lp).map(|(_, m, s)| (m, s)).collect()),
            Repr::Sk(s) => View::Sk(s),
        }
    }
}

/// Apply INCR and the NX/GT/LT rules to an existing member: the new score, or why not.
fn decide(score: f64, cur: f64, f: AddFlags) -> Result<f64, AddOutcome> {
    if f.nx {
        return Err(AddOutcome::Nop);
    }
    let new = if f.incr { score + cur } else { score };
    if new.is_nan() {
        return Err(AddOutcome::Nan);
    }
    if (f.lt && new >= cur) || (f.gt && new <= cur) {
        return Err(AddOutcome::Nop);
    }
    Ok(new)
}

/// Rank-indexed access to a set: the listpack's pairs decoded once, or the skiplist itself.
pub enum View<'a> {
    Lp(Vec<(Elem<'a>, f64)>),
    Sk(&'a Sorted),
}

impl<'a> View<'a> {
    pub fn len(&self) -> usize {
        match self {
            View::Lp(v) => v.len(),
            View::Sk(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_listpack(&self) -> bool {
        matches!(self, View::Lp(_))
    }

    /// The entry at rank `i` (ascending).
    pub fn entry(&self, i: usize) -> Option<(Vec<u8>, f64)> {
        match self {
            View::Lp(v) => v.get(i).map(|(m, s)| (m.to_vec(), *s)),
            View::Sk(s) => s.get(i).map(|(m, sc)| (m.to_vec(), sc)),
        }
    }

    /// Does the member at rank `i` satisfy `f`?
    pub fn member_is(&self, i: usize, f: impl Fn(&[u8]) -> bool) -> bool {
        match self {
            View::Lp(v) => match v.get(i) {
                Some((Elem::Bytes(b), _)) => f(b),
                Some((Elem::Int(n), _)) => {
                    let mut buf = [0u8; 24];
                    let k = fmt_i64(*n, &mut buf);
                    f(&buf[..k])
                }
                None => false,
            },
            View::Sk(s) => s.get(i).is_some_and(|(m, _)| f(m)),
        }
    }

    /// `count` entries from rank `from`, upwards or (`down`) downwards.
    pub fn collect(&self, from: usize, count: usize, down: bool) -> Vec<(Vec<u8>, f64)> {
        let cap = count.min(self.len());
        let mut out = Vec::with_capacity(cap);
        if from >= self.len() {
            return out;
        }
        match self {
            View::Lp(v) => {
                if down {
                    out.extend(
                        v[..=from]
                            .iter()
                            .rev()
                            .take(count)
                            .map(|(m, s)| (m.to_vec(), *s)),
                    );
                } else {
                    out.extend(v[from..].iter().take(count).map(|(m, s)| (m.to_vec(), *s)));
                }
            }
            View::Sk(s) => {
                if down {
                    out.extend(
                        s.iter_down_from(from)
                            .take(count)
                            .map(|(m, sc)| (m.to_vec(), sc)),
                    );
                } else {
                    out.extend(
                        s.iter_from(from)
                            .take(count)
                            .map(|(m, sc)| (m.to_vec(), sc)),
                    );
                }
            }
        }
        out
    }

    /// Ranks `lo..hi` of the entries inside a score range (scores are sorted in both
    /// encodings, so this is what Redis's walks find).
    pub fn score_bounds(&self, r: &ScoreRange) -> (usize, usize) {
        let (lo, hi) = match self {
            View::Lp(v) => (
                v.partition_point(|(_, s)| !r.gte_min(*s)),
                v.partition_point(|(_, s)| r.lte_max(*s)),
            ),
            View::Sk(s) => (
                s.partition_point(|sc, _| !r.gte_min(sc)),
                s.partition_point(|sc, _| r.lte_max(sc)),
            ),
        };
        (lo, hi.max(lo))
    }

    fn lex_in_range(&self, r: &LexRange) -> bool {
        let n = self.len();
        !r.always_empty()
            && n > 0
            && self.member_is(n - 1, |m| r.gte_min(m))
            && self.member_is(0, |m| r.lte_max(m))
    }

    /// Rank of the first entry in a lex range (`zzlFirstInLexRange`: a scan from the head
    /// for a listpack; a binary search for the skiplist, like Redis's descent).
    pub fn lex_first(&self, r: &LexRange) -> Option<usize> {
        if !self.lex_in_range(r) {
            return None;
        }
        let i = match self {
            View::Lp(_) => (0..self.len()).find(|&i| self.member_is(i, |m| r.gte_min(m)))?,
            View::Sk(s) => s.partition_point(|_, m| !r.gte_min(m)),
        };
        self.member_is(i, |m| r.lte_max(m)).then_some(i)
    }

    /// Rank of the last entry in a lex range.
    pub fn lex_last(&self, r: &LexRange) -> Option<usize> {
        if !self.lex_in_range(r) {
            return None;
        }
        let j = match self {
            View::Lp(_) => (0..self.len())
                .rev()
                .find(|&i| self.member_is(i, |m| r.lte_max(m)))?,
            View::Sk(s) => s.partition_point(|_, m| r.lte_max(m)).checked_sub(1)?,
        };
        self.member_is(j, |m| r.gte_min(m)).then_some(j)
    }

    /// How many entries from rank `from` upwards stay at or below the lex range's max.
    pub fn lex_run(&self, from: usize, r: &LexRange) -> usize {
        match self {
            View::Lp(_) => (from..self.len())
                .take_while(|&i| self.member_is(i, |m| r.lte_max(m)))
                .count(),
            View::Sk(s) => s.partition_point(|_, m| r.lte_max(m)).saturating_sub(from),
        }
    }
}

/// Iterator over (member, score) in rank order.
pub enum Iter<'a> {
    Lp { lp: &'a Lp, pos: usize },
    Sk(std::iter::Flatten<std::slice::Iter<'a, Vec<(f64, SStr)>>>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (Elem<'a>, f64);
    fn next(&mut self) -> Option<(Elem<'a>, f64)> {
        match self {
            Iter::Lp { lp, pos } => {
                let (m, p2) = lp.next(*pos)?;
                let (s, p3) = lp.next(p2)?;
                *pos = p3;
                Some((m, lp_score(s)))
            }
            Iter::Sk(it) => it.next().map(|(s, m)| (Elem::Bytes(&m[..]), *s)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// RDB loading
// ---------------------------------------------------------------------------------------------

/// Builds a value from the RDB reader's element callbacks, with `rdbLoadObject`'s encoding
/// rules: a listpack blob is kept as it is (converted when it has more entries than
/// zset-max-listpack-entries), a ziplist blob is rewritten as a listpack in its own order,
/// and a skiplist record becomes a listpack when it fits both limits.
pub struct Loader {
    /// A listpack blob adopted as is (its member callbacks are then ignored).
    lp: Option<Lp>,
    /// The elements came from a ziplist or listpack blob (kept in file order).
    compact: bool,
    items: Vec<(SStr, f64)>,
}

impl Loader {
    pub fn new(_cfg: &Config) -> Loader {
        Loader {
            lp: None,
            compact: false,
            items: Vec::new(),
        }
    }

    /// The finished value, or `None` when it is empty (Redis skips empty keys on load).
    pub fn finish(self, cfg: &Config) -> Option<Value> {
        let mut z = if let Some(lp) = self.lp {
            ZSet { repr: Repr::Lp(lp) }
        } else if self.compact {
            let mut lp = Lp::new();
            let mut text = String::new();
            for (m, s) in &self.items {
                let [a, b] = pair_elems(m, *s, &mut text);
                lp.push_back(a);
                lp.push_back(b);
            }
            ZSet { repr: Repr::Lp(lp) }
        } else {
            let maxlen = self.items.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
            let total: usize = self.items.iter().map(|(m, _)| m.len()).sum();
            let mut z = ZSet::from_sorted(Sorted::from_pairs(self.items));
            z.convert_to_listpack_if_needed(maxlen, total, cfg);
            z
        };
        if z.is_empty() {
            return None;
        }
        if matches!(z.repr, Repr::Lp(_)) && z.len() > cfg.zset_max_listpack_entries {
            z.convert_to_skiplist();
        }
        Some(Value::ZSet(Box::new(z)))
    }
}

impl Sink for Loader {
    fn zset_member(&mut self, m: Elem<'_>, score: f64) {
        if self.lp.is_some() || score.is_nan() {
            return;
        }
        self.items.push((SStr::from_elem(m), score));
    }

    fn blob(&mut self, rdb_type: u8, bytes: &[u8]) {
        match rdb_type {
            TYPE_ZSET_LISTPACK => {
                self.compact = true;
                // An odd entry count is not a zset listpack: rebuild from the pairs instead.
                self.lp = Lp::from_blob(bytes.to_vec()).filter(|lp| lp.len() % 2 == 0);
            }
            TYPE_ZSET_ZIPLIST => self.compact = true,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// `add_many` must leave exactly what `add` member by member leaves (same listpack
    /// bytes, same counts), whatever the flags, duplicates, -0/0 and int-like members.
    #[test]
    fn add_many_equals_one_by_one() {
        let mut seed = 7u64;
        let members: Vec<Vec<u8>> = [
            "a",
            "b",
            "d",
            "6",
            "-3",
            "07",
            "zz",
            "m1",
            "x",
            "longmember",
        ]
        .iter()
        .map(|m| m.as_bytes().to_vec())
        .collect();
        let scores = [0.0, -0.0, 1.0, -1.5, 2.0, f64::INFINITY, 0.1, 6.0];
        let mut cfg = Config::default();
        for round in 0..3000 {
            cfg.zset_max_listpack_entries = [3usize, 6, 128][round % 3];
            cfg.zset_max_listpack_value = [64usize, 5][round % 2];
            let mut one = ZSet::new();
            let mut many = ZSet::new();
            for _ in 0..4 {
                let n = 2 + (rng(&mut seed) % 6) as usize;
                let items: Vec<(&[u8], f64)> = (0..n)
                    .map(|_| {
                        let m = &members[(rng(&mut seed) % members.len() as u64) as usize];
                        (
                            m.as_slice(),
                            scores[(rng(&mut seed) % scores.len() as u64) as usize],
                        )
                    })
                    .collect();
                let r = rng(&mut seed);
                let f = AddFlags {
                    incr: false,
                    nx: r.is_multiple_of(5),
                    xx: r % 5 == 1,
                    gt: r % 5 == 2,
                    lt: r % 5 == 3,
                };
                let (mut a, mut u, mut p) = (0, 0, 0);
                for &(m, sc) in &items {
                    let (o, _) = one.add(m, sc, f, &cfg);
                    match o {
                        AddOutcome::Added => a += 1,
                        AddOutcome::Updated => u += 1,
                        _ => {}
                    }
                    if o != AddOutcome::Nop {
                        p += 1;
                    }
                }
                assert_eq!(many.add_many(&items, f, &cfg), (a, u, p), "{items:?} {f:?}");
                assert_eq!(one.encoding(), many.encoding());
                match (one.listpack(), many.listpack()) {
                    (Some(x), Some(y)) => assert_eq!(x.as_bytes(), y.as_bytes(), "{items:?} {f:?}"),
                    _ => {
                        let bits = |z: &ZSet| -> Vec<(Vec<u8>, u64)> {
                            z.iter().map(|(m, s)| (m.to_vec(), s.to_bits())).collect()
                        };
                        assert_eq!(bits(&one), bits(&many), "{items:?} {f:?}");
                    }
                }
            }
        }
    }

    fn rng(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *seed >> 33
    }

    fn model_sorted(m: &HashMap<Vec<u8>, f64>) -> Vec<(Vec<u8>, f64)> {
        let mut v: Vec<(Vec<u8>, f64)> = m.iter().map(|(k, s)| (k.clone(), *s)).collect();
        v.sort_by(|a, b| cmp_entry(a.1, &a.0, b.1, &b.0));
        v
    }

    #[test]
    fn sorted_matches_a_naive_model() {
        let mut seed = 11u64;
        let mut s = Sorted::new();
        let mut model: HashMap<Vec<u8>, f64> = HashMap::new();
        for round in 0..20000 {
            let r = rng(&mut seed);
            let m = format!("m{}", r % 700).into_bytes();
            let score = match r % 7 {
                0 => 0.0,
                1 => -0.0,
                2 => f64::INFINITY,
                3 => f64::NEG_INFINITY,
                _ => ((r >> 8) % 50) as f64 - 25.0,
            };
            match (r >> 20) % 4 {
                0 | 1 => {
                    if model.contains_key(&m) {
                        s.update(&m, score);
                    } else {
                        s.insert(&m, score);
                    }
                    model.insert(m.clone(), score);
                }
                2 => assert_eq!(s.remove(&m), model.remove(&m)),
                _ => {
                    let want = model_sorted(&model);
                    let pos = want.iter().position(|(k, _)| *k == m);
                    assert_eq!(s.rank(&m), pos, "round {round}");
                    if !want.is_empty() {
                        let i = (r as usize >> 3) % want.len();
                        let (gm, gs) = s.get(i).unwrap();
                        assert_eq!((gm, gs), (&want[i].0[..], want[i].1));
                        let up: Vec<_> = s.iter_from(i).map(|(a, b)| (a.to_vec(), b)).collect();
                        assert_eq!(up, want[i..].to_vec());
                        let down: Vec<_> =
                            s.iter_down_from(i).map(|(a, b)| (a.to_vec(), b)).collect();
                        let mut w: Vec<_> = want[..=i].to_vec();
                        w.reverse();
                        assert_eq!(down, w);
                        let lim = ((r >> 4) % 50) as f64 - 25.0;
                        assert_eq!(
                            s.partition_point(|sc, _| sc < lim),
                            want.iter().filter(|(_, sc)| *sc < lim).count()
                        );
                    }
                    assert_eq!(s.get(want.len()), None);
                }
            }
            assert_eq!(s.len(), model.len());
        }
        let got: Vec<_> = s.iter().map(|(a, b)| (a.to_vec(), b)).collect();
        assert_eq!(got, model_sorted(&model));
        assert!(s
            .chunks
            .iter()
            .all(|c| !c.is_empty() && c.len() <= CHUNK_MAX));
    }

    #[test]
    fn listpack_and_skiplist_agree() {
        let cfg = Config::default();
        let mut seed = 5u64;
        let mut a = ZSet::new();
        let mut b = ZSet::new_skiplist();
        for _ in 0..3000 {
            let r = rng(&mut seed);
            let m = format!("{}", r % 40).into_bytes();
            let sc = ((r >> 8) % 9) as f64 / 2.0 - 2.0;
            if r.is_multiple_of(5) {
                assert_eq!(a.remove(&m), b.remove(&m));
            } else {
                let f = AddFlags {
                    incr: r.is_multiple_of(3),
                    ..Default::default()
                };
                assert_eq!(a.add(&m, sc, f, &cfg), b.add(&m, sc, f, &cfg));
            }
            assert_eq!(a.encoding(), "listpack");
            let x: Vec<_> = a.iter().map(|(m, s)| (m.to_vec(), s)).collect();
            let y: Vec<_> = b.iter().map(|(m, s)| (m.to_vec(), s)).collect();
            assert_eq!(x, y);
            assert_eq!(a.rank(&m), b.rank(&m));
        }
    }

    #[test]
    fn conversion_at_the_thresholds() {
        let cfg = Config {
            zset_max_listpack_entries: 3,
            zset_max_listpack_value: 4,
            ..Config::default()
        };
        let mut z = ZSet::new();
        for m in [b"a", b"b", b"c"] {
            z.add(m, 1.0, AddFlags::default(), &cfg);
        }
        assert_eq!(z.encoding(), "listpack");
        z.add(b"d", 1.0, AddFlags::default(), &cfg);
        assert_eq!(z.encoding(), "skiplist");
        let mut z = ZSet::new();
        z.add(b"abcd", 1.0, AddFlags::default(), &cfg);
        assert_eq!(z.encoding(), "listpack");
        z.add(b"abcde", 1.0, AddFlags::default(), &cfg);
        assert_eq!(z.encoding(), "skiplist");
    }

    #[test]
    fn negative_zero_becomes_integer_zero_in_a_listpack() {
        let cfg = Config::default();
        let mut z = ZSet::new();
        z.add(b"a", -0.0, AddFlags::default(), &cfg);
        assert!(z.score(b"a").unwrap().is_sign_positive());
        let mut z = ZSet::new_skiplist();
        z.add(b"a", -0.0, AddFlags::default(), &cfg);
        assert!(z.score(b"a").unwrap().is_sign_negative());
    }

    #[test]
    fn loader_converts_like_rdb_load() {
        let cfg = Config {
            zset_max_listpack_entries: 2,
            ..Config::default()
        };
        let mut l = Loader::new(&cfg);
        l.zset_member(Elem::Bytes(b"b"), 2.0);
        l.zset_member(Elem::Int(7), 1.0);
        let v = l.finish(&cfg).unwrap();
        let Value::ZSet(z) = v else { panic!() };
        assert_eq!(z.encoding(), "listpack");
        assert_eq!(
            z.iter().map(|(m, _)| m.to_vec()).collect::<Vec<_>>(),
            vec![b"7".to_vec(), b"b".to_vec()]
        );
        let mut l = Loader::new(&cfg);
        for i in 0..3 {
            l.zset_member(Elem::Int(i), i as f64);
        }
        let Some(Value::ZSet(z)) = l.finish(&cfg) else {
            panic!()
        };
        assert_eq!(z.encoding(), "skiplist");
        assert!(Loader::new(&cfg).finish(&cfg).is_none());
    }
}
