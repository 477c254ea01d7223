//! Set values, with Redis's three encodings and its rules for moving between them.
//!
//! - [`Set::Intset`]: every member is a canonical 64-bit integer and there are at most
//!   `set-max-intset-entries` of them. Kept as the real intset bytes (`[width u32][count
//!   u32][values]`, sorted, little endian), so it costs 2, 4 or 8 bytes a member and is already
//!   the RDB type 11 blob. Like Redis, the width only ever grows.
//! - [`Set::Listpack`] (profile Redis72 only, since 7.2): a small set with strings, up to
//!   `set-max-listpack-entries` members of at most `set-max-listpack-value` bytes, in insertion
//!   order, as an [`Lp`] (the RDB type 20 blob).
//! - [`Set::Table`]: anything bigger, a hash set of [`SStr`].
//!
//! A big set never goes back to a small encoding by shrinking; only a few commands build a
//! fresh set that may be small again (SINTERSTORE, SPOP's "keep the rest" strategy, loading).
//! With the Redis70 profile `set_max_listpack_entries` is 0, so listpacks never appear and
//! the shared rules reduce to 7.0's.

use super::FastSet;

use super::{Config, Lp, Profile, SStr, Value};
use crate::cmd::util::parse_i64;
use redkit_formats::rdb::consts::{TYPE_SET_INTSET, TYPE_SET_LISTPACK};
use redkit_formats::rdb::read::Sink;
use redkit_formats::Elem;

/// Redis refuses to let an intset or a listpack grow past 1 GiB.
const SAFETY_SIZE: usize = 1 << 30;

/// Redis caps `set-max-intset-entries` at 2^30 because of the intset's 32-bit internals.
fn intset_max(cfg: &Config) -> usize {
    cfg.set_max_intset_entries.min(1 << 30)
}

/// Number of characters of `v` in decimal, the sign included.
fn digits10(v: i64) -> usize {
    let mut n = if v < 0 { 2 } else { 1 };
    let mut u = v.unsigned_abs();
    while u >= 10 {
        u /= 10;
        n += 1;
    }
    n
}

/// Bytes a listpack integer entry of value `v` takes (encoding plus back-length byte), used
/// for the same upper bound Redis computes before turning an intset into a listpack.
fn lp_int_entry_size(v: i64) -> usize {
    if (0..=127).contains(&v) {
        2
    } else if (-4096..=4095).contains(&v) {
        3
    } else if (-32768..=32767).contains(&v) {
        4
    } else if (-8388608..=8388607).contains(&v) {
        5
    } else if (-2147483648..=2147483647).contains(&v) {
        6
    } else {
        10
    }
}

// ------------------------------------------------------------------------------------------
// Intset
// ------------------------------------------------------------------------------------------

const IS_HEADER: usize = 8;

/// A sorted set of integers in Redis's intset byte layout.
#[derive(Clone, PartialEq, Eq)]
pub struct Intset {
    blob: Vec<u8>,
}

impl std::fmt::Debug for Intset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Default for Intset {
    fn default() -> Self {
        Intset::new()
    }
}

