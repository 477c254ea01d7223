//! Ziplist: the compact sequence encoding of Redis before 7.0 (RDB types 10..=13, and the nodes
//! of quicklist 1 lists, RDB type 14).
//!
//! Layout of a blob of `N` bytes:
//!
//! ```text
//! [zlbytes: u32 LE = N] [zltail: u32 LE] [zllen: u16 LE] entry* [0xFF]
//! ```
//!
//! `zltail` is the offset of the last entry (10, the header size, when there is none) and
//! `zllen` the entry count, or 65535 when the count did not fit (then one must walk).
//!
//! Each entry is `[prevlen] [encoding] [data]`:
//!
//! * `prevlen` is the total size of the previous entry (0 for the first): one byte when below
//!   254, otherwise the byte 0xFE followed by a u32 LE. Redis sometimes keeps the 5-byte form
//!   for a small value (it avoids cascading rewrites), so both forms are accepted for any
//!   value. A first byte of 0xFF cannot start an entry: it is the terminator.
//! * `encoding`, by its first byte:
//!
//! | first byte   | meaning                                                       |
//! |--------------|---------------------------------------------------------------|
//! | `00LLLLLL`   | string of L (0..=63) bytes                                    |
//! | `01LLLLLL` + 1 byte | string, 14-bit length big-endian (these 6 bits high)   |
//! | `10xxxxxx` + 4 bytes | string, u32 BIG-endian length (Redis ignores the low 6 bits) |
//! | `0xC0`       | i16 LE follows                                                |
//! | `0xD0`       | i32 LE follows                                                |
//! | `0xE0`       | i64 LE follows                                                |
//! | `0xF0`       | 24-bit signed LE follows                                      |
//! | `0xFE`       | i8 follows                                                    |
//! | `0xF1..=0xFD`| the integer (low 4 bits) - 1, i.e. 0..=12, no data            |
//! | other `11xxxxxx` | invalid                                                   |
//!
//! Redis stores a string as an integer when it is a canonical decimal `i64` of at most 31
//! characters (in practice at most 20), picking the smallest of: immediate 0..=12, i8, i16,
//! 24-bit, i32, i64.

use crate::listpack::parse_canonical_i64;
use crate::{Elem, Error, Result};

const HEADER_SIZE: usize = 10;
const MIN_SIZE: usize = HEADER_SIZE + 1;
const END: u8 = 0xFF;
const BIG_PREVLEN: u8 = 0xFE;
/// Header count meaning "too many to store, walk to count".
pub const COUNT_UNKNOWN: u16 = u16::MAX;

const DOING_HEADER: &str = "ziplist header";
const DOING_ENTRY: &str = "ziplist entry";

/// A ziplist whose header has been checked (size field, minimum size, terminator byte, tail
/// offset within bounds). Entries are decoded lazily by [`Ziplist::iter`].
#[derive(Debug, Clone, Copy)]
pub struct Ziplist<'a> {
    data: &'a [u8],
}

impl<'a> Ziplist<'a> {
    /// Check the header: at least 11 bytes, `zlbytes` equals `data.len()`, the last byte is
    /// 0xFF, and `zltail` is not past the terminator. Entries are not looked at.
    pub fn parse(data: &'a [u8]) -> Result<Ziplist<'a>> {
        if data.len() < MIN_SIZE {
            return Err(Error::corrupt(
                format!(
                    "ziplist of {} bytes is shorter than the {MIN_SIZE}-byte minimum",
                    data.len()
                ),
                0,
                DOING_HEADER,
            ));
        }
        let total = read_u32_le(data, 0);
        if u64::from(total) != data.len() as u64 {
            return Err(Error::corrupt(
                format!(
                    "ziplist header says {total} bytes but the blob has {}",
                    data.len()
                ),
                0,
                DOING_HEADER,
            ));
        }
        let last = data.len() - 1;
        if data[last] != END {
            return Err(Error::corrupt(
                format!(
                    "ziplist does not end with 0xFF (last byte is 0x{:02x})",
                    data[last]
                ),
                last as u64,
                DOING_HEADER,
            ));
        }
        let tail = read_u32_le(data, 4);
        if u64::from(tail) > last as u64 {
            return Err(Error::corrupt(
                format!("ziplist tail offset {tail} is past the terminator at {last}"),
                4,
                DOING_HEADER,
            ));
        }
        Ok(Ziplist { data })
    }

    /// The whole blob, header and terminator included.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.data
    }

    /// The `zltail` field: offset of the last entry.
    pub fn tail_offset(&self) -> u32 {
        read_u32_le(self.data, 4)
    }

    /// The entry count stored in the header, or `None` when it is 65535 ("unknown").
    pub fn header_count(&self) -> Option<u16> {
        let c = u16::from_le_bytes([self.data[8], self.data[9]]);
        (c != COUNT_UNKNOWN).then_some(c)
    }

