//! List values: a quicklist, i.e. a deque of listpack nodes ([`Lp`]), like Redis's
//! `quicklist.c`.
//!
//! Each node is a real listpack, bounded by `list-max-listpack-size` (`fill`): negative values
//! limit a node's bytes (-1..-5: 4..64 KiB), positive ones its entries (with an 8 KiB safety
//! cap). Pushes at the ends follow Redis's rule for when the end node is full; inserts and
//! replacements in the middle edit a node in place and split it in two when it overflows. Nodes
//! are not byte-identical to Redis's splits, but they are bounded the same way, so memory stays
//! close to Redis's and an RDB writer can emit the nodes as quicklist-2 listpacks.
//!
//! Encoding names: with the Redis 7.0 profile a list is always a `quicklist`. With the 7.2
//! profile a small list is a single plain `listpack` (flag `packed`, one node, no node rules)
//! that converts to a quicklist when an addition would pass the node limit, and back when it
//! shrinks to half the limit (`t_list.c` `listTypeTryConversion*` of 7.2).

use std::collections::VecDeque;

use super::{lp::elem_eq, Config, Lp, Profile, Value};
use redkit_formats::listpack::FIRST_ENTRY;
use redkit_formats::rdb::read::Sink;
use redkit_formats::Elem;

/// Byte limits of the negative fill levels (-1 .. -5).
const SIZE_LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// Byte cap of a node when the fill counts entries.
const SIZE_SAFETY_LIMIT: usize = 8192;
/// Redis's over-estimate of one entry's overhead when deciding if a node has room.
const SIZE_ESTIMATE_OVERHEAD: usize = 8;
/// Elements this big get a node of their own (Redis's "plain" nodes).
pub const PACKED_THRESHOLD: usize = 1 << 30;
/// Largest positive fill Redis accepts (`FILL_MAX`).
const FILL_MAX: i64 = (1 << 15) - 1;

/// RDB type of a list stored as one ziplist (Redis 7.2 keeps those as quicklists on load).
const RDB_TYPE_LIST_ZIPLIST: u8 = 10;
/// RDB type of a quicklist whose nodes are listpacks.
const RDB_TYPE_LIST_QUICKLIST_2: u8 = 18;

#[derive(Clone)]
pub struct List {
    nodes: VecDeque<Lp>,
    len: usize,
    /// `list-max-listpack-size`, clamped like `quicklistSetFill`.
    fill: i32,
    /// Follow Redis 7.2's listpack/quicklist conversions.
    v72: bool,
    /// 7.2 only: the list is one plain listpack (at most one node, no node limits).
    packed: bool,
}

impl PartialEq for List {
    /// Same elements in the same order (node boundaries are an implementation detail).
    fn eq(&self, other: &List) -> bool {
        self.len == other.len && self.iter().zip(other.iter()).all(|(a, b)| same_elem(a, b))
    }
}

impl std::fmt::Debug for List {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.iter()
                    .map(|e| String::from_utf8_lossy(&e.to_vec()).into_owned()),
            )
            .finish()
    }
}

impl Default for List {
    fn default() -> Self {
        List::new()
    }
}

fn same_elem(a: Elem<'_>, b: Elem<'_>) -> bool {
    match (a, b) {
        (Elem::Int(x), Elem::Int(y)) => x == y,
        (Elem::Bytes(x), _) => elem_eq(b, x),
        (_, Elem::Bytes(y)) => elem_eq(a, y),
    }
}

/// Length of an element's string form (what Redis passes as `sz` to the quicklist).
fn str_len(e: Elem<'_>) -> usize {
    match e {
        Elem::Bytes(b) => b.len(),
        Elem::Int(i) => {
            let mut n = if i < 0 { 2 } else { 1 };
            let mut v = i.unsigned_abs();
            while v >= 10 {
                v /= 10;
                n += 1;
            }
            n
        }
    }
}

/// Redis's `quicklistNodeLimit`: (byte limit, entry limit) of a node.
fn node_limits(fill: i32) -> (usize, usize) {
    if fill >= 0 {
        (usize::MAX, (fill as usize).max(1))
    } else {
        let level = ((-fill - 1) as usize).min(SIZE_LEVELS.len() - 1);
        (SIZE_LEVELS[level], usize::MAX)
    }
}