/// The narrowest intset width that holds `v`.
fn width_for(v: i64) -> usize {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

impl Intset {
    pub fn new() -> Intset {
        let mut blob = Vec::with_capacity(IS_HEADER);
        blob.extend_from_slice(&2u32.to_le_bytes());
        blob.extend_from_slice(&0u32.to_le_bytes());
        Intset { blob }
    }

    /// Adopt an intset blob (from an RDB file or DUMP payload). `None` unless it is well formed
    /// and strictly increasing.
    pub fn from_blob(blob: &[u8]) -> Option<Intset> {
        redkit_formats::intset::validate(blob, true).ok()?;
        Some(Intset {
            blob: blob.to_vec(),
        })
    }

    /// The intset bytes, as an RDB file stores them.
    pub fn as_bytes(&self) -> &[u8] {
        &self.blob
    }

    /// Bytes per value: 2, 4 or 8.
    pub fn width(&self) -> usize {
        u32::from_le_bytes([self.blob[0], self.blob[1], self.blob[2], self.blob[3]]) as usize
    }

    pub fn len(&self) -> usize {
        u32::from_le_bytes([self.blob[4], self.blob[5], self.blob[6], self.blob[7]]) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn set_len(&mut self, n: usize) {
        self.blob[4..8].copy_from_slice(&(n as u32).to_le_bytes());
    }

    #[inline]
    fn read(&self, i: usize, w: usize) -> i64 {
        let at = IS_HEADER + i * w;
        let b = &self.blob[at..at + w];
        match w {
            2 => i64::from(i16::from_le_bytes([b[0], b[1]])),
            4 => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            _ => i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        }
    }

    fn encode_value(v: i64, w: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(&v.to_le_bytes()[..w]);
    }

    /// Value number `i` in ascending order.
    pub fn get(&self, i: usize) -> Option<i64> {
        (i < self.len()).then(|| self.read(i, self.width()))
    }

    /// Binary search: `Ok(index)` if present, else `Err(insertion index)`.
    fn search(&self, v: i64) -> Result<usize, usize> {
        let w = self.width();
        let (mut lo, mut hi) = (0usize, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.read(mid, w).cmp(&v) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    pub fn contains(&self, v: i64) -> bool {
        width_for(v) <= self.width() && self.search(v).is_ok()
    }

    /// Add `v`; false if it was there. Widens every value first when `v` needs it.
    pub fn insert(&mut self, v: i64) -> bool {
        let need = width_for(v);
        let w = self.width();
        if need > w {
            let n = self.len();
            let mut blob = Vec::with_capacity(IS_HEADER + (n + 1) * need);
            blob.extend_from_slice(&(need as u32).to_le_bytes());
            blob.extend_from_slice(&((n + 1) as u32).to_le_bytes());
            // A value too wide for the old width is below or above every member.
            if v < 0 {
                Self::encode_value(v, need, &mut blob);
            }
            for i in 0..n {
                Self::encode_value(self.read(i, w), need, &mut blob);
            }
            if v >= 0 {
                Self::encode_value(v, need, &mut blob);
            }
            self.blob = blob;
            return true;
        }
        match self.search(v) {
            Ok(_) => false,
            Err(at) => {
                let mut enc = Vec::with_capacity(8);
                Self::encode_value(v, w, &mut enc);
                let pos = IS_HEADER + at * w;
                self.blob.splice(pos..pos, enc);
                let n = self.len() + 1;
                self.set_len(n);
                true
            }
        }
    }

    pub fn remove(&mut self, v: i64) -> bool {
        if width_for(v) > self.width() {
            return false;
        }
        match self.search(v) {
            Ok(at) => {
                let w = self.width();
                let pos = IS_HEADER + at * w;
                self.blob.drain(pos..pos + w);
                let n = self.len() - 1;
                self.set_len(n);
                true
            }
            Err(_) => false,
        }
    }

    pub fn iter(&self) -> IntsetIter<'_> {
        IntsetIter {
            set: self,
            width: self.width(),
            i: 0,
            n: self.len(),
        }
    }

    pub fn min(&self) -> Option<i64> {
        self.get(0)
    }

    pub fn max(&self) -> Option<i64> {
        self.len().checked_sub(1).and_then(|i| self.get(i))
    }
}

pub struct IntsetIter<'a> {
    set: &'a Intset,
    width: usize,
    i: usize,
    n: usize,
}

impl Iterator for IntsetIter<'_> {
    type Item = i64;
    #[inline]
    fn next(&mut self) -> Option<i64> {
        if self.i >= self.n {
            return None;
        }
        let v = self.set.read(self.i, self.width);
        self.i += 1;
        Some(v)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let r = self.n - self.i;
        (r, Some(r))
    }
}

// ------------------------------------------------------------------------------------------
// Set
// ------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub enum Set {
    Intset(Intset),
    Listpack(Lp),
    Table(FastSet<SStr>),
}

impl Default for Set {
    fn default() -> Self {
        Set::new()
    }
}