    /// The number of entries: the header count when known, otherwise found by walking the
    /// entries (shallowly, as [`Ziplist::iter`] does).
    pub fn count(&self) -> Result<u32> {
        if let Some(c) = self.header_count() {
            return Ok(u32::from(c));
        }
        let mut n = 0u32;
        for e in self.iter() {
            e?;
            n = n.saturating_add(1);
        }
        Ok(n)
    }

    /// Iterate over the entries. Each entry's prevlen is skipped (not compared; see
    /// [`validate`]), its encoding decoded and its extent bounds-checked against the
    /// terminator. An invalid encoding, an entry reaching the terminator, or a terminator byte
    /// anywhere but the last position yields an error, after which the iterator is finished.
    pub fn iter(&self) -> Iter<'a> {
        Iter {
            data: self.data,
            pos: HEADER_SIZE,
            done: false,
        }
    }
}

impl<'a> IntoIterator for &Ziplist<'a> {
    type Item = Result<Elem<'a>>;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Iterator over the entries of a [`Ziplist`]; see [`Ziplist::iter`].
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    data: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Iter<'a> {
    /// Offset (within the ziplist) of the next entry to be decoded.
    pub fn offset(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = Result<Elem<'a>>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match step(self.data, self.pos) {
            Ok(Some(entry)) => {
                self.pos = entry.next;
                Some(Ok(entry.elem))
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

#[inline]
fn read_u32_le(d: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]])
}

struct Entry<'a> {
    elem: Elem<'a>,
    /// The previous-entry length this entry records.
    prevlen: u32,
    /// Offset of the next entry.
    next: usize,
}

/// Decode the entry at `pos`, or `Ok(None)` at the terminator. `data` passed
/// [`Ziplist::parse`], so its last byte is 0xFF and every entry must end before it.
#[inline]
fn step(data: &[u8], pos: usize) -> Result<Option<Entry<'_>>> {
    let end = data.len().saturating_sub(1);
    let Some(&first) = data.get(pos) else {
        return Err(Error::corrupt(
            "ziplist entry starts past the end",
            pos as u64,
            DOING_ENTRY,
        ));
    };
    if first == END {
        if pos != end {
            return Err(Error::corrupt(
                format!(
                    "ziplist terminator at offset {pos}, {} bytes before the end",
                    end - pos.min(end)
                ),
                pos as u64,
                DOING_ENTRY,
            ));
        }
        return Ok(None);
    }
    let room = end.saturating_sub(pos);
    let short = |what: &str, n: usize| {
        Error::corrupt(
            format!("ziplist entry {what} needs {n} bytes, only {room} before the terminator"),
            pos as u64,
            DOING_ENTRY,
        )
    };

    // prevlen
    let (prevlen, plen) = if first < BIG_PREVLEN {
        (u32::from(first), 1usize)
    } else {
        if room < 5 {
            return Err(short("prevlen", 5));
        }
        (read_u32_le(data, pos + 1), 5)
    };

    // encoding (the byte at pos + plen exists: plen <= room < data.len() - pos)
    let q = pos + plen;
    let enc = data[q];
    let have = room - plen; // bytes from q up to the terminator
                            // (encoding header size, data size, Some(int) for immediates)
    let (hdr, len, imm): (usize, usize, Option<i64>) = match enc {
        0x00..=0x3F => (1, usize::from(enc & 0x3F), None),
        0x40..=0x7F => {
            if have < 2 {
                return Err(short("encoding", plen + 2));
            }
            (
                2,
                (usize::from(enc & 0x3F) << 8) | usize::from(data[q + 1]),
                None,
            )
        }
        0x80..=0xBF => {
            if have < 5 {
                return Err(short("encoding", plen + 5));
            }
            let l = u32::from_be_bytes([data[q + 1], data[q + 2], data[q + 3], data[q + 4]]);
            (5, usize::try_from(l).unwrap_or(usize::MAX), None)
        }
        0xC0 => (1, 2, None),
        0xD0 => (1, 4, None),
        0xE0 => (1, 8, None),
        0xF0 => (1, 3, None),
        0xFE => (1, 1, None),
        0xF1..=0xFD => (1, 0, Some(i64::from(enc & 0x0F) - 1)),
        _ => {
            return Err(Error::corrupt(
                format!("invalid ziplist encoding byte 0x{enc:02x}"),
                q as u64,
                DOING_ENTRY,
            ))
        }
    };
    let total = (plen + hdr).saturating_add(len);
    if total > room {
        return Err(Error::corrupt(
            format!("ziplist entry of {total} bytes runs past the terminator ({room} bytes left)"),
            pos as u64,
            DOING_ENTRY,
        ));
    }
    let body = &data[q + hdr..pos + total];
    let elem = if let Some(v) = imm {
        Elem::Int(v)
    } else if enc < 0xC0 {
        Elem::Bytes(body)
    } else {
        Elem::Int(match *body {
            [a] => i64::from(a as i8),
            [a, b] => i64::from(i16::from_le_bytes([a, b])),
            [a, b, c] => i64::from(i32::from_le_bytes([0, a, b, c]) >> 8),
            [a, b, c, d] => i64::from(i32::from_le_bytes([a, b, c, d])),
            [a, b, c, d, e, f, g, h] => i64::from_le_bytes([a, b, c, d, e, f, g, h]),
            // Not reachable: the table above only gives these widths.
            _ => 0,
        })
    };
    Ok(Some(Entry {
        elem,
        prevlen,
        next: pos + total,
    }))
}