/// Redis 7.2's `quicklistNodeExceedsLimit`.
fn exceeds_limit(fill: i32, bytes: usize, count: usize) -> bool {
    let (sz, cnt) = node_limits(fill);
    if sz != usize::MAX {
        bytes > sz
    } else {
        bytes > SIZE_SAFETY_LIMIT || count > cnt
    }
}

/// Redis's `_quicklistNodeAllowInsert`: may an element of `sz` bytes join `node`?
fn allow_insert(node: &Lp, fill: i32, sz: usize) -> bool {
    if sz >= PACKED_THRESHOLD || node.bytes_len() >= PACKED_THRESHOLD {
        return false;
    }
    let new_sz = node.bytes_len() + sz + SIZE_ESTIMATE_OVERHEAD;
    if fill < 0 {
        let level = (-fill - 1) as usize;
        level < SIZE_LEVELS.len() && new_sz <= SIZE_LEVELS[level]
    } else {
        new_sz <= SIZE_SAFETY_LIMIT && node.len() < fill as usize
    }
}

/// Position of the entry before `pos` (`pos` may be the terminator), read from the previous
/// entry's back-length. `None` at the first entry.
fn prev_pos(lp: &Lp, pos: usize) -> Option<usize> {
    let buf = lp.as_bytes();
    if pos <= FIRST_ENTRY || pos > buf.len() {
        return None;
    }
    // The back-length is a varint stored right to left: 7 bits per byte, high bit = more.
    let mut val = 0usize;
    let mut p = pos - 1;
    let mut shift = 0;
    loop {
        let b = buf[p];
        val |= usize::from(b & 127) << shift;
        if b & 128 == 0 {
            break;
        }
        shift += 7;
        if shift > 28 || p <= FIRST_ENTRY {
            return prev_pos_slow(lp, pos);
        }
        p -= 1;
    }
    let backlen_bytes = pos - p;
    match pos.checked_sub(val + backlen_bytes) {
        Some(prev) if prev >= FIRST_ENTRY && lp.next(prev).map(|(_, n)| n) == Some(pos) => {
            Some(prev)
        }
        _ => prev_pos_slow(lp, pos),
    }
}

/// Forward scan fallback of [`prev_pos`] (never expected on valid listpacks).
fn prev_pos_slow(lp: &Lp, pos: usize) -> Option<usize> {
    let mut last = None;
    for (p, _) in lp.iter_pos() {
        if p >= pos {
            break;
        }
        last = Some(p);
    }
    last
}

/// Entries of one node from last to first.
struct RevNode<'a> {
    lp: &'a Lp,
    pos: usize,
}

impl<'a> Iterator for RevNode<'a> {
    type Item = Elem<'a>;
    fn next(&mut self) -> Option<Elem<'a>> {
        let p = prev_pos(self.lp, self.pos)?;
        self.pos = p;
        self.lp.next(p).map(|(e, _)| e)
    }
}

fn rev_node(lp: &Lp) -> RevNode<'_> {
    RevNode { lp, pos: lp.end() }
}

impl List {
    /// An empty list with the default settings (Redis 7.0 profile, fill -2).
    pub fn new() -> List {
        List::with_config(&Config::default())
    }

    /// An empty list as a push to a new key creates it: with 7.2 rules it starts as a
    /// listpack.
    pub fn with_config(cfg: &Config) -> List {
        let v72 = cfg.profile == Profile::Redis72;
        List {
            nodes: VecDeque::new(),
            len: 0,
            fill: cfg.list_max_listpack_size.clamp(-5, FILL_MAX) as i32,
            v72,
            packed: v72,
        }
    }

    /// An empty list as `createQuicklistObject` makes it (RDB loading): a quicklist.
    fn quicklist(cfg: &Config) -> List {
        let mut l = List::with_config(cfg);
        l.packed = false;
        l
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn encoding(&self) -> &'static str {
        if self.packed {
            "listpack"
        } else {
            "quicklist"
        }
    }