/// Iterates a set's members, each as an [`Elem`] (intset members as integers).
pub enum Iter<'a> {
    Ints(IntsetIter<'a>),
    Pack(super::lp::Iter<'a>),
    Table(std::collections::hash_set::Iter<'a, SStr>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = Elem<'a>;
    #[inline]
    fn next(&mut self) -> Option<Elem<'a>> {
        match self {
            Iter::Ints(it) => it.next().map(Elem::Int),
            Iter::Pack(it) => it.next(),
            Iter::Table(it) => it.next().map(|s| Elem::Bytes(s.as_bytes())),
        }
    }
}

impl Set {
    /// An empty intset (Redis's `createIntsetObject`); fill it with [`Set::add`].
    pub fn new() -> Set {
        Set::Intset(Intset::new())
    }

    pub fn new_listpack() -> Set {
        Set::Listpack(Lp::new())
    }

    pub fn new_table() -> Set {
        Set::Table(FastSet::default())
    }

    /// The empty set a command creates before adding `first` and about `size_hint` more
    /// members (`setTypeCreate`). 7.0 ignores the hint: intset for an integer, else a table.
    pub fn create(first: &[u8], size_hint: usize, cfg: &Config) -> Set {
        let hint = match cfg.profile {
            Profile::Redis70 => 1,
            Profile::Redis72 => size_hint,
        };
        if parse_i64(first).is_some()
            && (cfg.profile == Profile::Redis70 || hint <= intset_max(cfg))
        {
            Set::new()
        } else if hint <= cfg.set_max_listpack_entries {
            Set::new_listpack()
        } else {
            let mut t = FastSet::default();
            t.reserve(hint.min(1 << 16));
            Set::Table(t)
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Set::Intset(s) => s.len(),
            Set::Listpack(l) => l.len(),
            Set::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What OBJECT ENCODING answers.
    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Intset(_) => "intset",
            Set::Listpack(_) => "listpack",
            Set::Table(_) => "hashtable",
        }
    }

    pub fn iter(&self) -> Iter<'_> {
        match self {
            Set::Intset(s) => Iter::Ints(s.iter()),
            Set::Listpack(l) => Iter::Pack(l.iter()),
            Set::Table(t) => Iter::Table(t.iter()),
        }
    }

    /// Member number `i` in iteration order (for random picks).
    pub fn nth(&self, i: usize) -> Option<Elem<'_>> {
        match self {
            Set::Intset(s) => s.get(i).map(Elem::Int),
            Set::Listpack(l) => l.get(i),
            Set::Table(t) => t.iter().nth(i).map(|s| Elem::Bytes(s.as_bytes())),
        }
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            Set::Intset(s) => parse_i64(m).is_some_and(|v| s.contains(v)),
            Set::Listpack(l) => l.find(m, 1).is_some(),
            Set::Table(t) => t.contains(m),
        }
    }

    /// Membership of a member given as an [`Elem`].
    pub fn contains_elem(&self, e: Elem<'_>) -> bool {
        match (self, e) {
            (Set::Intset(s), Elem::Int(v)) => s.contains(v),
            (_, Elem::Bytes(b)) => self.contains(b),
            (_, Elem::Int(v)) => self.contains(&crate::cmd::util::i64_bytes(v)),
        }
    }

    /// Add `m` (`setTypeAdd`): true if it was not a member. Converts the encoding when `m`
    /// does not fit the current one.
    pub fn add(&mut self, m: &[u8], cfg: &Config) -> bool {
        match self {
            Set::Table(t) => {
                if t.contains(m) {
                    return false;
                }
                t.insert(SStr::new(m));
                true
            }
            Set::Listpack(lp) => {
                if lp.find(m, 1).is_some() {
                    return false;
                }
                if lp.len() < cfg.set_max_listpack_entries
                    && m.len() <= cfg.set_max_listpack_value
                    && lp.bytes_len() + m.len() < SAFETY_SIZE
                {
                    lp.push_back(Elem::Bytes(m));
                } else {
                    self.convert_to_table();
                    if let Set::Table(t) = self {
                        t.insert(SStr::new(m));
                    }
                }
                true
            }
            Set::Intset(is) => {
                if let Some(v) = parse_i64(m) {
                    if !is.insert(v) {
                        return false;
                    }
                    if is.len() > intset_max(cfg) {
                        self.convert_to_table();
                    }
                    return true;
                }
                // A string: a listpack if everything fits (7.2), else a table.
                let n = is.len();
                let (mut maxlen, mut total) = (0, 0);
                if let (Some(lo), Some(hi)) = (is.min(), is.max()) {
                    maxlen = digits10(lo).max(digits10(hi));
                    total = (lp_int_entry_size(lo).max(lp_int_entry_size(hi))) * n;
                }
                if n < cfg.set_max_listpack_entries
                    && m.len() <= cfg.set_max_listpack_value
                    && maxlen <= cfg.set_max_listpack_value
                    && total + m.len() < SAFETY_SIZE
                {
                    let mut lp = Lp::from_elems(is.iter().map(Elem::Int));
                    lp.push_back(Elem::Bytes(m));
                    *self = Set::Listpack(lp);
                } else {
                    self.convert_to_table();
                    if let Set::Table(t) = self {
                        t.insert(SStr::new(m));
                    }
                }
                true
            }
        }
    }

    /// Add a member given as an [`Elem`].
    pub fn add_elem(&mut self, e: Elem<'_>, cfg: &Config) -> bool {
        match (&mut *self, e) {
            (Set::Intset(is), Elem::Int(v)) => {
                if !is.insert(v) {
                    return false;
                }
                if is.len() > intset_max(cfg) {
                    self.convert_to_table();
                }
                true
            }
            (_, Elem::Bytes(b)) => self.add(b, cfg),
            (_, Elem::Int(v)) => self.add(&crate::cmd::util::i64_bytes(v), cfg),
        }
    }

    /// Remove `m`; true if it was a member. The encoding never changes.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            Set::Intset(s) => parse_i64(m).is_some_and(|v| s.remove(v)),
            Set::Listpack(l) => match l.find(m, 1) {
                Some(pos) => {
                    l.delete(pos, 1);
                    true
                }
                None => false,
            },
            Set::Table(t) => {
                let r = t.remove(m);
                // Give memory back like a shrinking dict does.
                if r && t.len() > 64 && t.capacity() > t.len() * 8 {
                    t.shrink_to(t.len() * 2);
                }
                r
            }
        }
    }

    /// Remove a member given as an [`Elem`].
    pub fn remove_elem(&mut self, e: Elem<'_>) -> bool {
        match (&mut *self, e) {
            (Set::Intset(is), Elem::Int(v)) => is.remove(v),
            (_, Elem::Bytes(b)) => self.remove(b),
            (_, Elem::Int(v)) => self.remove(&crate::cmd::util::i64_bytes(v)),
        }
    }

    /// Turn a small encoding into a table.
    pub fn convert_to_table(&mut self) {
        if matches!(self, Set::Table(_)) {
            return;
        }
        let mut t = FastSet::with_capacity_and_hasher(self.len(), Default::default());
        for e in self.iter() {
            t.insert(SStr::from_elem(e));
        }
        *self = Set::Table(t);
    }

    /// Before adding about `size_hint` members (7.2's `setTypeMaybeConvert`): go to a table
    /// at once when that many could not fit the small encoding. Nothing in 7.0.
    pub fn maybe_convert(&mut self, size_hint: usize, cfg: &Config) {
        if cfg.profile == Profile::Redis70 {
            return;
        }
        let over = match self {
            Set::Listpack(_) => size_hint > cfg.set_max_listpack_entries,
            Set::Intset(_) => size_hint > intset_max(cfg),
            Set::Table(_) => false,
        };
        if over {
            self.convert_to_table();
        }
    }

    /// A set known to hold only integers becomes an intset again if small enough (7.2's
    /// `maybeConvertToIntset`, used by SINTERSTORE).
    pub fn maybe_convert_to_intset(&mut self, cfg: &Config) {
        if matches!(self, Set::Intset(_)) || self.len() > intset_max(cfg) {
            return;
        }
        let mut is = Intset::new();
        for e in self.iter() {
            let v = match e {
                Elem::Int(v) => Some(v),
                Elem::Bytes(b) => parse_i64(b),
            };
            match v {
                Some(v) => {
                    is.insert(v);
                }
                None => return,
            }
        }
        *self = Set::Intset(is);
    }

    /// The members as owned strings (for replies).
    pub fn members(&self) -> Vec<Vec<u8>> {
        self.iter().map(|e| e.to_vec()).collect()
    }
}

