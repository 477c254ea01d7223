//! `Lp`: an owned, editable listpack (the byte layout is documented in
//! `redkit_formats::listpack`). Small hashes, sets, sorted sets and list nodes are kept in this
//! form, as Redis keeps them, so they cost about what they cost in Redis and can be written back
//! to an RDB file as they are.
//!
//! Positions are byte offsets of entries inside the blob, as returned by [`Lp::first`] and
//! [`Lp::next`]; every edit takes such a position. The blob is always a valid listpack: it is
//! either built here or was checked by [`Lp::from_blob`] (deep validation) before adoption.
//! Reads never panic even so: a malformed entry ends iteration.

use redkit_formats::listpack::{self as lpf, FIRST_ENTRY};
use redkit_formats::Elem;

const END: u8 = 0xFF;

#[derive(Clone, PartialEq, Eq)]
pub struct Lp {
    buf: Vec<u8>,
}

impl Default for Lp {
    fn default() -> Self {
        Lp::new()
    }
}

impl std::fmt::Debug for Lp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.iter()
                    .map(|e| String::from_utf8_lossy(&e.to_vec()).into_owned()),
            )
            .finish()
    }
}

/// Does listpack element `e` stand for the string `b`?
#[inline]
pub fn elem_eq(e: Elem<'_>, b: &[u8]) -> bool {
    match e {
        Elem::Bytes(x) => x == b,
        Elem::Int(i) => lpf::parse_canonical_i64(b) == Some(i),
    }
}

impl Lp {
    pub fn new() -> Lp {
        let mut buf = Vec::with_capacity(16);
        buf.extend_from_slice(&7u32.to_le_bytes());
        buf.extend_from_slice(&0u16.to_le_bytes());
        buf.push(END);
        Lp { buf }
    }

    /// Adopt a blob read from a file, after a deep validation. `None` if it is not a valid
    /// listpack.
    pub fn from_blob(blob: Vec<u8>) -> Option<Lp> {
        lpf::validate(&blob, true).ok()?;
        Some(Lp { buf: blob })
    }