    /// The listpack nodes, head to tail (for RDB writing: one quicklist-2 node each; a
    /// node holding one element of [`PACKED_THRESHOLD`] bytes or more is a plain node).
    pub fn nodes(&self) -> impl Iterator<Item = &Lp> + '_ {
        self.nodes.iter()
    }

    /// Elements head to tail.
    pub fn iter(&self) -> impl Iterator<Item = Elem<'_>> + '_ {
        self.nodes.iter().flat_map(Lp::iter)
    }

    /// Elements tail to head.
    pub fn iter_rev(&self) -> impl Iterator<Item = Elem<'_>> + '_ {
        self.nodes.iter().rev().flat_map(rev_node)
    }

    /// Node number and offset inside it of element `index` (< len).
    fn locate(&self, index: usize) -> Option<(usize, usize)> {
        if index >= self.len {
            return None;
        }
        if index < self.len / 2 {
            let mut i = index;
            for (n, node) in self.nodes.iter().enumerate() {
                let l = node.len();
                if i < l {
                    return Some((n, i));
                }
                i -= l;
            }
        } else {
            // Count from the tail.
            let mut i = self.len - 1 - index;
            for (n, node) in self.nodes.iter().enumerate().rev() {
                let l = node.len();
                if i < l {
                    return Some((n, l - 1 - i));
                }
                i -= l;
            }
        }
        None
    }

    /// Byte position of entry `k` of node `n`, walking from the nearer end of the node.
    fn pos_in_node(&self, n: usize, k: usize) -> Option<usize> {
        let node = self.nodes.get(n)?;
        let l = node.len();
        if k >= l {
            return None;
        }
        if k <= l / 2 {
            node.pos_of(k)
        } else {
            let mut pos = node.end();
            for _ in 0..(l - k) {
                pos = prev_pos(node, pos)?;
            }
            Some(pos)
        }
    }

    /// A Redis index (negative counts from the tail) as an offset, if in range.
    pub fn normalize(&self, index: i64) -> Option<usize> {
        let len = self.len as i128;
        let i = if index < 0 {
            len + index as i128
        } else {
            index as i128
        };
        (0..len).contains(&i).then_some(i as usize)
    }

    /// Element at a Redis index (LINDEX).
    pub fn get(&self, index: i64) -> Option<Elem<'_>> {
        let (n, k) = self.locate(self.normalize(index)?)?;
        let pos = self.pos_in_node(n, k)?;
        self.nodes[n].next(pos).map(|(e, _)| e)
    }

    /// Elements from offset `start` (< len) towards the tail.
    pub fn iter_from(&self, start: usize) -> impl Iterator<Item = Elem<'_>> + '_ {
        let (n, k) = self.locate(start).unwrap_or((self.nodes.len(), 0));
        self.nodes
            .iter()
            .skip(n)
            .enumerate()
            .flat_map(move |(j, node)| node.iter().skip(if j == 0 { k } else { 0 }))
    }

    /// Elements from offset `start` (< len) towards the head.
    pub fn iter_back_from(&self, start: usize) -> impl Iterator<Item = Elem<'_>> + '_ {
        let (n, k) = self.locate(start).unwrap_or((0, 0));
        let take = if start < self.len { n + 1 } else { 0 };
        self.nodes
            .iter()
            .take(take)
            .rev()
            .enumerate()
            .flat_map(move |(j, node)| {
                let skip = if j == 0 { node.len() - 1 - k } else { 0 };
                rev_node(node).skip(skip)
            })
    }

    // ------------------------------------------------------------------------------------
    // Edits
    // ------------------------------------------------------------------------------------

    /// Push at the head or the tail (LPUSH / RPUSH).
    pub fn push(&mut self, e: Elem<'_>, head: bool) {
        self.len += 1;
        if self.packed {
            if self.nodes.is_empty() {
                self.new_node(e, head);
            } else if head {
                self.nodes[0].push_front(e);
            } else {
                self.nodes[0].push_back(e);
            }
            return;
        }
        let sz = str_len(e);
        let fill = self.fill;
        let end = if head {
            self.nodes.front_mut()
        } else {
            self.nodes.back_mut()
        };
        match end {
            Some(node) if allow_insert(node, fill, sz) => {
                if head {
                    node.push_front(e)
                } else {
                    node.push_back(e)
                }
            }
            Some(node) => {
                // The end node is full and will not grow again from this side: drop the
                // spare capacity its growth left.
                *node = node.clone();
                self.new_node(e, head);
            }
            None => self.new_node(e, head),
        }
    }

    pub fn push_tail(&mut self, e: Elem<'_>) {
        self.push(e, false);
    }

    pub fn push_head(&mut self, e: Elem<'_>) {
        self.push(e, true);
    }

    fn new_node(&mut self, e: Elem<'_>, head: bool) {
        let mut lp = Lp::new();
        lp.push_back(e);
        if self.nodes.capacity() == 0 {
            self.nodes.reserve_exact(1);
        }
        if head {
            self.nodes.push_front(lp);
        } else {
            self.nodes.push_back(lp);
        }
    }

    /// Pop from the head or the tail, as the element's string.
    pub fn pop(&mut self, head: bool) -> Option<Vec<u8>> {
        let n = if head {
            0
        } else {
            self.nodes.len().checked_sub(1)?
        };
        let node = self.nodes.get_mut(n)?;
        let pos = if head {
            node.first()
        } else {
            prev_pos(node, node.end())?
        };
        let v = node.next(pos)?.0.to_vec();
        node.delete(pos, 1);
        if node.is_empty() {
            self.nodes.remove(n);
        }
        self.len -= 1;
        Some(v)
    }

    /// Delete `n` elements from the head (or the tail).
    pub fn del_range_end(&mut self, mut n: usize, head: bool) {
        n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            let Some(node) = (if head {
                self.nodes.front_mut()
            } else {
                self.nodes.back_mut()
            }) else {
                break;
            };
            let l = node.len();
            if l <= n {
                n -= l;
                if head {
                    self.nodes.pop_front();
                } else {
                    self.nodes.pop_back();
                }
                continue;
            }
            let pos = if head {
                Some(node.first())
            } else {
                node.pos_of(l - n)
            };
            if let Some(pos) = pos {
                node.delete(pos, n);
            }
            // One copy gives back the memory of what was cut.
            *node = node.clone();
            n = 0;
        }
    }

    /// Delete elements `start..start+count` (offsets, already in range).
    pub fn del_range(&mut self, start: usize, count: usize) {
        if start == 0 {
            return self.del_range_end(count, true);
        }
        if start.saturating_add(count) >= self.len {
            return self.del_range_end(self.len.saturating_sub(start), false);
        }
        // A middle range (not used by the commands, kept for completeness).
        for _ in 0..count {
            if let Some((n, k)) = self.locate(start) {
                if let Some(pos) = self.pos_in_node(n, k) {
                    self.nodes[n].delete(pos, 1);
                    self.len -= 1;
                    if self.nodes[n].is_empty() {
                        self.nodes.remove(n);
                    }
                }
            }
        }
    }

    /// Replace the element at a Redis index (LSET); false when out of range.
    pub fn set(&mut self, index: i64, v: &[u8]) -> bool {
        let Some((n, k)) = self.normalize(index).and_then(|i| self.locate(i)) else {
            return false;
        };
        let Some(pos) = self.pos_in_node(n, k) else {
            return false;
        };
        self.nodes[n].replace(pos, Elem::Bytes(v));
        self.fix_node(n);
        true
    }

    /// Insert `v` before or after the first element equal to `pivot` (LINSERT); false when
    /// there is no such element.
    pub fn insert(&mut self, pivot: &[u8], v: &[u8], after: bool) -> bool {
        for n in 0..self.nodes.len() {
            let node = &mut self.nodes[n];
            let Some(pos) = node.find(pivot, 1) else {
                continue;
            };
            let at = if after {
                node.next(pos).map_or(pos, |(_, nx)| nx)
            } else {
                pos
            };
            node.insert(at, &[Elem::Bytes(v)]);
            self.len += 1;
            self.fix_node(n);
            return true;
        }
        false
    }

    /// Split node `n` in two when an in-place edit made it pass the node limit.
    fn fix_node(&mut self, n: usize) {
        if self.packed {
            return;
        }
        let node = &self.nodes[n];
        let count = node.len();
        if count < 2 || !exceeds_limit(self.fill, node.bytes_len(), count) {
            return;
        }
        let half = count / 2;
        let left = Lp::from_elems(node.iter().take(half));
        let right = Lp::from_elems(node.iter().skip(half));
        self.nodes[n] = left;
        self.nodes.insert(n + 1, right);
        // Halves of an oversized node can still be over (big elements): split again.
        self.fix_node(n + 1);
        self.fix_node(n);
    }

    /// Remove elements equal to `v` (LREM): `count` > 0 from the head, < 0 from the tail,
    /// 0 all. Returns how many were removed.
    pub fn remove(&mut self, v: &[u8], count: i64) -> usize {
        let from_tail = count < 0;
        let limit = if count == 0 {
            usize::MAX
        } else {
            usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX)
        };
        let mut removed = 0usize;
        let order: Vec<usize> = if from_tail {
            (0..self.nodes.len()).rev().collect()
        } else {
            (0..self.nodes.len()).collect()
        };
        let mut emptied = Vec::new();
        for n in order {
            if removed >= limit {
                break;
            }
            let node = &mut self.nodes[n];
            let mut hits: Vec<usize> = node
                .iter_pos()
                .filter(|(_, e)| elem_eq(*e, v))
                .map(|(p, _)| p)
                .collect();
            let room = limit - removed;
            if hits.len() > room {
                if from_tail {
                    hits.drain(..hits.len() - room);
                } else {
                    hits.truncate(room);
                }
            }
            // Back to front, so earlier positions stay valid.
            for &p in hits.iter().rev() {
                node.delete(p, 1);
            }
            removed += hits.len();
            if node.is_empty() {
                emptied.push(n);
            }
        }
        emptied.sort_unstable();
        for n in emptied.into_iter().rev() {
            self.nodes.remove(n);
        }
        self.len -= removed;
        removed
    }

    // ------------------------------------------------------------------------------------
    // Redis 7.2 encoding conversions
    // ------------------------------------------------------------------------------------

    fn bytes(&self) -> usize {
        self.nodes
            .front()
            .map_or(Lp::new().bytes_len(), Lp::bytes_len)
    }

    /// Before adding `add_len` elements of `add_bytes` string bytes: a listpack that would
    /// pass the node limit becomes a quicklist (7.2 `listTypeTryConversionAppend`).
    pub fn grow_check(&mut self, add_bytes: usize, add_len: usize) {
        if !self.packed {
            return;
        }
        if exceeds_limit(
            self.fill,
            self.bytes().saturating_add(add_bytes),
            self.len.saturating_add(add_len),
        ) {
            self.packed = false;
            if self.len == 0 {
                self.nodes.clear();
            }
        }
    }

    /// After removing elements: a quicklist of one node at most half the limit becomes a
    /// listpack again (7.2 `LIST_CONV_SHRINKING`).
    pub fn shrink_check(&mut self) {
        self.listpack_if_small(true);
    }

    /// After building a list (RDB load): one node within the limit is a listpack
    /// (7.2 `LIST_CONV_AUTO`).
    pub fn auto_check(&mut self) {
        self.listpack_if_small(false);
    }

    fn listpack_if_small(&mut self, shrinking: bool) {
        if !self.v72 || self.packed || self.nodes.len() != 1 {
            return;
        }
        let node = &self.nodes[0];
        if node.bytes_len() >= PACKED_THRESHOLD {
            return;
        }
        let (mut sz, mut cnt) = node_limits(self.fill);
        if shrinking {
            sz /= 2;
            cnt /= 2;
        }
        if node.bytes_len() <= sz && self.len <= cnt {
            self.packed = true;
        }
    }
}