// ------------------------------------------------------------------------------------------
// Loading
// ------------------------------------------------------------------------------------------

/// Builds a set from the RDB reader's callbacks, with `rdbLoadObject`'s encoding choices:
/// a plain set record (type 2) starts as an intset unless its announced length is over the
/// intset limit, and changes encoding as members arrive; an intset or listpack blob is
/// adopted as it is and converted when over the limits.
pub struct Loader {
    cfg: Config,
    set: Option<Set>,
    /// A blob was adopted whole: the member callbacks that follow it are only informative.
    adopted: bool,
    /// Type 2 bookkeeping (7.2 looks at element sizes seen so far).
    maxelelen: usize,
    sumelelen: usize,
    announced: u64,
}

impl Loader {
    pub fn new(cfg: &Config) -> Loader {
        Loader {
            cfg: cfg.clone(),
            set: None,
            adopted: false,
            maxelelen: 0,
            sumelelen: 0,
            announced: 0,
        }
    }

    /// The finished value, or `None` when it is empty (Redis skips empty keys on load).
    pub fn finish(self, cfg: &Config) -> Option<Value> {
        let mut set = self.set?;
        if set.is_empty() {
            return None;
        }
        match &set {
            Set::Intset(s) if s.len() > intset_max(cfg) => set.convert_to_table(),
            Set::Listpack(l) if l.len() > cfg.set_max_listpack_entries => set.convert_to_table(),
            _ => {}
        }
        Some(Value::Set(Box::new(set)))
    }

