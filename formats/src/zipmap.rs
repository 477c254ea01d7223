//! Zipmap: the compact string-to-string map of Redis before 2.6 (RDB type 9). Newer Redis
//! versions convert it to a listpack when loading.
//!
//! Layout:
//!
//! ```text
//! [zmlen: u8] ( [len] key [len] [free: u8] value [free bytes] )* [0xFF]
//! ```
//!
//! * `zmlen` is the number of pairs when below 254; 254 means "too many, walk to count".
//! * A `len` is one byte when below 254; the byte 254 is followed by the length as a u32 in
//!   the writing machine's byte order, which is little-endian for every file seen in practice
//!   (and assumed here).
//! * `free` counts unused bytes after the value, left over when a value was overwritten by a
//!   shorter one; they are skipped.
//! * A key length byte of 0xFF is the terminator instead. At a value length position 0xFF is
//!   read by Redis like 254 (a 5-byte length), and so it is here.
//!
//! Redis checks when loading that the last byte is 0xFF and, when deep checking, that every
//! pair lies within the blob, that the map is not empty and that `zmlen` (unless 254) is the
//! pair count; duplicate keys are refused when it converts the map. [`validate`] does all of
//! that and also refuses bytes after the first terminator.

use crate::{Error, ErrorKind, Result};
use std::collections::HashSet;

const END: u8 = 0xFF;
const BIG_LEN: u8 = 254;
const DOING: &str = "zipmap";
const DOING_ENTRY: &str = "zipmap entry";

/// A zipmap whose outer shape has been checked (at least 2 bytes, last byte 0xFF).
#[derive(Debug, Clone, Copy)]
pub struct Zipmap<'a> {
    data: &'a [u8],
}

impl<'a> Zipmap<'a> {
    /// Check that `data` has a count byte and ends with the 0xFF terminator. Pairs are not
    /// looked at.
    pub fn parse(data: &'a [u8]) -> Result<Zipmap<'a>> {
        if data.len() < 2 {
            return Err(Error::corrupt(
                format!(
                    "zipmap of {} bytes is shorter than the 2-byte minimum",
                    data.len()
                ),
                0,
                DOING,
            ));
        }
        let last = data.len() - 1;
        if data[last] != END {
            return Err(Error::corrupt(
                format!(
                    "zipmap does not end with 0xFF (last byte is 0x{:02x})",
                    data[last]
                ),
                last as u64,
                DOING,
            ));
        }
        Ok(Zipmap { data })
    }

    /// The whole blob.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.data
    }

    /// The pair count in the header when it is below 254, else `None`.
    pub fn header_count(&self) -> Option<u8> {
        let c = self.data[0];
        (c < BIG_LEN).then_some(c)
    }

    /// Iterate over `(key, value)` pairs, skipping free bytes, stopping at the first
    /// terminator byte. Each pair is bounds-checked against the blob's last byte; the first
    /// error ends the iteration.
    pub fn iter(&self) -> Iter<'a> {
        Iter {
            data: self.data,
            pos: 1,
            done: false,
        }
    }
}