/// Builds a list from the RDB reader's callbacks. Quicklist-2 listpack nodes are adopted as
/// they are (after a deep validation), everything else is pushed element by element.
pub struct Loader {
    list: List,
    /// Elements still to come from the walk of a node that was adopted whole.
    skip: usize,
    /// The value is a Redis 7.2 `RDB_TYPE_LIST_ZIPLIST`: 7.2 keeps it a quicklist.
    from_ziplist: bool,
}

impl Loader {
    pub fn new(cfg: &Config) -> Loader {
        Loader {
            list: List::quicklist(cfg),
            skip: 0,
            from_ziplist: false,
        }
    }

    /// The finished value, or `None` when it is empty (Redis skips empty keys on load).
    pub fn finish(self, _cfg: &Config) -> Option<Value> {
        let mut list = self.list;
        if list.is_empty() {
            return None;
        }
        if !self.from_ziplist {
            list.auto_check();
        }
        Some(Value::List(Box::new(list)))
    }
}

impl Sink for Loader {
    fn list_elem(&mut self, e: Elem<'_>) {
        if self.skip > 0 {
            self.skip -= 1;
            return;
        }
        self.list.push_tail(e);
    }

    fn blob(&mut self, rdb_type: u8, bytes: &[u8]) {
        if rdb_type == RDB_TYPE_LIST_ZIPLIST {
            self.from_ziplist = true;
        }
        if rdb_type != RDB_TYPE_LIST_QUICKLIST_2 || self.skip > 0 {
            return;
        }
        let Some(lp) = Lp::from_blob(bytes.to_vec()) else {
            // Left to the element callbacks (the reader reports the damage).
            return;
        };
        let n = lp.len();
        if n == 0 {
            return;
        }
        self.skip = n;
        self.list.len += n;
        self.list.nodes.push_back(lp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(fill: i64, profile: Profile) -> Config {
        let mut c = Config::for_profile(profile);
        c.list_max_listpack_size = fill;
        c
    }

    fn strings(l: &List) -> Vec<Vec<u8>> {
        l.iter().map(|e| e.to_vec()).collect()
    }

    /// Node invariants: no empty node, counts add up, every node a valid listpack within the
    /// limits (a single element may exceed them).
    fn check_nodes(l: &List) {
        let mut total = 0;
        for node in &l.nodes {
            assert!(!node.is_empty());
            let n = redkit_formats::listpack::validate(node.as_bytes(), true).unwrap() as usize;
            assert_eq!(n, node.len());
            total += n;
            if !l.packed && n > 1 {
                assert!(
                    !exceeds_limit(l.fill, node.bytes_len(), n),
                    "node over the limit: {} bytes {n} entries fill {}",
                    node.bytes_len(),
                    l.fill
                );
            }
        }
        assert_eq!(total, l.len());
        if l.packed {
            assert!(l.nodes.len() <= 1);
        }
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) as usize
        }
    }