/// Check a ziplist and return its number of entries.
///
/// Shallow (`deep == false`): the header checks of [`Ziplist::parse`]; the count is the header
/// count, or when that is 65535, the result of walking the entries (which can then also fail).
///
/// Deep: additionally walk every entry, checking that it is well formed and lies before the
/// terminator, that its prevlen equals the size of the entry before it (0 for the first), that
/// the walk ends exactly at the last byte, that `zltail` is the offset of the last entry (or
/// of the terminator when there are no entries, where Redis puts it), and that a known
/// header count equals the number of entries.
pub fn validate(data: &[u8], deep: bool) -> Result<u32> {
    let zl = Ziplist::parse(data)?;
    if !deep {
        return zl.count();
    }
    let mut count = 0u32;
    let mut pos = HEADER_SIZE;
    let mut prev_size = 0usize;
    let mut last_start = HEADER_SIZE;
    while let Some(entry) = step(data, pos)? {
        if entry.prevlen as usize != prev_size {
            return Err(Error::corrupt(
                format!(
                    "ziplist entry prevlen says {}, previous entry is {prev_size} bytes",
                    entry.prevlen
                ),
                pos as u64,
                DOING_ENTRY,
            ));
        }
        count = count.saturating_add(1);
        prev_size = entry.next - pos;
        last_start = pos;
        pos = entry.next;
    }
    let tail = zl.tail_offset();
    if tail as usize != last_start {
        return Err(Error::corrupt(
            format!("ziplist tail offset {tail} but the last entry starts at {last_start}"),
            4,
            DOING_HEADER,
        ));
    }
    if let Some(h) = zl.header_count() {
        if u32::from(h) != count {
            return Err(Error::corrupt(
                format!("ziplist header count {h} but {count} entries found"),
                8,
                DOING_HEADER,
            ));
        }
    }
    Ok(count)
}