impl<'a> IntoIterator for &Zipmap<'a> {
    type Item = Result<(&'a [u8], &'a [u8])>;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Iterator over the pairs of a [`Zipmap`]; see [`Zipmap::iter`].
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    data: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Iter<'a> {
    /// Offset of the next pair (or of the terminator once the iteration has ended normally).
    pub fn offset(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = Result<(&'a [u8], &'a [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match step(self.data, self.pos) {
            Ok(Some(p)) => {
                self.pos = p.next;
                Some(Ok((p.key, p.value)))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl std::iter::FusedIterator for Iter<'_> {}

/// Read a length at `at`: returns (length, bytes used). Something must follow the field
/// before or at `last` (the blob's last byte), as Redis requires.
fn read_len(data: &[u8], at: usize, last: usize, entry: usize) -> Result<(usize, usize)> {
    let Some(&b) = data.get(at) else {
        return Err(past_end(entry, "length"));
    };
    let size = if b < BIG_LEN { 1 } else { 5 };
    if at.saturating_add(size) > last {
        return Err(past_end(entry, "length"));
    }
    if b < BIG_LEN {
        return Ok((usize::from(b), 1));
    }
    let n = u32::from_le_bytes([data[at + 1], data[at + 2], data[at + 3], data[at + 4]]);
    Ok((usize::try_from(n).unwrap_or(usize::MAX), 5))
}

fn past_end(entry: usize, what: &str) -> Error {
    Error::corrupt(
        format!("zipmap entry {what} runs past the end"),
        entry as u64,
        DOING_ENTRY,
    )
}

/// One decoded pair and the offset of the next.
struct Pair<'a> {
    key: &'a [u8],
    value: &'a [u8],
    next: usize,
}

/// Decode the pair at `pos`, or `Ok(None)` at a terminator.
fn step(data: &[u8], pos: usize) -> Result<Option<Pair<'_>>> {
    let last = data.len().saturating_sub(1);
    let Some(&b) = data.get(pos) else {
        return Err(past_end(pos, "start"));
    };
    if b == END {
        return Ok(None);
    }
    let (klen, ks) = read_len(data, pos, last, pos)?;
    let kstart = pos + ks;
    let kend = kstart.saturating_add(klen);
    if kend > last {
        return Err(past_end(pos, "key"));
    }
    let (vlen, vs) = read_len(data, kend, last, pos)?;
    let free_at = kend + vs; // <= last, checked by read_len
    let Some(&free) = data.get(free_at) else {
        return Err(past_end(pos, "free byte"));
    };
    let free = usize::from(free);
    let vstart = free_at + 1;
    let vend = vstart.saturating_add(vlen);
    let next = vend.saturating_add(free);
    if next > last {
        return Err(past_end(pos, "value"));
    }
    Ok(Some(Pair {
        key: &data[kstart..kend],
        value: &data[vstart..vend],
        next,
    }))
}

/// Check a zipmap and return its number of pairs.
///
/// Shallow: the checks of [`Zipmap::parse`]; the count is `zmlen` when below 254, else found
/// by walking the pairs (which can then fail).
///
/// Deep: walk every pair within bounds, then require at least one pair, `zmlen` equal to the
/// count unless it is 254 (Redis's rule: 255 is not "unknown"), no duplicate keys, and nothing
/// after the first terminator.
pub fn validate(data: &[u8], deep: bool) -> Result<u32> {
    let zm = Zipmap::parse(data)?;
    if !deep {
        if let Some(c) = zm.header_count() {
            return Ok(u32::from(c));
        }
        let mut n = 0u32;
        for p in zm.iter() {
            p?;
            n = n.saturating_add(1);
        }
        return Ok(n);
    }
    let mut keys: HashSet<&[u8]> = HashSet::new();
    let mut pos = 1;
    while let Some(p) = step(data, pos)? {
        if !keys.insert(p.key) {
            return Err(Error::corrupt(
                format!("duplicate zipmap key '{}'", crate::escape_key(p.key)),
                pos as u64,
                DOING_ENTRY,
            ));
        }
        pos = p.next;
    }
    let count = keys.len() as u64;
    if count == 0 {
        return Err(Error::corrupt("zipmap is empty", 0, DOING));
    }
    let zmlen = data[0];
    if zmlen != BIG_LEN && u64::from(zmlen) != count {
        return Err(Error::corrupt(
            format!("zipmap header count {zmlen} but {count} pairs found"),
            0,
            DOING,
        ));
    }
    let trailing = data.len() - 1 - pos;
    if trailing != 0 {
        return Err(Error::new(
            ErrorKind::Trailing(trailing as u64),
            (pos + 1) as u64,
            DOING,
        ));
    }
    Ok(u32::try_from(count).unwrap_or(u32::MAX))
}

/// Encode pairs as a zipmap with no free bytes, in the given order (duplicates are written as
/// given). `zmlen` is the pair count, or 254 when there are 254 or more.
///
/// # Panics
/// If a key or value is 4 GiB or longer.
pub fn encode(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
    let size: usize = pairs
        .iter()
        .map(|(k, v)| k.len() + v.len() + 11)
        .sum::<usize>()
        + 2;
    let mut out = Vec::with_capacity(size);
    out.push(u8::try_from(pairs.len()).unwrap_or(BIG_LEN).min(BIG_LEN));
    for (k, v) in pairs {
        write_len(&mut out, k.len());
        out.extend_from_slice(k);
        write_len(&mut out, v.len());
        out.push(0);
        out.extend_from_slice(v);
    }
    out.push(END);
    out
}

fn write_len(out: &mut Vec<u8>, len: usize) {
    if len < usize::from(BIG_LEN) {
        out.push(len as u8);
    } else {
        let l = u32::try_from(len).expect("zipmap string longer than u32::MAX bytes");
        out.push(BIG_LEN);
        out.extend_from_slice(&l.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    fn is_corrupt(r: Result<impl std::fmt::Debug>) -> Error {
        let e = r.unwrap_err();
        assert!(matches!(e.kind, ErrorKind::Corrupt(_)), "{e:?}");
        e
    }

    fn pairs(data: &[u8]) -> Vec<(&[u8], &[u8])> {
        Zipmap::parse(data)
            .unwrap()
            .iter()
            .collect::<Result<Vec<_>>>()
            .unwrap()
    }

    #[test]
    fn example_layout() {
        let zm = encode(&[(b"foo", b"bar"), (b"hello", b"world")]);
        assert_eq!(zm, b"\x02\x03foo\x03\x00bar\x05hello\x05\x00world\xff");
        assert_eq!(
            pairs(&zm),
            [(&b"foo"[..], &b"bar"[..]), (&b"hello"[..], &b"world"[..])]
        );
        assert_eq!(validate(&zm, true).unwrap(), 2);
        assert_eq!(validate(&zm, false).unwrap(), 2);
    }

    #[test]
    fn free_bytes_are_skipped() {
        let zm = b"\x02\x01a\x02\x03xy...\x01b\x00\x01?\xff";
        assert_eq!(pairs(zm), [(&b"a"[..], &b"xy"[..]), (&b"b"[..], &b""[..])]);
        assert_eq!(validate(zm, true).unwrap(), 2);
    }

    #[test]
    fn length_253_254_boundary() {
        for len in [0usize, 1, 252, 253, 254, 255, 70_000] {
            let k = vec![b'k'; len];
            let v = vec![b'v'; len];
            let zm = encode(&[(&k, &v), (b"x", b"y")]);
            let field = if len < 254 { 1 } else { 5 };
            assert_eq!(zm.len(), 1 + 2 * (field + len) + 1 + 5 + 1, "len {len}");
            if len >= 254 {
                assert_eq!(zm[1], 254);
                assert_eq!(&zm[2..6], (len as u32).to_le_bytes());
            }
            assert_eq!(
                pairs(&zm),
                [(&k[..], &v[..]), (&b"x"[..], &b"y"[..])],
                "len {len}"
            );
            assert_eq!(validate(&zm, true).unwrap(), 2);
        }
    }

    #[test]
    fn value_length_byte_255_reads_as_long_form() {
        let zm = b"\x01\x01a\xff\x02\x00\x00\x00\x00hi\xff";
        assert_eq!(pairs(zm), [(&b"a"[..], &b"hi"[..])]);
        assert_eq!(validate(zm, true).unwrap(), 1);
    }

    #[test]
    fn zmlen_254_and_more() {
        let keys: Vec<Vec<u8>> = (0..300).map(|i: u32| i.to_string().into_bytes()).collect();
        for n in [253usize, 254, 255, 300] {
            let ps: Vec<(&[u8], &[u8])> = keys[..n].iter().map(|k| (&k[..], &b"v"[..])).collect();
            let zm = encode(&ps);
            assert_eq!(zm[0] as usize, n.min(254));
            let z = Zipmap::parse(&zm).unwrap();
            assert_eq!(z.header_count().is_some(), n < 254);
            assert_eq!(validate(&zm, true).unwrap(), n as u32);
            assert_eq!(validate(&zm, false).unwrap(), n as u32);
        }
        // zmlen 255 is not "unknown" to Redis's check: it must equal the count.
        let mut zm = encode(&[(b"a", b"1")]);
        zm[0] = 255;
        assert_eq!(Zipmap::parse(&zm).unwrap().header_count(), None);
        is_corrupt(validate(&zm, true));
    }

    #[test]
    fn deep_checks() {
        // Count mismatch.
        let mut zm = encode(&[(b"a", b"1"), (b"b", b"2")]);
        zm[0] = 3;
        assert_eq!(validate(&zm, false).unwrap(), 3);
        let e = is_corrupt(validate(&zm, true));
        assert_eq!(e.offset, 0);
        // Duplicate key.
        let zm = encode(&[(b"a", b"1"), (b"b", b"2"), (b"a", b"3")]);
        assert_eq!(validate(&zm, false).unwrap(), 3);
        let e = is_corrupt(validate(&zm, true));
        assert_eq!(e.offset, 11);
        // Empty.
        let zm = encode(&[]);
        assert_eq!(zm, [0, 0xFF]);
        assert_eq!(validate(&zm, false).unwrap(), 0);
        is_corrupt(validate(&zm, true));
        // Trailing bytes after the first terminator.
        let mut zm = encode(&[(b"a", b"1")]);
        zm.extend_from_slice(b"junk\xff");
        assert_eq!(pairs(&zm), [(&b"a"[..], &b"1"[..])]);
        let e = validate(&zm, true).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Trailing(5));
        assert_eq!(e.offset, 7);
    }

    #[test]
    fn shape_checks() {
        is_corrupt(Zipmap::parse(b""));
        is_corrupt(Zipmap::parse(b"\xff"));
        is_corrupt(Zipmap::parse(b"\x00\x00"));
        assert!(Zipmap::parse(b"\x00\xff").is_ok());
    }

    #[test]
    fn truncation_at_every_byte() {
        let big = vec![b'B'; 300];
        let zm = encode(&[(b"key", b"value"), (&big, b"x"), (b"k2", &big), (b"", b"")]);
        assert_eq!(validate(&zm, true).unwrap(), 4);
        for cut in 0..zm.len() {
            let t = &zm[..cut];
            assert!(Zipmap::parse(t).is_err() || validate(t, true).is_err());
            // With a terminator appended it parses, but the pair that was cut must fail (or,
            // cut on a pair boundary, the count no longer matches).
            let mut t = t.to_vec();
            t.push(0xFF);
            if cut >= 1 && cut < zm.len() - 1 {
                assert!(validate(&t, true).is_err(), "cut {cut}");
                let _: Vec<_> = Zipmap::parse(&t).unwrap().iter().collect();
                let _ = validate(&t, false);
            }
        }
    }

    #[test]
    fn long_lengths_do_not_overflow() {
        let zm = b"\x01\xfe\xff\xff\xff\xffab\xff";
        let e = is_corrupt(Zipmap::parse(zm).unwrap().iter().next().unwrap());
        assert_eq!(e.offset, 1);
        let zm = b"\x01\x01a\xfe\xff\xff\xff\xff\x00\xff";
        is_corrupt(Zipmap::parse(zm).unwrap().iter().next().unwrap());
        // Free byte pushing past the end.
        let zm = b"\x01\x01a\x01\xff1\xff";
        is_corrupt(Zipmap::parse(zm).unwrap().iter().next().unwrap());
    }

    #[test]
    fn random_round_trip_and_garbage() {
        let mut rng = XorShift(2024);
        for _ in 0..300 {
            let n = rng.below(20) as usize;
            let owned: Vec<(Vec<u8>, Vec<u8>)> = (0..n)
                .map(|i| {
                    let (kl, vl) = (rng.below(300) as usize, rng.below(300) as usize);
                    let mut k = rng.bytes(kl);
                    k.extend_from_slice(&(i as u32).to_le_bytes()); // unique
                    (k, rng.bytes(vl))
                })
                .collect();
            let ps: Vec<(&[u8], &[u8])> = owned.iter().map(|(k, v)| (&k[..], &v[..])).collect();
            let zm = encode(&ps);
            assert_eq!(pairs(&zm), ps);
            if n > 0 {
                assert_eq!(validate(&zm, true).unwrap(), n as u32);
            }
        }
        for _ in 0..20_000 {
            let len = rng.below(30) as usize + 2;
            let mut d = rng.bytes(len);
            *d.last_mut().unwrap() = 0xFF;
            let deep = validate(&d, true);
            let _ = validate(&d, false);
            let items: Vec<_> = Zipmap::parse(&d).unwrap().iter().collect();
            if let Ok(n) = deep {
                assert_eq!(items.len() as u32, n);
                assert!(items.iter().all(|r| r.is_ok()));
            }
        }
    }

    #[test]
    fn encode_binary_pairs_round_trip() {
        let k: Vec<u8> = (0..=255u8).collect();
        let v = vec![0xFFu8; 253];
        let zm = encode(&[(&k, &v), (b"", b"")]);
        assert_eq!(pairs(&zm), [(&k[..], &v[..]), (&b""[..], &b""[..])]);
        assert_eq!(validate(&zm, true).unwrap(), 2);
        assert_eq!(encode(&[]), [0, 0xFF]);
    }
}