    fn start_plain(&mut self, n: u64) {
        self.announced = n;
        let big = n > intset_max(&self.cfg) as u64;
        self.set = Some(if big {
            let mut t = FastSet::default();
            t.reserve((n as usize).min(1 << 16));
            Set::Table(t)
        } else {
            Set::new()
        });
    }

    fn member(&mut self, e: Elem<'_>) {
        if self.set.is_none() {
            self.start_plain(0);
        }
        let Some(set) = self.set.as_mut() else {
            return;
        };
        let cfg = &self.cfg;
        let elelen = match e {
            Elem::Bytes(b) => b.len(),
            Elem::Int(v) => digits10(v),
        };
        self.sumelelen += elelen;
        self.maxelelen = self.maxelelen.max(elelen);
        let int = match e {
            Elem::Int(v) => Some(v),
            Elem::Bytes(b) => parse_i64(b),
        };
        if let Set::Intset(is) = set {
            if let Some(v) = int {
                is.insert(v);
                return;
            }
            if is.len() < cfg.set_max_listpack_entries
                && self.maxelelen <= cfg.set_max_listpack_value
                && self.sumelelen < SAFETY_SIZE
            {
                *set = Set::Listpack(Lp::from_elems(is.iter().map(Elem::Int)));
            } else {
                set.convert_to_table();
            }
        }
        if let Set::Listpack(lp) = set {
            if lp.len() < cfg.set_max_listpack_entries
                && elelen <= cfg.set_max_listpack_value
                && lp.bytes_len() + elelen < SAFETY_SIZE
            {
                if !lp.iter().any(|x| elem_same(x, e)) {
                    lp.push_back(e);
                }
                return;
            }
            set.convert_to_table();
        }
        if let Set::Table(t) = set {
            t.insert(SStr::from_elem(e));
        }
    }
}

/// Do two listpack elements stand for the same string?
fn elem_same(a: Elem<'_>, b: Elem<'_>) -> bool {
    match (a, b) {
        (Elem::Int(x), Elem::Int(y)) => x == y,
        (x, Elem::Bytes(bb)) => super::lp::elem_eq(x, bb),
        (Elem::Bytes(ab), y) => super::lp::elem_eq(y, ab),
    }
}

impl Sink for Loader {
    fn len_hint(&mut self, n: u64) {
        if !self.adopted && self.set.is_none() {
            self.start_plain(n);
        }
    }

    fn set_member(&mut self, e: Elem<'_>) {
        if !self.adopted {
            self.member(e);
        }
    }