    fn value(r: &mut Rng) -> Vec<u8> {
        match r.next() % 8 {
            0 => (r.next() % 300).to_string().into_bytes(),
            1 => format!("-{}", r.next()).into_bytes(),
            2 => vec![b'x'; r.next() % 3000],
            3 => Vec::new(),
            4 => vec![b'z'; 70],
            _ => format!("v{}", r.next() % 20).into_bytes(),
        }
    }

    #[test]
    fn matches_a_vecdeque_model() {
        for fill in [-5, -2, -1, 0, 1, 2, 3, 4, 7, 128, 1000] {
            for profile in [Profile::Redis70, Profile::Redis72] {
                let c = cfg(fill, profile);
                let mut l = List::with_config(&c);
                let mut m: VecDeque<Vec<u8>> = VecDeque::new();
                let mut r = Rng(fill as u64 ^ 0x5eed);
                for round in 0..700 {
                    let v = value(&mut r);
                    let op = r.next() % 12;
                    match op {
                        0..=2 => {
                            let head = op == 0;
                            l.grow_check(v.len(), 1);
                            l.push(Elem::Bytes(&v), head);
                            if head {
                                m.push_front(v)
                            } else {
                                m.push_back(v)
                            }
                        }
                        3 | 4 => {
                            let head = op == 3;
                            let got = l.pop(head);
                            let want = if head { m.pop_front() } else { m.pop_back() };
                            assert_eq!(got, want);
                            l.shrink_check();
                        }
                        5 => {
                            let i = (r.next() % (m.len() * 2 + 1)) as i64 - m.len() as i64;
                            let want = l.normalize(i).map(|k| m[k].clone());
                            assert_eq!(l.get(i).map(|e| e.to_vec()), want);
                            let ok = l.set(i, &v);
                            assert_eq!(ok, want.is_some());
                            if let Some(k) = l.normalize(i) {
                                m[k] = v;
                            }
                        }
                        6 if !m.is_empty() => {
                            let pivot = m[r.next() % m.len()].clone();
                            let after = r.next().is_multiple_of(2);
                            assert!(l.insert(&pivot, &v, after));
                            let k = m.iter().position(|x| *x == pivot).unwrap();
                            m.insert(if after { k + 1 } else { k }, v);
                        }
                        7 => {
                            let target = if m.is_empty() || r.next().is_multiple_of(3) {
                                v
                            } else {
                                m[r.next() % m.len()].clone()
                            };
                            let count = (r.next() % 5) as i64 - 2;
                            let got = l.remove(&target, count);
                            let mut want = 0;
                            let lim = if count == 0 {
                                usize::MAX
                            } else {
                                count.unsigned_abs() as usize
                            };
                            if count >= 0 {
                                let mut i = 0;
                                while i < m.len() && want < lim {
                                    if m[i] == target {
                                        m.remove(i);
                                        want += 1;
                                    } else {
                                        i += 1;
                                    }
                                }
                            } else {
                                let mut i = m.len();
                                while i > 0 && want < lim {
                                    i -= 1;
                                    if m[i] == target {
                                        m.remove(i);
                                        want += 1;
                                    }
                                }
                            }
                            assert_eq!(got, want);
                        }
                        8 => {
                            let n = r.next() % 5;
                            let head = r.next().is_multiple_of(2);
                            l.del_range_end(n, head);
                            for _ in 0..n.min(m.len()) {
                                if head {
                                    m.pop_front();
                                } else {
                                    m.pop_back();
                                }
                            }
                        }
                        9 if !m.is_empty() => {
                            let s = r.next() % m.len();
                            let fwd: Vec<Vec<u8>> = l.iter_from(s).map(|e| e.to_vec()).collect();
                            assert_eq!(fwd, m.iter().skip(s).cloned().collect::<Vec<_>>());
                            let back: Vec<Vec<u8>> =
                                l.iter_back_from(s).map(|e| e.to_vec()).collect();
                            assert_eq!(
                                back,
                                m.iter().take(s + 1).rev().cloned().collect::<Vec<_>>()
                            );
                        }
                        _ => {
                            for _ in 0..(r.next() % 40) {
                                let v = value(&mut r);
                                l.grow_check(v.len(), 1);
                                l.push_tail(Elem::Bytes(&v));
                                m.push_back(v);
                            }
                        }
                    }
                    assert_eq!(l.len(), m.len(), "fill {fill} round {round}");
                    check_nodes(&l);
                    if round % 50 == 0 {
                        assert_eq!(strings(&l), m.iter().cloned().collect::<Vec<_>>());
                        let rev: Vec<Vec<u8>> = l.iter_rev().map(|e| e.to_vec()).collect();
                        assert_eq!(rev, m.iter().rev().cloned().collect::<Vec<_>>());
                    }
                }
            }
        }
    }