    /// Build from elements, stored as `lpAppend` stores them.
    pub fn from_elems<'a>(elems: impl IntoIterator<Item = Elem<'a>>) -> Lp {
        let mut lp = Lp::new();
        for e in elems {
            lp.push_back(e);
        }
        lp
    }

    /// Build a listpack of `count` entries whose encoded bytes (each with its back-length)
    /// `fill` appends: batch edits rebuild a blob in one pass, copying untouched entries as
    /// they are.
    pub fn from_raw_entries(count: usize, fill: impl FnOnce(&mut Vec<u8>)) -> Lp {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0u8; FIRST_ENTRY]);
        fill(&mut buf);
        buf.push(END);
        let mut lp = Lp { buf };
        lp.set_total();
        let c = u16::try_from(count).unwrap_or(lpf::COUNT_UNKNOWN);
        lp.buf[4..6].copy_from_slice(&c.to_le_bytes());
        lp
    }

    /// The encoded bytes of the entries between positions `from` and `to`.
    pub fn raw(&self, from: usize, to: usize) -> &[u8] {
        self.buf.get(from..to).unwrap_or(&[])
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Size of the blob in bytes (what Redis compares with `*-max-listpack-size` limits).
    pub fn bytes_len(&self) -> usize {
        self.buf.len()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        let c = u16::from_le_bytes([self.buf[4], self.buf[5]]);
        if c != lpf::COUNT_UNKNOWN {
            return usize::from(c);
        }
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.len() <= FIRST_ENTRY + 1
    }

    /// Position of the first entry (equal to [`Lp::end`] when empty).
    #[inline]
    pub fn first(&self) -> usize {
        FIRST_ENTRY
    }

    /// Position of the terminator: inserting there appends.
    #[inline]
    pub fn end(&self) -> usize {
        self.buf.len() - 1
    }

    /// The entry at `pos` and the position after it; `None` at the end.
    #[inline]
    pub fn next(&self, pos: usize) -> Option<(Elem<'_>, usize)> {
        lpf::entry_at(&self.buf, pos).ok().flatten()
    }

    pub fn iter(&self) -> Iter<'_> {
        Iter {
            lp: self,
            pos: FIRST_ENTRY,
        }
    }

    /// Entries with their positions.
    pub fn iter_pos(&self) -> impl Iterator<Item = (usize, Elem<'_>)> + '_ {
        let mut pos = FIRST_ENTRY;
        std::iter::from_fn(move || {
            let (e, n) = self.next(pos)?;
            let at = pos;
            pos = n;
            Some((at, e))
        })
    }

    /// Position of entry number `index` (0-based), or `None` past the end.
    pub fn pos_of(&self, index: usize) -> Option<usize> {
        let mut pos = FIRST_ENTRY;
        for _ in 0..index {
            pos = self.next(pos)?.1;
        }
        self.next(pos).map(|_| pos)
    }

    /// Entry number `index`.
    pub fn get(&self, index: usize) -> Option<Elem<'_>> {
        self.next(self.pos_of(index)?).map(|(e, _)| e)
    }

    /// Position of the first entry equal to `b`, looking at every `stride`-th entry (stride 2
    /// finds hash fields / zset members among their values).
    ///
    /// This is the hot loop of small hashes and sorted sets (every HSET/ZADD looks its member
    /// up, as Redis's `lpFind` does), so it walks the raw bytes: an entry's size comes from its
    /// first bytes, strings are compared only when the lengths match, and integers only when
    /// `b` is itself a canonical integer (parsed once, not per entry).
    pub fn find(&self, b: &[u8], stride: usize) -> Option<usize> {
        let needle_int = lpf::parse_canonical_i64(b);
        let buf = &self.buf;
        let end = buf.len().checked_sub(1)?;
        let stride = stride.max(1);
        let mut pos = FIRST_ENTRY;
        let mut k = 0usize;
        while pos < end {
            let b0 = buf[pos];
            let at = |i: usize| buf.get(pos + i).copied();
            // (size of the encoding part, string bytes or integer value)
            let (enc, hit) = if b0 & 0x80 == 0 {
                (1, needle_int == Some(i64::from(b0)))
            } else if b0 & 0xC0 == 0x80 {
                let n = usize::from(b0 & 0x3F);
                (1 + n, n == b.len() && same(buf, pos + 1, b))
            } else if b0 & 0xE0 == 0xC0 {
                let raw = (i64::from(b0 & 0x1F) << 8) | i64::from(at(1)?);
                (2, needle_int == Some((raw << 51) >> 51))
            } else if b0 & 0xF0 == 0xE0 {
                let n = (usize::from(b0 & 0x0F) << 8) | usize::from(at(1)?);
                (2 + n, n == b.len() && same(buf, pos + 2, b))
            } else {
                match b0 {
                    0xF0 => {
                        let l = buf.get(pos + 1..pos + 5)?;
                        let n = u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize;
                        (5 + n, n == b.len() && same(buf, pos + 5, b))
                    }
                    0xF1..=0xF4 => {
                        let w = [2usize, 3, 4, 8][usize::from(b0 - 0xF1)];
                        let hit = match needle_int {
                            Some(want) => {
                                let raw = buf.get(pos + 1..pos + 1 + w)?;
                                let mut v = 0i64;
                                for (i, &x) in raw.iter().enumerate() {
                                    v |= i64::from(x) << (8 * i);
                                }
                                let shift = 64 - 8 * w as u32;
                                want == (v << shift) >> shift
                            }
                            None => false,
                        };
                        (1 + w, hit)
                    }
                    _ => return None,
                }
            };
            if hit && k.is_multiple_of(stride) {
                return Some(pos);
            }
            pos += enc + backlen_size(enc);
            k += 1;
        }
        None
    }

    fn set_count(&mut self, delta: isize) {
        let c = u16::from_le_bytes([self.buf[4], self.buf[5]]);
        let new = if c == lpf::COUNT_UNKNOWN {
            // Recount: it may fit again after deletions.
            self.iter().count()
        } else {
            (c as isize + delta).max(0) as usize
        };
        let c = u16::try_from(new).unwrap_or(lpf::COUNT_UNKNOWN);
        self.buf[4..6].copy_from_slice(&c.to_le_bytes());
    }

    fn set_total(&mut self) {
        let t = u32::try_from(self.buf.len()).unwrap_or(u32::MAX);
        self.buf[0..4].copy_from_slice(&t.to_le_bytes());
    }

    /// Append, converting canonical integers as Redis does.
    pub fn push_back(&mut self, e: Elem<'_>) {
        self.buf.pop();
        lpf::write_entry(&mut self.buf, e);
        self.buf.push(END);
        self.set_total();
        self.set_count(1);
    }

    pub fn push_back_bytes(&mut self, b: &[u8]) {
        self.push_back(Elem::Bytes(b));
    }

    pub fn push_front(&mut self, e: Elem<'_>) {
        self.insert(FIRST_ENTRY, &[e]);
    }

    /// Insert `elems` before the entry at `pos` (`pos == end()` appends).
    pub fn insert(&mut self, pos: usize, elems: &[Elem<'_>]) {
        let mut enc = Vec::new();
        for &e in elems {
            lpf::write_entry(&mut enc, e);
        }
        self.buf.splice(pos..pos, enc);
        self.set_total();
        self.set_count(elems.len() as isize);
    }

    /// Delete up to `n` entries starting at `pos`; returns how many were deleted.
    pub fn delete(&mut self, pos: usize, n: usize) -> usize {
        let mut end = pos;
        let mut k = 0;
        while k < n {
            match self.next(end) {
                Some((_, nx)) => {
                    end = nx;
                    k += 1;
                }
                None => break,
            }
        }
        self.buf.drain(pos..end);
        self.set_total();
        self.set_count(-(k as isize));
        k
    }

    /// Replace the entry at `pos` with `e`; returns the position after the new entry.
    pub fn replace(&mut self, pos: usize, e: Elem<'_>) -> usize {
        let Some((_, end)) = self.next(pos) else {
            return pos;
        };
        let mut enc = Vec::new();
        lpf::write_entry(&mut enc, e);
        let after = pos + enc.len();
        self.buf.splice(pos..end, enc);
        self.set_total();
        after
    }
}