/// Builds a ziplist by appending entries, as repeated `ziplistPush(..., ZIPLIST_TAIL)` calls in
/// Redis would.
#[derive(Debug, Clone)]
pub struct Builder {
    buf: Vec<u8>,
    count: usize,
    prev_size: usize,
    last_start: usize,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    pub fn new() -> Builder {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; HEADER_SIZE]);
        Builder {
            buf,
            count: 0,
            prev_size: 0,
            last_start: HEADER_SIZE,
        }
    }

    /// Append an element as given: `Int` in the smallest integer encoding, `Bytes` always as a
    /// string (use [`Builder::push_bytes`] for Redis's string-to-integer conversion).
    pub fn push(&mut self, e: Elem) {
        match e {
            Elem::Int(v) => self.push_int(v),
            Elem::Bytes(b) => self.push_str(b),
        }
    }

    /// Append a string the way Redis's `ziplistPush` does: stored as an integer when it is a
    /// canonical decimal `i64` shorter than 32 bytes, otherwise as a string.
    pub fn push_bytes(&mut self, b: &[u8]) {
        let as_int = if b.len() < 32 {
            parse_canonical_i64(b)
        } else {
            None
        };
        match as_int {
            Some(v) => self.push_int(v),
            None => self.push_str(b),
        }
    }

    fn begin_entry(&mut self) -> usize {
        let start = self.buf.len();
        if self.prev_size < usize::from(BIG_PREVLEN) {
            self.buf.push(self.prev_size as u8);
        } else {
            // Entries are bounded by the u32 size field checked in `finish`.
            let p = u32::try_from(self.prev_size).unwrap_or(u32::MAX);
            self.buf.push(BIG_PREVLEN);
            self.buf.extend_from_slice(&p.to_le_bytes());
        }
        start
    }

    fn end_entry(&mut self, start: usize) {
        self.prev_size = self.buf.len() - start;
        self.last_start = start;
        self.count += 1;
    }

    /// Append an integer in the smallest encoding that holds it.
    pub fn push_int(&mut self, v: i64) {
        let start = self.begin_entry();
        let b = &mut self.buf;
        if (0..=12).contains(&v) {
            b.push(0xF1 + v as u8);
        } else if (-128..=127).contains(&v) {
            b.push(0xFE);
            b.push(v as i8 as u8);
        } else if (-32768..=32767).contains(&v) {
            b.push(0xC0);
            b.extend_from_slice(&(v as i16).to_le_bytes());
        } else if (-8_388_608..=8_388_607).contains(&v) {
            b.push(0xF0);
            b.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if (-2_147_483_648..=2_147_483_647).contains(&v) {
            b.push(0xD0);
            b.extend_from_slice(&(v as i32).to_le_bytes());
        } else {
            b.push(0xE0);
            b.extend_from_slice(&v.to_le_bytes());
        }
        self.end_entry(start);
    }

    /// Append bytes as a string entry, never converting to an integer.
    ///
    /// # Panics
    /// If `s` is 4 GiB or longer (the format cannot express it).
    pub fn push_str(&mut self, s: &[u8]) {
        let start = self.begin_entry();
        let len = s.len();
        if len <= 0x3F {
            self.buf.push(len as u8);
        } else if len <= 0x3FFF {
            self.buf.push(0x40 | (len >> 8) as u8);
            self.buf.push(len as u8);
        } else {
            let l32 = u32::try_from(len).expect("ziplist string longer than u32::MAX bytes");
            self.buf.push(0x80);
            self.buf.extend_from_slice(&l32.to_be_bytes());
        }
        self.buf.extend_from_slice(s);
        self.end_entry(start);
    }

    /// Entries appended so far.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Size in bytes the finished ziplist will have.
    pub fn encoded_len(&self) -> usize {
        self.buf.len() + 1
    }

    /// Write the terminator and header and return the ziplist: `zltail` at the last entry (10
    /// when empty), `zllen` the entry count or 65535 when there are 65535 or more.
    ///
    /// # Panics
    /// If the ziplist would exceed 4 GiB (its size field is 32 bits; Redis itself stops at 1
    /// GiB).
    pub fn finish(self) -> Vec<u8> {
        let mut buf = self.buf;
        buf.push(END);
        let total = u32::try_from(buf.len()).expect("ziplist larger than u32::MAX bytes");
        let tail = self.last_start as u32; // < total
                                           // 65535 itself already means "unknown", so saturating there is right.
        let count = u16::try_from(self.count).unwrap_or(COUNT_UNKNOWN);
        buf[0..4].copy_from_slice(&total.to_le_bytes());
        buf[4..8].copy_from_slice(&tail.to_le_bytes());
        buf[8..10].copy_from_slice(&count.to_le_bytes());
        buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

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

    fn build(elems: &[Elem]) -> Vec<u8> {
        let mut b = Builder::new();
        for e in elems {
            b.push(*e);
        }
        b.finish()
    }

    fn decode(data: &[u8]) -> Vec<Elem<'_>> {
        Ziplist::parse(data)
            .unwrap()
            .iter()
            .collect::<Result<Vec<_>>>()
            .unwrap()
    }

    /// The single entry of a one-element ziplist (prevlen 0 included).
    fn entry_bytes(e: Elem) -> Vec<u8> {
        let zl = build(&[e]);
        zl[HEADER_SIZE..zl.len() - 1].to_vec()
    }

    fn is_corrupt(r: Result<impl std::fmt::Debug>) -> Error {
        let e = r.unwrap_err();
        assert!(matches!(e.kind, ErrorKind::Corrupt(_)), "{e:?}");
        e
    }

    fn set_size(zl: &mut [u8]) {
        let n = zl.len() as u32;
        zl[0..4].copy_from_slice(&n.to_le_bytes());
    }

    #[test]
    fn empty_ziplist() {
        let zl = Builder::new().finish();
        assert_eq!(zl, [11, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0xFF]);
        let z = Ziplist::parse(&zl).unwrap();
        assert_eq!(z.header_count(), Some(0));
        assert_eq!(z.iter().count(), 0);
        assert_eq!(validate(&zl, true).unwrap(), 0);
        assert_eq!(validate(&zl, false).unwrap(), 0);
    }

    #[test]
    fn known_encodings_byte_for_byte() {
        assert_eq!(entry_bytes(Elem::Int(0)), [0, 0xF1]);
        assert_eq!(entry_bytes(Elem::Int(12)), [0, 0xFD]);
        assert_eq!(entry_bytes(Elem::Int(13)), [0, 0xFE, 13]);
        assert_eq!(entry_bytes(Elem::Int(-1)), [0, 0xFE, 0xFF]);
        assert_eq!(entry_bytes(Elem::Int(-128)), [0, 0xFE, 0x80]);
        assert_eq!(entry_bytes(Elem::Int(128)), [0, 0xC0, 0x80, 0x00]);
        assert_eq!(entry_bytes(Elem::Int(-32768)), [0, 0xC0, 0x00, 0x80]);
        assert_eq!(entry_bytes(Elem::Int(32768)), [0, 0xF0, 0x00, 0x80, 0x00]);
        assert_eq!(
            entry_bytes(Elem::Int(-8_388_608)),
            [0, 0xF0, 0x00, 0x00, 0x80]
        );
        assert_eq!(
            entry_bytes(Elem::Int(8_388_608)),
            [0, 0xD0, 0x00, 0x00, 0x80, 0x00]
        );
        assert_eq!(
            entry_bytes(Elem::Int(i64::MAX)),
            [0, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]
        );
        assert_eq!(entry_bytes(Elem::Bytes(b"")), [0, 0x00]);
        assert_eq!(entry_bytes(Elem::Bytes(b"ab")), [0, 0x02, b'a', b'b']);
        let e = entry_bytes(Elem::Bytes(&[b'x'; 64]));
        assert_eq!(&e[..3], [0, 0x40, 0x40]);
        let e = entry_bytes(Elem::Bytes(&[b'x'; 16384]));
        assert_eq!(&e[..6], [0, 0x80, 0x00, 0x00, 0x40, 0x00]);
    }

    #[test]
    fn int_boundaries_round_trip_and_pick_the_right_width() {
        // (value, encoding byte + data size)
        let cases: &[(i64, usize)] = &[
            (0, 1),
            (12, 1),
            (13, 2),
            (-1, 2),
            (127, 2),
            (-128, 2),
            (128, 3),
            (-129, 3),
            (32767, 3),
            (-32768, 3),
            (32768, 4),
            (-32769, 4),
            (8_388_607, 4),
            (-8_388_608, 4),
            (8_388_608, 5),
            (-8_388_609, 5),
            (i32::MAX as i64, 5),
            (i32::MIN as i64, 5),
            (i32::MAX as i64 + 1, 9),
            (i32::MIN as i64 - 1, 9),
            (i64::MAX, 9),
            (i64::MIN, 9),
        ];
        for &(v, size) in cases {
            assert_eq!(entry_bytes(Elem::Int(v)).len(), 1 + size, "value {v}");
            let zl = build(&[Elem::Int(v), Elem::Int(v)]);
            assert_eq!(decode(&zl), [Elem::Int(v), Elem::Int(v)]);
            assert_eq!(validate(&zl, true).unwrap(), 2);
            let mut b = Builder::new();
            b.push_bytes(v.to_string().as_bytes());
            b.push_bytes(v.to_string().as_bytes());
            assert_eq!(b.finish(), zl, "value {v} as string");
        }
        // Every immediate and every i8 value.
        for v in -128..=127i64 {
            let zl = build(&[Elem::Int(v)]);
            assert_eq!(decode(&zl), [Elem::Int(v)]);
        }
    }

    #[test]
    fn string_length_boundaries() {
        for len in [
            0usize, 1, 63, 64, 250, 251, 252, 253, 254, 16383, 16384, 70_000,
        ] {
            let s = vec![b's'; len];
            let zl = build(&[Elem::Bytes(&s), Elem::Bytes(&s), Elem::Int(3)]);
            assert_eq!(
                decode(&zl),
                [Elem::Bytes(&s), Elem::Bytes(&s), Elem::Int(3)],
                "len {len}"
            );
            assert_eq!(validate(&zl, true).unwrap(), 3, "len {len}");
            let hdr = if len <= 63 {
                1
            } else if len <= 16383 {
                2
            } else {
                5
            };
            let first = 1 + hdr + len;
            assert_eq!(zl[HEADER_SIZE + 1..HEADER_SIZE + 1 + hdr].len(), hdr);
            // The second entry's prevlen uses the long form exactly when first >= 254.
            let second = HEADER_SIZE + first;
            if first < 254 {
                assert_eq!(zl[second] as usize, first, "len {len}");
            } else {
                assert_eq!(zl[second], 0xFE, "len {len}");
                assert_eq!(read_u32_le(&zl, second + 1) as usize, first);
            }
        }
    }

    #[test]
    fn prevlen_253_vs_254() {
        // First entry: prevlen(1) + str6/str14 header + data. Entry of 253 total bytes: 64..
        // needs a 2-byte header, so 1 + 2 + 250 = 253, and 251 bytes gives 254.
        for (len, first_total, long) in [(250usize, 253usize, false), (251, 254, true)] {
            let s = vec![b'p'; len];
            let zl = build(&[Elem::Bytes(&s), Elem::Int(1), Elem::Int(2)]);
            let second = HEADER_SIZE + first_total;
            assert_eq!(zl[second] == 0xFE, long);
            assert_eq!(decode(&zl), [Elem::Bytes(&s), Elem::Int(1), Elem::Int(2)]);
            assert_eq!(validate(&zl, true).unwrap(), 3);
            // The third entry's prevlen is the size of the second (which includes its own
            // 1- or 5-byte prevlen).
            let second_total = if long { 5 + 1 } else { 1 + 1 };
            assert_eq!(zl[second + second_total] as usize, second_total);
            assert_eq!(
                read_u32_le(&zl, 4) as usize,
                second + second_total,
                "tail points at the third entry"
            );
        }
    }

    #[test]
    fn long_prevlen_form_for_small_value_is_accepted() {
        // Redis can leave a 5-byte prevlen holding a small value after a cascade update.
        let mut zl = vec![0; HEADER_SIZE];
        zl.extend_from_slice(&[0, 0xF2]); // entry 1: int 1, size 2
        zl.extend_from_slice(&[0xFE, 2, 0, 0, 0, 0xF3]); // entry 2: int 2, long prevlen
        zl.push(0xFF);
        set_size(&mut zl);
        zl[4] = 12;
        zl[8] = 2;
        assert_eq!(decode(&zl), [Elem::Int(1), Elem::Int(2)]);
        assert_eq!(validate(&zl, true).unwrap(), 2);
    }

    #[test]
    fn str32_ignores_low_bits_of_encoding_byte() {
        let mut zl = vec![0; HEADER_SIZE];
        zl.extend_from_slice(&[0, 0xBF, 0, 0, 0, 2, b'h', b'i']);
        zl.push(0xFF);
        set_size(&mut zl);
        zl[4] = 10;
        zl[8] = 1;
        assert_eq!(decode(&zl), [Elem::Bytes(b"hi")]);
        assert_eq!(validate(&zl, true).unwrap(), 1);
    }

    #[test]
    fn push_bytes_follows_redis_int_rules() {
        let cases: &[(&[u8], Option<i64>)] = &[
            (b"0", Some(0)),
            (b"12", Some(12)),
            (b"-5", Some(-5)),
            (b"-9223372036854775808", Some(i64::MIN)),
            (b"9223372036854775808", None),
            (b"012", None),
            (b"-0", None),
            (b"1 ", None),
            (b"", None),
            (b"+3", None),
        ];
        for &(s, want) in cases {
            let mut b = Builder::new();
            b.push_bytes(s);
            let zl = b.finish();
            match want {
                Some(v) => assert_eq!(decode(&zl), [Elem::Int(v)]),
                None => assert_eq!(decode(&zl), [Elem::Bytes(s)]),
            }
        }
        let lp = build(&[Elem::Bytes(b"12")]);
        assert_eq!(decode(&lp), [Elem::Bytes(b"12")]);
    }

    #[test]
    fn random_round_trip() {
        let mut rng = XorShift(0xfeed);
        for _ in 0..300 {
            let n = rng.below(40) as usize;
            let mut strings = Vec::new();
            let mut kinds = Vec::new();
            for _ in 0..n {
                match rng.below(4) {
                    0 => kinds.push(Some(rng.next() as i64 >> rng.below(64))),
                    1 => kinds.push(Some((rng.below(300) as i64) - 150)),
                    _ => {
                        let len = match rng.below(10) {
                            0 => rng.below(20000) as usize,
                            1 => rng.below(300) as usize,
                            _ => rng.below(70) as usize,
                        };
                        strings.push(rng.bytes(len));
                        kinds.push(None);
                    }
                }
            }
            let mut si = 0;
            let elems: Vec<Elem> = kinds
                .iter()
                .map(|k| match k {
                    Some(v) => Elem::Int(*v),
                    None => {
                        si += 1;
                        Elem::Bytes(&strings[si - 1])
                    }
                })
                .collect();
            let zl = build(&elems);
            assert_eq!(decode(&zl), elems);
            assert_eq!(validate(&zl, true).unwrap(), n as u32);
            assert_eq!(validate(&zl, false).unwrap(), n as u32);
        }
    }

    #[test]
    fn zllen_65535_means_unknown_and_is_counted() {
        let mut b = Builder::new();
        for i in 0..65_534 {
            b.push_int(i % 13);
        }
        let zl = b.clone().finish();
        assert_eq!(Ziplist::parse(&zl).unwrap().header_count(), Some(65_534));
        assert_eq!(validate(&zl, true).unwrap(), 65_534);
        b.push_int(1);
        let zl = b.clone().finish();
        assert_eq!(u16::from_le_bytes([zl[8], zl[9]]), 65_535);
        assert_eq!(Ziplist::parse(&zl).unwrap().header_count(), None);
        assert_eq!(validate(&zl, true).unwrap(), 65_535);
        assert_eq!(validate(&zl, false).unwrap(), 65_535);
        b.push_int(2);
        let zl = b.finish();
        assert_eq!(u16::from_le_bytes([zl[8], zl[9]]), 65_535);
        assert_eq!(validate(&zl, true).unwrap(), 65_536);
        assert_eq!(Ziplist::parse(&zl).unwrap().count().unwrap(), 65_536);
    }

    #[test]
    fn header_checks() {
        for short in 0..MIN_SIZE {
            is_corrupt(Ziplist::parse(&vec![0xFF; short]));
        }
        let zl = build(&[Elem::Int(1), Elem::Int(2)]);
        let mut bad = zl.clone();
        bad[0] += 1;
        is_corrupt(Ziplist::parse(&bad));
        let mut bad = zl.clone();
        *bad.last_mut().unwrap() = 0;
        is_corrupt(Ziplist::parse(&bad));
        // Tail at the terminator is allowed by the header check; one past is not.
        let mut bad = zl.clone();
        bad[4] = (zl.len() - 1) as u8;
        assert!(Ziplist::parse(&bad).is_ok());
        is_corrupt(validate(&bad, true));
        bad[4] = zl.len() as u8;
        let e = is_corrupt(Ziplist::parse(&bad));
        assert_eq!(e.offset, 4);
    }

    #[test]
    fn wrong_tail_caught_by_deep_only() {
        let mut zl = build(&[Elem::Int(1), Elem::Int(2)]);
        assert_eq!(zl[4], 12);
        zl[4] = 10;
        assert_eq!(validate(&zl, false).unwrap(), 2);
        let e = is_corrupt(validate(&zl, true));
        assert_eq!(e.offset, 4);
        // Empty ziplist must have its tail at the header end.
        let mut zl = Builder::new().finish();
        zl[4] = 9;
        is_corrupt(validate(&zl, true));
    }

    #[test]
    fn wrong_prevlen_caught_by_deep_only() {
        let mut zl = build(&[Elem::Bytes(b"abc"), Elem::Int(2), Elem::Int(3)]);
        // Second entry at 10 + 5, its prevlen must be 5.
        assert_eq!(zl[15], 5);
        zl[15] = 4;
        assert_eq!(validate(&zl, false).unwrap(), 3);
        assert_eq!(decode(&zl).len(), 3);
        let e = is_corrupt(validate(&zl, true));
        assert_eq!(e.offset, 15);
        // First entry's prevlen must be 0.
        let mut zl = build(&[Elem::Int(1)]);
        zl[10] = 1;
        is_corrupt(validate(&zl, true));
    }

    #[test]
    fn header_count_mismatch_caught_by_deep_only() {
        let mut zl = build(&[Elem::Int(1), Elem::Int(2)]);
        zl[8] = 1;
        assert_eq!(validate(&zl, false).unwrap(), 1);
        let e = is_corrupt(validate(&zl, true));
        assert_eq!(e.offset, 8);
        zl[8] = 0xFF;
        zl[9] = 0xFF;
        assert_eq!(validate(&zl, true).unwrap(), 2);
    }

    #[test]
    fn invalid_encoding_bytes() {
        let valid: Vec<u8> = vec![0xC0, 0xD0, 0xE0, 0xF0, 0xFE];
        for enc in 0xC0..=0xFFu8 {
            if valid.contains(&enc) || (0xF1..=0xFD).contains(&enc) {
                continue;
            }
            let mut zl = vec![0; HEADER_SIZE];
            zl.extend_from_slice(&[0, enc, 0, 0, 0, 0, 0, 0, 0, 0]);
            zl.push(0xFF);
            set_size(&mut zl);
            zl[4] = 10;
            zl[8] = 1;
            let z = Ziplist::parse(&zl).unwrap();
            let mut it = z.iter();
            let e = is_corrupt(it.next().unwrap());
            assert_eq!(e.offset, 11, "enc {enc:02x}");
            assert!(it.next().is_none());
        }
    }

    #[test]
    fn early_terminator_is_an_error() {
        let mut zl = build(&[Elem::Int(1), Elem::Int(2)]);
        zl[12] = 0xFF;
        let items: Vec<_> = Ziplist::parse(&zl).unwrap().iter().collect();
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].as_ref().unwrap_err().offset, 12);
        is_corrupt(validate(&zl, true));
    }

    #[test]
    fn entries_running_into_the_terminator() {
        // prevlen long form cut by the terminator.
        let mut zl = vec![0; HEADER_SIZE];
        zl.extend_from_slice(&[0xFE, 0, 0]);
        zl.push(0xFF);
        set_size(&mut zl);
        zl[4] = 10;
        is_corrupt(Ziplist::parse(&zl).unwrap().iter().next().unwrap());
        // str32 with an enormous length.
        let mut zl = vec![0; HEADER_SIZE];
        zl.extend_from_slice(&[0, 0x80, 0xFF, 0xFF, 0xFF, 0xFF, b'a']);
        zl.push(0xFF);
        set_size(&mut zl);
        zl[4] = 10;
        is_corrupt(Ziplist::parse(&zl).unwrap().iter().next().unwrap());
        // int64 missing its last byte.
        let mut zl = vec![0; HEADER_SIZE];
        zl.extend_from_slice(&[0, 0xE0, 1, 2, 3, 4, 5, 6, 7]);
        zl.push(0xFF);
        set_size(&mut zl);
        zl[4] = 10;
        is_corrupt(Ziplist::parse(&zl).unwrap().iter().next().unwrap());
    }

    #[test]
    fn every_truncation_and_every_byte_flip_is_handled() {
        let s300 = vec![b'z'; 300];
        let s20k = vec![b'w'; 20_000];
        let zl = build(&[
            Elem::Int(1),
            Elem::Int(-100),
            Elem::Int(30000),
            Elem::Int(-3_000_000),
            Elem::Int(2_000_000_000),
            Elem::Int(i64::MIN),
            Elem::Bytes(b"hello"),
            Elem::Bytes(&s300),
            Elem::Int(5),
            Elem::Bytes(&s20k),
            Elem::Bytes(b""),
        ]);
        assert_eq!(validate(&zl, true).unwrap(), 11);
        for cut in 0..zl.len() {
            let mut t = zl[..cut].to_vec();
            assert!(Ziplist::parse(&t).is_err(), "plain cut {cut}");
            if cut >= MIN_SIZE && cut < zl.len() - 1 {
                t.push(0xFF);
                set_size(&mut t);
                let _ = validate(&t, false);
                if Ziplist::parse(&t).is_ok() {
                    let _: Vec<_> = Ziplist::parse(&t).unwrap().iter().collect();
                }
                assert!(validate(&t, true).is_err(), "patched cut {cut}");
            }
        }
        // Flipping bits in the small part (the big string's payload is uninteresting).
        for i in 0..HEADER_SIZE + 400 {
            for x in [0x01u8, 0x80, 0xFF] {
                let mut bad = zl.clone();
                bad[i] ^= x;
                let deep = validate(&bad, true);
                let _ = validate(&bad, false);
                if let Ok(z) = Ziplist::parse(&bad) {
                    let items: Vec<_> = z.iter().collect();
                    if let Ok(n) = deep {
                        assert!(items.iter().all(|r| r.is_ok()));
                        assert_eq!(items.len() as u32, n);
                    }
                }
            }
        }
    }

    #[test]
    fn random_garbage_never_panics() {
        let mut rng = XorShift(4242);
        for _ in 0..20_000 {
            let len = rng.below(40) as usize + MIN_SIZE;
            let mut d = rng.bytes(len);
            set_size(&mut d);
            *d.last_mut().unwrap() = 0xFF;
            d[4..8].copy_from_slice(&(rng.below(len as u64) as u32).to_le_bytes());
            if rng.below(2) == 0 {
                d[8] = 0xFF;
                d[9] = 0xFF;
            }
            let deep = validate(&d, true);
            let shallow = validate(&d, false);
            let items: Vec<_> = Ziplist::parse(&d).unwrap().iter().collect();
            if let Ok(n) = deep {
                assert_eq!(shallow.unwrap(), n);
                assert_eq!(items.len() as u32, n);
            }
            if let Some(pos) = items.iter().position(|r| r.is_err()) {
                assert_eq!(pos, items.len() - 1);
            }
        }
    }

    #[test]
    fn encoded_len_tracks_the_finished_size_across_prevlen_and_length_edges() {
        // Entries of 253 and 254 bytes switch the next prevlen to 5 bytes; strings of 63/64 and
        // 16383/16384 bytes switch the length header. The RDB writer relies on encoded_len.
        let mut b = Builder::new();
        let mut want = Vec::new();
        for len in [250usize, 251, 63, 64, 16383, 16384, 0, 252] {
            let s = vec![b'z'; len];
            b.push_str(&s);
            want.push(s);
            assert_eq!(b.encoded_len(), b.clone().finish().len(), "len {len}");
        }
        b.push_int(12);
        b.push_int(i64::MIN);
        let zl = b.finish();
        let got = decode(&zl);
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(*g, Elem::Bytes(w));
        }
        assert_eq!(got[want.len()..], [Elem::Int(12), Elem::Int(i64::MIN)]);
        assert_eq!(validate(&zl, true).unwrap() as usize, want.len() + 2);
    }
}