    #[test]
    fn count_fill_packs_exactly_fill_entries() {
        let mut l = List::with_config(&cfg(4, Profile::Redis70));
        for i in 0..10 {
            l.push_tail(Elem::Int(i));
        }
        let sizes: Vec<usize> = l.nodes.iter().map(Lp::len).collect();
        assert_eq!(sizes, vec![4, 4, 2]);
        assert_eq!(l.encoding(), "quicklist");
        // The 8 KiB safety limit applies to count-based fills.
        let mut l = List::with_config(&cfg(100, Profile::Redis70));
        for _ in 0..3 {
            l.push_tail(Elem::Bytes(&[b'a'; 3000]));
        }
        assert_eq!(l.nodes.len(), 2);
    }

    #[test]
    fn size_fill_respects_8k() {
        let mut l = List::with_config(&cfg(-2, Profile::Redis70));
        for _ in 0..1000 {
            l.push_head(Elem::Bytes(b"0123456789abcdefghij"));
        }
        for n in &l.nodes {
            assert!(n.bytes_len() <= 8192);
        }
        assert!(l.nodes.len() >= 3);
    }

    #[test]
    fn redis72_listpack_conversions() {
        // Count limit 4: a 4-element list is a listpack, the 5th element converts.
        let mut l = List::with_config(&cfg(4, Profile::Redis72));
        assert_eq!(l.encoding(), "listpack");
        for i in 0..4 {
            l.grow_check(1, 1);
            l.push_tail(Elem::Int(i));
        }
        assert_eq!(l.encoding(), "listpack");
        l.grow_check(1, 1);
        l.push_tail(Elem::Int(9));
        assert_eq!(l.encoding(), "quicklist");
        // Back to listpack only with one node of at most 2 entries.
        assert_eq!(l.nodes.len(), 2);
        l.pop(false);
        l.shrink_check();
        assert_eq!(l.encoding(), "quicklist");
        l.pop(false);
        l.pop(false);
        l.shrink_check();
        assert_eq!(l.len(), 2);
        assert_eq!(l.encoding(), "listpack");

        // Size limit 8 KiB: bytes of the listpack plus the new strings.
        let mut l = List::with_config(&cfg(-2, Profile::Redis72));
        l.grow_check(8000, 1);
        l.push_tail(Elem::Bytes(&[b'x'; 8000]));
        assert_eq!(l.encoding(), "listpack");
        l.grow_check(200, 1);
        assert_eq!(l.encoding(), "quicklist");
        // A first push that is too big converts the empty listpack.
        let mut l = List::with_config(&cfg(-1, Profile::Redis72));
        l.grow_check(5000, 1);
        l.push_tail(Elem::Bytes(&[b'y'; 5000]));
        assert_eq!(l.encoding(), "quicklist");
        check_nodes(&l);
        // 7.0: always a quicklist.
        assert_eq!(
            List::with_config(&cfg(-2, Profile::Redis70)).encoding(),
            "quicklist"
        );
    }