/// Does `buf` hold `b` at `at`? The first byte is compared inline: most candidates of the same
/// length differ there, and a `memcmp` call costs more than the comparison.
#[inline]
fn same(buf: &[u8], at: usize, b: &[u8]) -> bool {
    match (buf.get(at), b.first()) {
        (Some(x), Some(y)) if x != y => false,
        _ => buf.get(at..at + b.len()) == Some(b),
    }
}

/// Bytes of the back-length after an encoding part of `enc` bytes (the listpack rule).
#[inline]
fn backlen_size(enc: usize) -> usize {
    match enc {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

pub struct Iter<'a> {
    lp: &'a Lp,
    pos: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Elem<'a>;
    #[inline]
    fn next(&mut self) -> Option<Elem<'a>> {
        let (e, n) = self.lp.next(self.pos)?;
        self.pos = n;
        Some(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(lp: &Lp) -> Vec<Vec<u8>> {
        lp.iter().map(|e| e.to_vec()).collect()
    }

    #[test]
    fn edits_match_a_vec_model() {
        let mut lp = Lp::new();
        let mut model: Vec<Vec<u8>> = Vec::new();
        let vals: Vec<Vec<u8>> = vec![
            b"a".to_vec(),
            b"123".to_vec(),
            b"-5000".to_vec(),
            vec![b'x'; 70],
            vec![b'y'; 5000],
            b"0012".to_vec(),
            b"9223372036854775807".to_vec(),
        ];
        let mut seed = 7u64;
        for round in 0..400 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let r = (seed >> 33) as usize;
            let v = &vals[r % vals.len()];
            match r % 5 {
                0 | 1 => {
                    lp.push_back_bytes(v);
                    model.push(v.clone());
                }
                2 => {
                    let i = r % (model.len() + 1);
                    let pos = lp.pos_of(i).unwrap_or(lp.end());
                    lp.insert(pos, &[Elem::Bytes(v)]);
                    model.insert(i, v.clone());
                }
                3 if !model.is_empty() => {
                    let i = r % model.len();
                    let n = 1 + r % 3;
                    let pos = lp.pos_of(i).unwrap();
                    let k = lp.delete(pos, n);
                    let real = n.min(model.len() - i);
                    assert_eq!(k, real);
                    model.drain(i..i + real);
                }
                4 if !model.is_empty() => {
                    let i = r % model.len();
                    let pos = lp.pos_of(i).unwrap();
                    lp.replace(pos, Elem::Bytes(v));
                    model[i] = v.clone();
                }
                _ => {}
            }
            assert_eq!(strings(&lp), model, "round {round}");
            assert_eq!(lp.len(), model.len());
            assert_eq!(
                lpf::validate(lp.as_bytes(), true).unwrap() as usize,
                model.len()
            );
        }
    }

    #[test]
    fn find_with_stride() {
        let lp = Lp::from_elems(
            [b"f1".as_ref(), b"v1", b"7", b"f2", b"f2", b"x"]
                .into_iter()
                .map(Elem::Bytes),
        );
        assert_eq!(lp.find(b"f2", 2), lp.pos_of(4));
        assert_eq!(lp.find(b"7", 2), lp.pos_of(2));
        assert_eq!(lp.find(b"v1", 2), None);
        // Every integer width and string length class, found by value.
        let vals: Vec<Vec<u8>> = [
            "5",
            "-100",
            "4000",
            "-30000",
            "8000000",
            "-2000000000",
            "9000000000000000000",
            "x",
            "",
            "0012",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .chain([vec![b'a'; 100], vec![b'b'; 5000]])
        .collect();
        let all = Lp::from_elems(vals.iter().map(|v| Elem::Bytes(v)));
        for (i, v) in vals.iter().enumerate() {
            assert_eq!(
                all.find(v, 1),
                all.pos_of(i),
                "{:?}",
                String::from_utf8_lossy(v)
            );
        }
        assert_eq!(all.find(b"6", 1), None);
        assert_eq!(all.find(&[b'a'; 99], 1), None);
        assert!(elem_eq(lp.get(2).unwrap(), b"7"));
    }
}