    fn blob(&mut self, rdb_type: u8, bytes: &[u8]) {
        match rdb_type {
            TYPE_SET_INTSET => {
                if let Some(is) = Intset::from_blob(bytes) {
                    self.set = Some(Set::Intset(is));
                    self.adopted = true;
                }
            }
            // 7.0 cannot read a set listpack; with that profile its members are loaded like
            // a plain set record's, which gives what 7.0 would have built from them.
            TYPE_SET_LISTPACK if self.cfg.profile == Profile::Redis72 => {
                if let Some(lp) = Lp::from_blob(bytes.to_vec()) {
                    self.set = Some(Set::Listpack(lp));
                    self.adopted = true;
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg70() -> Config {
        Config::for_profile(Profile::Redis70)
    }
    fn cfg72() -> Config {
        Config::for_profile(Profile::Redis72)
    }

    fn sorted(s: &Set) -> Vec<Vec<u8>> {
        let mut v = s.members();
        v.sort();
        v
    }

    #[test]
    fn intset_widths_and_order() {
        let mut is = Intset::new();
        for v in [5, -3, 40000, 7, -70000, 1 << 40, 5, i64::MIN, i64::MAX] {
            is.insert(v);
        }
        let got: Vec<i64> = is.iter().collect();
        assert_eq!(
            got,
            vec![i64::MIN, -70000, -3, 5, 7, 40000, 1 << 40, i64::MAX]
        );
        assert_eq!(is.width(), 8);
        assert!(is.remove(1 << 40));
        assert!(!is.remove(1 << 40));
        assert!(is.remove(i64::MIN) && is.remove(i64::MAX));
        // The width stays even when no member needs it any more.
        assert_eq!(is.width(), 8);
        assert!(is.contains(-70000) && !is.contains(6));
        // The bytes are a valid intset.
        assert_eq!(
            redkit_formats::intset::validate(is.as_bytes(), true).unwrap(),
            5
        );
        let mut small = Intset::new();
        small.insert(1);
        assert_eq!(small.width(), 2);
        assert!(!small.contains(1 << 20));
        assert_eq!(small.as_bytes(), redkit_formats::intset::encode(&[1]));
    }

    #[test]
    fn intset_to_table_at_the_limit() {
        let mut cfg = cfg70();
        cfg.set_max_intset_entries = 4;
        let mut s = Set::create(b"1", 1, &cfg);
        for i in 0..4 {
            assert!(s.add(i.to_string().as_bytes(), &cfg));
        }
        assert_eq!(s.encoding(), "intset");
        assert!(!s.add(b"3", &cfg));
        assert!(s.add(b"4", &cfg));
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(s.len(), 5);
        // Removing does not go back.
        s.remove(b"4");
        s.remove(b"3");
        assert_eq!(s.encoding(), "hashtable");
    }

    #[test]
    fn string_in_intset_70_goes_to_table() {
        let cfg = cfg70();
        let mut s = Set::create(b"1", 1, &cfg);
        s.add(b"1", &cfg);
        s.add(b"a", &cfg);
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"1") && s.contains(b"a") && !s.contains(b"01"));
        assert_eq!(Set::create(b"x", 1, &cfg).encoding(), "hashtable");
        // "01" and " 1" are strings, not integers.
        let mut s = Set::create(b"01", 1, &cfg);
        s.add(b"01", &cfg);
        assert_eq!(s.encoding(), "hashtable");
    }

    #[test]
    fn listpack_rules_72() {
        let cfg = cfg72();
        let mut s = Set::create(b"1", 1, &cfg);
        s.add(b"1", &cfg);
        s.add(b"-20", &cfg);
        assert_eq!(s.encoding(), "intset");
        s.add(b"a", &cfg);
        assert_eq!(s.encoding(), "listpack");
        assert_eq!(
            sorted(&s),
            vec![b"-20".to_vec(), b"1".to_vec(), b"a".to_vec()]
        );
        assert!(s.contains(b"1") && !s.add(b"1", &cfg));
        for i in 0..125 {
            s.add(format!("m{i}").as_bytes(), &cfg);
        }
        assert_eq!(s.len(), 128);
        assert_eq!(s.encoding(), "listpack");
        s.add(b"one more", &cfg);
        assert_eq!(s.encoding(), "hashtable");
        // A long value goes straight to a table.
        let mut s = Set::create(b"x", 1, &cfg);
        assert_eq!(s.encoding(), "listpack");
        s.add(&[b'v'; 64], &cfg);
        assert_eq!(s.encoding(), "listpack");
        s.add(&[b'v'; 65], &cfg);
        assert_eq!(s.encoding(), "hashtable");
        // An intset of 128 members cannot become a listpack.
        let mut s = Set::new();
        for i in 0..128 {
            s.add(i.to_string().as_bytes(), &cfg);
        }
        s.add(b"x", &cfg);
        assert_eq!(s.encoding(), "hashtable");
        // The size hint (SADD with many arguments).
        assert_eq!(Set::create(b"1", 600, &cfg).encoding(), "hashtable");
        assert_eq!(Set::create(b"x", 129, &cfg).encoding(), "hashtable");
        assert_eq!(Set::create(b"1", 600, &cfg70()).encoding(), "intset");
        let mut s = Set::create(b"1", 1, &cfg);
        s.add(b"1", &cfg);
        s.maybe_convert(513, &cfg);
        assert_eq!(s.encoding(), "hashtable");
    }

    #[test]
    fn back_to_intset() {
        let cfg = cfg72();
        let mut s = Set::new_listpack();
        s.add(b"5", &cfg);
        s.add(b"-1", &cfg);
        s.maybe_convert_to_intset(&cfg);
        assert_eq!(s.encoding(), "intset");
        let mut s = Set::new_table();
        s.add(b"5", &cfg);
        s.add(b"x", &cfg);
        s.maybe_convert_to_intset(&cfg);
        assert_eq!(s.encoding(), "hashtable");
    }

    fn load(cfg: &Config, f: impl FnOnce(&mut Loader)) -> Option<Set> {
        let mut l = Loader::new(cfg);
        f(&mut l);
        match l.finish(cfg)? {
            Value::Set(s) => Some(*s),
            _ => None,
        }
    }

    #[test]
    fn loading_plain_sets() {
        let cfg = cfg70();
        let s = load(&cfg, |l| {
            l.len_hint(3);
            for v in [3, 1, 2] {
                l.set_member(Elem::Int(v));
            }
        })
        .unwrap();
        assert_eq!(s.encoding(), "intset");
        // A string member turns it into a table in 7.0, a listpack in 7.2.
        let members = |l: &mut Loader| {
            l.len_hint(2);
            l.set_member(Elem::Bytes(b"12"));
            l.set_member(Elem::Bytes(b"ab"));
        };
        assert_eq!(load(&cfg, members).unwrap().encoding(), "hashtable");
        assert_eq!(load(&cfg72(), members).unwrap().encoding(), "listpack");
        // More than 512 announced: a table even if all are integers.
        let s = load(&cfg, |l| {
            l.len_hint(513);
            for v in 0..513 {
                l.set_member(Elem::Int(v));
            }
        })
        .unwrap();
        assert_eq!(s.encoding(), "hashtable");
        assert!(load(&cfg, |l| l.len_hint(0)).is_none());
    }

    #[test]
    fn loading_blobs() {
        let cfg = cfg70();
        let blob = redkit_formats::intset::encode(&[1, 2, 3]);
        let s = load(&cfg, |l| {
            l.blob(TYPE_SET_INTSET, &blob);
            l.len_hint(3);
            for v in [1, 2, 3] {
                l.set_member(Elem::Int(v));
            }
        })
        .unwrap();
        assert_eq!(s.encoding(), "intset");
        assert_eq!(s.len(), 3);
        let mut small = cfg.clone();
        small.set_max_intset_entries = 2;
        let s = load(&small, |l| l.blob(TYPE_SET_INTSET, &blob)).unwrap();
        assert_eq!(s.encoding(), "hashtable");
        let lp = Lp::from_elems([Elem::Bytes(b"a"), Elem::Int(7)]);
        let feed = |l: &mut Loader| {
            l.blob(TYPE_SET_LISTPACK, lp.as_bytes());
            l.len_hint(2);
            l.set_member(Elem::Bytes(b"a"));
            l.set_member(Elem::Int(7));
        };
        assert_eq!(load(&cfg72(), feed).unwrap().encoding(), "listpack");
        let s = load(&cfg, feed).unwrap();
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(sorted(&s), vec![b"7".to_vec(), b"a".to_vec()]);
    }
}