    #[test]
    fn loader_adopts_listpack_nodes_and_skips_their_elements() {
        let c = cfg(-2, Profile::Redis72);
        let mut ld = Loader::new(&c);
        let lp = Lp::from_elems([Elem::Int(1), Elem::Bytes(b"a")]);
        ld.blob(RDB_TYPE_LIST_QUICKLIST_2, lp.as_bytes());
        ld.list_elem(Elem::Int(1));
        ld.list_elem(Elem::Bytes(b"a"));
        // A plain node arrives as an element.
        ld.list_elem(Elem::Bytes(b"plain"));
        let Some(Value::List(l)) = ld.finish(&c) else {
            panic!("no list")
        };
        assert_eq!(
            strings(&l),
            vec![b"1".to_vec(), b"a".to_vec(), b"plain".to_vec()]
        );
        // One small node after loading: 7.2 makes it a listpack.
        assert_eq!(l.encoding(), "listpack");

        // One small node: a listpack in 7.2, a quicklist in 7.0.
        for (p, enc) in [
            (Profile::Redis72, "listpack"),
            (Profile::Redis70, "quicklist"),
        ] {
            let c = cfg(-2, p);
            let mut ld = Loader::new(&c);
            for i in 0..10 {
                ld.list_elem(Elem::Int(i));
            }
            let v = ld.finish(&c).unwrap();
            assert_eq!(v.encoding(), enc);
        }
        // A 7.2 ziplist-typed list stays a quicklist.
        let c = cfg(-2, Profile::Redis72);
        let mut ld = Loader::new(&c);
        ld.blob(RDB_TYPE_LIST_ZIPLIST, b"not looked at");
        ld.list_elem(Elem::Int(1));
        assert_eq!(ld.finish(&c).unwrap().encoding(), "quicklist");
        assert!(Loader::new(&c).finish(&c).is_none());
    }

    #[test]
    fn prev_pos_walks_back_over_all_entry_sizes() {
        let big = vec![b'q'; 5000];
        let mid = vec![b'm'; 200];
        let elems = [
            Elem::Int(1),
            Elem::Bytes(&big),
            Elem::Int(-70000),
            Elem::Bytes(&mid),
            Elem::Int(i64::MIN),
            Elem::Bytes(b""),
        ];
        let lp = Lp::from_elems(elems);
        let back: Vec<Vec<u8>> = rev_node(&lp).map(|e| e.to_vec()).collect();
        let mut fwd: Vec<Vec<u8>> = lp.iter().map(|e| e.to_vec()).collect();
        fwd.reverse();
        assert_eq!(back, fwd);
        assert_eq!(str_len(Elem::Int(i64::MIN)), 20);
        assert_eq!(str_len(Elem::Int(0)), 1);
        assert_eq!(str_len(Elem::Int(-5)), 2);
    }
}
