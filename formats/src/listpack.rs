//! Listpack: the compact sequence of strings and integers behind small lists, hashes, sets,
//! sorted sets and stream nodes since Redis 7 (RDB types 16..=20 and inside quicklist 2 nodes).
//!
//! Layout of a blob of `N` bytes:
//!
//! ```text
//! [total: u32 LE = N] [count: u16 LE] entry* [0xFF]
//! ```
//!
//! `count` is the number of entries, or 65535 when there are too many to record (then the only
//! way to know is to walk). The minimum listpack is the 7 bytes of an empty one.
//!
//! Each entry is an *encoding* part followed by a *back-length*. The first byte of the encoding
//! part says what follows:
//!
//! | first byte  | meaning                      | encoding part size                  |
//! |-------------|------------------------------|-------------------------------------|
//! | `0xxxxxxx`  | unsigned int 0..=127         | 1                                   |
//! | `10LLLLLL`  | string of L (0..=63) bytes   | 1 + L                               |
//! | `110xxxxx`  | 13-bit signed int, with the next byte as the low 8 bits (-4096..=4095) | 2 |
//! | `1110LLLL`  | string, length 12 bits: these 4 high, next byte low (0..=4095) | 2 + L     |
//! | `0xF0`      | string, length in the next 4 bytes (u32 LE)               | 5 + L  |
//! | `0xF1`      | i16 LE                       | 3                                   |
//! | `0xF2`      | 24-bit signed LE             | 4                                   |
//! | `0xF3`      | i32 LE                       | 5                                   |
//! | `0xF4`      | i64 LE                       | 9                                   |
//! | `0xF5..=0xFE` | invalid                    |                                     |
//! | `0xFF`      | end of listpack (not an entry) |                                   |
//!
//! The back-length stores the size `S` of the encoding part so the list can be walked from the
//! end. It is written in 7-bit groups, most significant group first; every byte except the first
//! has its high bit set, so reading backwards from the byte just before the next entry one can
//! tell where it stops. Its size depends only on `S`: 1 byte when `S <= 127`, 2 when `S < 16383`,
//! 3 when `S < 2097151`, 4 when `S < 268435455`, else 5 (Redis's cut-offs, which are one lower
//! than the 7-bit group boundaries beyond the first; they must be followed exactly because a
//! forward walk computes the back-length size from `S` instead of reading it).
//!
//! Redis stores every value that is a canonical decimal integer (see [`parse_canonical_i64`])
//! in the smallest integer encoding, so decoders report [`Elem::Int`] for those and
//! [`Elem::Bytes`] for the rest; both stand for the same string.

use crate::{Elem, Error, Result};

const HEADER_SIZE: usize = 6;
const MIN_SIZE: usize = HEADER_SIZE + 1;
const END: u8 = 0xFF;
/// Header count meaning "too many to store, walk to count".
pub const COUNT_UNKNOWN: u16 = u16::MAX;

const DOING_HEADER: &str = "listpack header";
const DOING_ENTRY: &str = "listpack entry";

/// A listpack whose header has been checked (size field, minimum size, terminator byte).
/// Entries are decoded lazily by [`Listpack::iter`].
#[derive(Debug, Clone, Copy)]
pub struct Listpack<'a> {
    data: &'a [u8],
}

impl<'a> Listpack<'a> {
    /// Check the header: at least 7 bytes, the total-bytes field equals `data.len()`, and the
    /// last byte is the 0xFF terminator. Entries are not looked at.
    pub fn parse(data: &'a [u8]) -> Result<Listpack<'a>> {
        if data.len() < MIN_SIZE {
            return Err(Error::corrupt(
                format!(
                    "listpack of {} bytes is shorter than the {MIN_SIZE}-byte minimum",
                    data.len()
                ),
                0,
                DOING_HEADER,
            ));
        }
        let total = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
        if u64::from(total) != data.len() as u64 {
            return Err(Error::corrupt(
                format!(
                    "listpack header says {total} bytes but the blob has {}",
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
                    "listpack does not end with 0xFF (last byte is 0x{:02x})",
                    data[last]
                ),
                last as u64,
                DOING_HEADER,
            ));
        }
        Ok(Listpack { data })
    }

    /// The whole blob, header and terminator included.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.data
    }

    /// The entry count stored in the header, or `None` when it is 65535 ("unknown").
    pub fn header_count(&self) -> Option<u32> {
        let c = u16::from_le_bytes([self.data[4], self.data[5]]);
        (c != COUNT_UNKNOWN).then_some(u32::from(c))
    }

    /// The number of entries: the header count when it is known, otherwise found by walking
    /// the entries (shallowly, as [`Listpack::iter`] does).
    pub fn count(&self) -> Result<u32> {
        if let Some(c) = self.header_count() {
            return Ok(c);
        }
        let mut n = 0u32;
        for e in self.iter() {
            e?;
            n = n.saturating_add(1);
        }
        Ok(n)
    }

    /// Iterate over the entries, decoding each one's encoding part and skipping its
    /// back-length by computing its size (the back-length bytes are not read; see [`validate`]
    /// for that). Every read is bounds-checked; an entry reaching the terminator, an invalid
    /// encoding byte or a terminator byte anywhere but the last position yields an error,
    /// after which the iterator is finished.
    pub fn iter(&self) -> Iter<'a> {
        Iter {
            data: self.data,
            pos: HEADER_SIZE,
            done: false,
        }
    }
}

impl<'a> IntoIterator for &Listpack<'a> {
    type Item = Result<Elem<'a>>;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Iterator over the entries of a [`Listpack`]; see [`Listpack::iter`].
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    data: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Iter<'a> {
    /// Offset (within the listpack) of the next entry to be decoded.
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

/// One decoded entry.
struct Entry<'a> {
    elem: Elem<'a>,
    /// Size of the encoding part (what the back-length must say).
    enc_len: usize,
    /// Offset of the next entry (past the back-length).
    next: usize,
}

/// Decode the entry at `pos`, or `Ok(None)` at the terminator. `data` is a whole listpack that
/// passed [`Listpack::parse`], so its last byte is 0xFF and entries must end before it.
#[inline]
fn step(data: &[u8], pos: usize) -> Result<Option<Entry<'_>>> {
    // The terminator's position: nothing of an entry may reach it.
    let end = data.len().saturating_sub(1);
    let Some(&b0) = data.get(pos) else {
        return Err(Error::corrupt(
            "listpack entry starts past the end",
            pos as u64,
            DOING_ENTRY,
        ));
    };
    if b0 == END {
        if pos != end {
            return Err(Error::corrupt(
                format!(
                    "listpack terminator at offset {pos}, {} bytes before the end",
                    end - pos.min(end)
                ),
                pos as u64,
                DOING_ENTRY,
            ));
        }
        return Ok(None);
    }
    // Bytes available to this entry (encoding part plus back-length).
    let room = end.saturating_sub(pos);
    let header = |n: usize| -> Result<&[u8]> {
        if n > room {
            Err(Error::corrupt(
                format!("listpack entry header needs {n} bytes, only {room} before the terminator"),
                pos as u64,
                DOING_ENTRY,
            ))
        } else {
            Ok(&data[pos..pos + n])
        }
    };

    // (encoding part size, header size for strings or 0 for ints, integer value)
    let (enc_len, str_hdr, int): (usize, usize, i64) = if b0 & 0x80 == 0 {
        (1, 0, i64::from(b0))
    } else if b0 & 0xC0 == 0x80 {
        (1 + usize::from(b0 & 0x3F), 1, 0)
    } else if b0 & 0xE0 == 0xC0 {
        let h = header(2)?;
        let raw = (i64::from(h[0] & 0x1F) << 8) | i64::from(h[1]);
        (2, 0, sign_extend(raw, 13))
    } else if b0 & 0xF0 == 0xE0 {
        let h = header(2)?;
        let len = (usize::from(h[0] & 0x0F) << 8) | usize::from(h[1]);
        (2 + len, 2, 0)
    } else {
        match b0 {
            0xF0 => {
                let h = header(5)?;
                let len = u32::from_le_bytes([h[1], h[2], h[3], h[4]]);
                let len = usize::try_from(len).unwrap_or(usize::MAX);
                (len.saturating_add(5), 5, 0)
            }
            0xF1 => {
                let h = header(3)?;
                (3, 0, i64::from(i16::from_le_bytes([h[1], h[2]])))
            }
            0xF2 => {
                let h = header(4)?;
                let raw = i64::from(h[1]) | i64::from(h[2]) << 8 | i64::from(h[3]) << 16;
                (4, 0, sign_extend(raw, 24))
            }
            0xF3 => {
                let h = header(5)?;
                (
                    5,
                    0,
                    i64::from(i32::from_le_bytes([h[1], h[2], h[3], h[4]])),
                )
            }
            0xF4 => {
                let h = header(9)?;
                let mut b = [0u8; 8];
                b.copy_from_slice(&h[1..9]);
                (9, 0, i64::from_le_bytes(b))
            }
            _ => {
                return Err(Error::corrupt(
                    format!("invalid listpack encoding byte 0x{b0:02x}"),
                    pos as u64,
                    DOING_ENTRY,
                ))
            }
        }
    };
    let total = enc_len.saturating_add(backlen_size(enc_len as u64));
    if total > room {
        return Err(Error::corrupt(
            format!("listpack entry of {total} bytes runs past the terminator ({room} bytes left)"),
            pos as u64,
            DOING_ENTRY,
        ));
    }
    let elem = if str_hdr == 0 {
        Elem::Int(int)
    } else {
        Elem::Bytes(&data[pos + str_hdr..pos + enc_len])
    };
    Ok(Some(Entry {
        elem,
        enc_len,
        next: pos + total,
    }))
}

/// Interpret the low `bits` bits of `raw` as a two's complement number.
#[inline]
fn sign_extend(raw: i64, bits: u32) -> i64 {
    let shift = 64 - bits;
    (raw << shift) >> shift
}

/// Number of bytes of the back-length for an encoding part of `len` bytes.
#[inline]
fn backlen_size(len: u64) -> usize {
    if len <= 127 {
        1
    } else if len < 16383 {
        2
    } else if len < 2_097_151 {
        3
    } else if len < 268_435_455 {
        4
    } else {
        5
    }
}

/// Append the back-length of `len` (most significant 7-bit group first, continuation bit on
/// every byte but the first).
fn write_backlen(out: &mut Vec<u8>, len: u64) {
    let n = backlen_size(len);
    for i in (0..n).rev() {
        let group = ((len >> (7 * i)) & 0x7F) as u8;
        out.push(if i == n - 1 { group } else { group | 0x80 });
    }
}

/// Read a back-length backwards from its last byte at `last`, the way Redis does when walking
/// a listpack from the end: up to 5 bytes, stopping at the first byte without the high bit.
/// `None` if it would need a sixth byte or run off the start of `data`.
fn read_backlen(data: &[u8], last: usize) -> Option<u64> {
    let mut val = 0u64;
    let mut shift = 0u32;
    let mut i = last;
    loop {
        let b = *data.get(i)?;
        val |= u64::from(b & 0x7F) << shift;
        if b & 0x80 == 0 {
            return Some(val);
        }
        shift += 7;
        if shift > 28 {
            return None;
        }
        i = i.checked_sub(1)?;
    }
}

/// Check a listpack and return its number of entries.
///
/// Shallow (`deep == false`): the header checks of [`Listpack::parse`]; the count is the header
/// count, or when that is 65535, the result of walking the entries (which can then also fail).
///
/// Deep: additionally walk every entry, checking that it is well formed and lies before the
/// terminator, that its back-length decodes (reading backwards, as Redis does) to the size of
/// its encoding part, that the walk ends exactly at the last byte, and that a known header
/// count equals the number of entries. These are the checks of Redis's deep integrity
/// validation.
pub fn validate(data: &[u8], deep: bool) -> Result<u32> {
    let lp = Listpack::parse(data)?;
    if !deep {
        return lp.count();
    }
    let mut count = 0u32;
    let mut pos = HEADER_SIZE;
    // `step` rejects a terminator anywhere but the last byte, so reaching `None` means the walk
    // ended exactly at the end.
    while let Some(entry) = step(data, pos)? {
        let bl = read_backlen(data, entry.next - 1);
        if bl != Some(entry.enc_len as u64) {
            return Err(Error::corrupt(
                match bl {
                    Some(v) => format!(
                        "listpack entry back-length says {v}, entry is {} bytes",
                        entry.enc_len
                    ),
                    None => "listpack entry back-length is malformed".to_string(),
                },
                (pos + entry.enc_len) as u64,
                DOING_ENTRY,
            ));
        }
        count = count.saturating_add(1);
        pos = entry.next;
    }
    if let Some(h) = lp.header_count() {
        if h != count {
            return Err(Error::corrupt(
                format!("listpack header count {h} but {count} entries found"),
                4,
                DOING_HEADER,
            ));
        }
    }
    Ok(count)
}

/// Parse `s` as Redis does when deciding whether a string can be stored as an integer: only
/// the canonical decimal form of an `i64` qualifies (optional `-`, no leading zeros, no `+`, no
/// spaces, not `-0`, at most 20 bytes, no overflow). Converting the result back to decimal
/// gives exactly `s`. Used by both [`Builder::push_bytes`] and the ziplist builder.
pub fn parse_canonical_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if neg {
        if v > (i64::MAX as u64) + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else {
        i64::try_from(v).ok()
    }
}

/// Append one whole integer entry (encoding part and back-length) to `out`, in the smallest
/// integer encoding that holds `v`.
pub fn write_int_entry(out: &mut Vec<u8>, v: i64) {
    let start = out.len();
    if (0..=127).contains(&v) {
        out.push(v as u8);
    } else if (-4096..=4095).contains(&v) {
        let u = (v as u16) & 0x1FFF;
        out.push(0xC0 | (u >> 8) as u8);
        out.push(u as u8);
    } else if (-32768..=32767).contains(&v) {
        out.push(0xF1);
        out.extend_from_slice(&(v as i16).to_le_bytes());
    } else if (-8_388_608..=8_388_607).contains(&v) {
        out.push(0xF2);
        out.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
    } else if (-2_147_483_648..=2_147_483_647).contains(&v) {
        out.push(0xF3);
        out.extend_from_slice(&(v as i32).to_le_bytes());
    } else {
        out.push(0xF4);
        out.extend_from_slice(&v.to_le_bytes());
    }
    let enc_len = (out.len() - start) as u64;
    write_backlen(out, enc_len);
}

/// Append one whole string entry to `out`, never converting to an integer.
///
/// # Panics
/// If `s` is 4 GiB or longer (the format cannot express it).
pub fn write_str_entry(out: &mut Vec<u8>, s: &[u8]) {
    let start = out.len();
    let len = s.len();
    if len < 64 {
        out.push(0x80 | len as u8);
    } else if len < 4096 {
        out.push(0xE0 | (len >> 8) as u8);
        out.push(len as u8);
    } else {
        let l32 = u32::try_from(len).expect("listpack string longer than u32::MAX bytes");
        out.push(0xF0);
        out.extend_from_slice(&l32.to_le_bytes());
    }
    out.extend_from_slice(s);
    let enc_len = (out.len() - start) as u64;
    write_backlen(out, enc_len);
}

/// Append `e` as Redis's `lpAppend` would store it: canonical integers (and `Int`) as integers,
/// everything else as a string.
pub fn write_entry(out: &mut Vec<u8>, e: Elem) {
    match e {
        Elem::Int(v) => write_int_entry(out, v),
        Elem::Bytes(b) => match parse_canonical_i64(b) {
            Some(v) => write_int_entry(out, v),
            None => write_str_entry(out, b),
        },
    }
}

/// Decode the entry at byte `pos` of a listpack whose header passed [`Listpack::parse`]:
/// `Ok(None)` at the terminator, else the element and the position of the next entry.
#[inline]
pub fn entry_at(data: &[u8], pos: usize) -> Result<Option<(Elem<'_>, usize)>> {
    Ok(step(data, pos)?.map(|e| (e.elem, e.next)))
}

/// Offset of the first entry of every listpack.
pub const FIRST_ENTRY: usize = HEADER_SIZE;

/// Builds a listpack by appending entries, as repeated `lpAppend` calls in Redis would.
#[derive(Debug, Clone)]
pub struct Builder {
    buf: Vec<u8>,
    count: usize,
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
        Builder { buf, count: 0 }
    }

    /// Append an element as given: `Int` in the smallest integer encoding, `Bytes` always as a
    /// string (even if it looks like a number; use [`Builder::push_bytes`] for Redis's
    /// string-to-integer conversion).
    pub fn push(&mut self, e: Elem) {
        match e {
            Elem::Int(v) => self.push_int(v),
            Elem::Bytes(b) => self.push_str(b),
        }
    }

    /// Append a string the way Redis's `lpAppend` does: if it is a canonical integer
    /// ([`parse_canonical_i64`]) it is stored as an integer, otherwise as a string.
    pub fn push_bytes(&mut self, b: &[u8]) {
        match parse_canonical_i64(b) {
            Some(v) => self.push_int(v),
            None => self.push_str(b),
        }
    }

    /// Append an integer in the smallest encoding that holds it.
    pub fn push_int(&mut self, v: i64) {
        write_int_entry(&mut self.buf, v);
        self.count += 1;
    }

    /// Append bytes as a string entry, never converting to an integer.
    ///
    /// # Panics
    /// If `s` is 4 GiB or longer (the format cannot express it).
    pub fn push_str(&mut self, s: &[u8]) {
        write_str_entry(&mut self.buf, s);
        self.count += 1;
    }

    /// Entries appended so far.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Size in bytes the finished listpack will have.
    pub fn encoded_len(&self) -> usize {
        self.buf.len() + 1
    }

    /// Write the terminator and header and return the listpack. The header count is the number
    /// of entries, or 65535 when there are 65535 or more.
    ///
    /// # Panics
    /// If the listpack would exceed 4 GiB (its size field is 32 bits; Redis itself stops at 1
    /// GiB).
    pub fn finish(self) -> Vec<u8> {
        let mut buf = self.buf;
        buf.push(END);
        let total = u32::try_from(buf.len()).expect("listpack larger than u32::MAX bytes");
        // 65535 itself already means "unknown", so saturating there is right.
        let count = u16::try_from(self.count).unwrap_or(COUNT_UNKNOWN);
        buf[0..4].copy_from_slice(&total.to_le_bytes());
        buf[4..6].copy_from_slice(&count.to_le_bytes());
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
        Listpack::parse(data)
            .unwrap()
            .iter()
            .collect::<Result<Vec<_>>>()
            .unwrap()
    }

    /// Encoded entry (encoding part + back-length) of a single pushed element.
    fn entry_bytes(e: Elem) -> Vec<u8> {
        let lp = build(&[e]);
        lp[HEADER_SIZE..lp.len() - 1].to_vec()
    }

    fn is_corrupt(r: Result<impl std::fmt::Debug>) -> Error {
        let e = r.unwrap_err();
        assert!(matches!(e.kind, ErrorKind::Corrupt(_)), "{e:?}");
        e
    }

    #[test]
    fn empty_listpack() {
        let lp = Builder::new().finish();
        assert_eq!(lp, [7, 0, 0, 0, 0, 0, 0xFF]);
        let p = Listpack::parse(&lp).unwrap();
        assert_eq!(p.header_count(), Some(0));
        assert_eq!(p.iter().count(), 0);
        assert_eq!(validate(&lp, true).unwrap(), 0);
        assert_eq!(validate(&lp, false).unwrap(), 0);
    }

    #[test]
    fn known_encodings_byte_for_byte() {
        assert_eq!(entry_bytes(Elem::Int(0)), [0x00, 0x01]);
        assert_eq!(entry_bytes(Elem::Int(127)), [0x7F, 0x01]);
        assert_eq!(entry_bytes(Elem::Int(128)), [0xC0, 0x80, 0x02]);
        assert_eq!(entry_bytes(Elem::Int(-1)), [0xDF, 0xFF, 0x02]);
        assert_eq!(entry_bytes(Elem::Int(-4096)), [0xD0, 0x00, 0x02]);
        assert_eq!(entry_bytes(Elem::Int(4095)), [0xCF, 0xFF, 0x02]);
        assert_eq!(entry_bytes(Elem::Int(4096)), [0xF1, 0x00, 0x10, 0x03]);
        assert_eq!(entry_bytes(Elem::Int(-32768)), [0xF1, 0x00, 0x80, 0x03]);
        assert_eq!(
            entry_bytes(Elem::Int(32768)),
            [0xF2, 0x00, 0x80, 0x00, 0x04]
        );
        assert_eq!(
            entry_bytes(Elem::Int(-8_388_609)),
            [0xF3, 0xFF, 0xFF, 0x7F, 0xFF, 0x05]
        );
        assert_eq!(
            entry_bytes(Elem::Int(i64::MIN)),
            [0xF4, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x09]
        );
        assert_eq!(entry_bytes(Elem::Bytes(b"")), [0x80, 0x01]);
        assert_eq!(entry_bytes(Elem::Bytes(b"ab")), [0x82, b'a', b'b', 0x03]);
        // 12-bit string of 64 bytes: encoding part 66 bytes, back-length 1 byte.
        let e = entry_bytes(Elem::Bytes(&[b'x'; 64]));
        assert_eq!(&e[..2], [0xE0, 0x40]);
        assert_eq!(e[e.len() - 1], 66);
        // 200-byte string: encoding part 202 = 1*128 + 74: back-length [0x01, 0x80|74].
        let e = entry_bytes(Elem::Bytes(&[b'y'; 200]));
        assert_eq!(&e[..2], [0xE0, 0xC8]);
        assert_eq!(&e[e.len() - 2..], [0x01, 0x80 | 74]);
    }

    #[test]
    fn int_boundaries_round_trip_and_pick_the_right_width() {
        // (value, expected encoding part size)
        let cases: &[(i64, usize)] = &[
            (0, 1),
            (127, 1),
            (128, 2),
            (-1, 2),
            (-4096, 2),
            (4095, 2),
            (4096, 3),
            (-4097, 3),
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
            let e = entry_bytes(Elem::Int(v));
            assert_eq!(e.len(), size + 1, "value {v}");
            let lp = build(&[Elem::Int(v)]);
            assert_eq!(decode(&lp), [Elem::Int(v)]);
            assert_eq!(validate(&lp, true).unwrap(), 1);
            // Same through the string path.
            let mut b = Builder::new();
            b.push_bytes(v.to_string().as_bytes());
            assert_eq!(b.finish(), lp, "value {v} as string");
        }
    }

    #[test]
    fn non_canonical_wider_int_encodings_decode() {
        // Redis only writes the smallest width, but a wider one is still a valid entry.
        let mut lp = vec![0, 0, 0, 0, 1, 0];
        lp.extend_from_slice(&[0xF4, 5, 0, 0, 0, 0, 0, 0, 0, 0x09]);
        lp.extend_from_slice(&[0xF1, 0xFF, 0xFF, 0x03]);
        lp.push(0xFF);
        let n = lp.len() as u32;
        lp[0..4].copy_from_slice(&n.to_le_bytes());
        lp[4] = 2;
        assert_eq!(decode(&lp), [Elem::Int(5), Elem::Int(-1)]);
        assert_eq!(validate(&lp, true).unwrap(), 2);
    }

    #[test]
    fn string_length_boundaries() {
        for len in [
            0usize, 1, 62, 63, 64, 65, 125, 126, 127, 128, 4093, 4094, 4095, 4096, 4097, 16377,
            16378, 16379, 16380, 100_000,
        ] {
            let s = vec![b's'; len];
            let lp = build(&[Elem::Bytes(&s), Elem::Int(1)]);
            assert_eq!(decode(&lp), [Elem::Bytes(&s), Elem::Int(1)], "len {len}");
            assert_eq!(validate(&lp, true).unwrap(), 2, "len {len}");
            let hdr = if len < 64 {
                1
            } else if len < 4096 {
                2
            } else {
                5
            };
            let enc = hdr + len;
            assert_eq!(
                lp.len(),
                HEADER_SIZE + enc + backlen_size(enc as u64) + 2 + 1,
                "len {len}"
            );
        }
    }

    #[test]
    fn backlen_sizes_and_encoding() {
        for (len, size) in [
            (0u64, 1),
            (127, 1),
            (128, 2),
            (16382, 2),
            (16383, 3),
            (2_097_150, 3),
            (2_097_151, 4),
            (268_435_454, 4),
            (268_435_455, 5),
            (u32::MAX as u64, 5),
        ] {
            assert_eq!(backlen_size(len), size, "len {len}");
            let mut buf = vec![0xAA];
            write_backlen(&mut buf, len);
            assert_eq!(buf.len(), 1 + size);
            // First byte (lowest address) has no continuation bit, the others do.
            assert_eq!(buf[1] & 0x80, 0);
            assert!(buf[2..].iter().all(|b| b & 0x80 != 0));
            assert_eq!(read_backlen(&buf, buf.len() - 1), Some(len), "len {len}");
        }
        // Six bytes of continuation are rejected.
        assert_eq!(read_backlen(&[0x80; 6], 5), None);
        // Running off the start is rejected.
        assert_eq!(read_backlen(&[0x80, 0x80], 1), None);
    }

    #[test]
    fn backlen_boundary_entries_walk_correctly() {
        // Strings whose encoding part sits right at a back-length size change: 16382 vs 16383
        // (2 vs 3 bytes) with 5-byte headers: string lengths 16377 and 16378.
        for len in [16377usize, 16378] {
            let s = vec![b'q'; len];
            let lp = build(&[Elem::Bytes(&s), Elem::Bytes(b"next")]);
            assert_eq!(decode(&lp), [Elem::Bytes(&s), Elem::Bytes(b"next")]);
            assert_eq!(validate(&lp, true).unwrap(), 2);
        }
    }

    #[test]
    fn push_bytes_follows_redis_int_rules() {
        let cases: &[(&[u8], Option<i64>)] = &[
            (b"0", Some(0)),
            (b"12", Some(12)),
            (b"-12", Some(-12)),
            (b"9223372036854775807", Some(i64::MAX)),
            (b"-9223372036854775808", Some(i64::MIN)),
            (b"9223372036854775808", None),
            (b"-9223372036854775809", None),
            (b"18446744073709551616", None),
            (b"99999999999999999999", None),
            (b"012", None),
            (b"00", None),
            (b"-0", None),
            (b"-", None),
            (b"", None),
            (b"+1", None),
            (b"1 ", None),
            (b" 1", None),
            (b"1a", None),
            (b"1.0", None),
            (b"0x10", None),
            (b"-01", None),
        ];
        for &(s, want) in cases {
            assert_eq!(
                parse_canonical_i64(s),
                want,
                "{:?}",
                String::from_utf8_lossy(s)
            );
            let mut b = Builder::new();
            b.push_bytes(s);
            let lp = b.finish();
            let got = decode(&lp);
            match want {
                Some(v) => assert_eq!(got, [Elem::Int(v)]),
                None => assert_eq!(got, [Elem::Bytes(s)]),
            }
        }
        // Agreement with "parses and prints back identically" on random short strings.
        let mut rng = XorShift(17);
        for _ in 0..20_000 {
            let len = rng.below(22) as usize;
            let s: Vec<u8> = (0..len)
                .map(|_| b"-0123456789 +a"[rng.below(14) as usize])
                .collect();
            let reference = std::str::from_utf8(&s)
                .ok()
                .and_then(|t| t.parse::<i64>().ok())
                .filter(|v| v.to_string().as_bytes() == s.as_slice());
            assert_eq!(parse_canonical_i64(&s), reference, "{s:?}");
        }
    }

    #[test]
    fn push_keeps_bytes_as_strings() {
        let lp = build(&[Elem::Bytes(b"12")]);
        assert_eq!(decode(&lp), [Elem::Bytes(b"12")]);
    }

    #[test]
    fn random_round_trip() {
        let mut rng = XorShift(0xdead_beef);
        for _ in 0..300 {
            let n = rng.below(40) as usize;
            let mut strings = Vec::new();
            let mut kinds = Vec::new();
            for _ in 0..n {
                match rng.below(4) {
                    0 => kinds.push(Some(rng.next() as i64 >> rng.below(64))),
                    1 => kinds.push(Some((rng.below(20000) as i64) - 10000)),
                    _ => {
                        let len = match rng.below(10) {
                            0 => rng.below(6000) as usize,
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
            let lp = build(&elems);
            assert_eq!(decode(&lp), elems);
            assert_eq!(validate(&lp, true).unwrap(), n as u32);
            assert_eq!(validate(&lp, false).unwrap(), n as u32);
        }
    }

    #[test]
    fn count_65535_means_unknown_and_is_counted() {
        let mut b = Builder::new();
        for i in 0..65_534 {
            b.push_int(i % 100);
        }
        let lp = b.clone().finish();
        assert_eq!(Listpack::parse(&lp).unwrap().header_count(), Some(65_534));
        assert_eq!(validate(&lp, true).unwrap(), 65_534);

        b.push_int(7);
        let lp = b.clone().finish();
        assert_eq!(u16::from_le_bytes([lp[4], lp[5]]), 65_535);
        let p = Listpack::parse(&lp).unwrap();
        assert_eq!(p.header_count(), None);
        assert_eq!(p.count().unwrap(), 65_535);
        assert_eq!(validate(&lp, false).unwrap(), 65_535);
        assert_eq!(validate(&lp, true).unwrap(), 65_535);

        b.push_int(8);
        let lp = b.finish();
        assert_eq!(u16::from_le_bytes([lp[4], lp[5]]), 65_535);
        assert_eq!(validate(&lp, true).unwrap(), 65_536);
        assert_eq!(validate(&lp, false).unwrap(), 65_536);
    }

    #[test]
    fn header_count_mismatch_caught_by_deep_only() {
        let mut lp = build(&[Elem::Int(1), Elem::Int(2)]);
        lp[4] = 3;
        assert_eq!(validate(&lp, false).unwrap(), 3);
        let e = is_corrupt(validate(&lp, true));
        assert_eq!(e.offset, 4);
        assert_eq!(e.doing, DOING_HEADER);
        // Unknown count is not a mismatch.
        lp[4] = 0xFF;
        lp[5] = 0xFF;
        assert_eq!(validate(&lp, true).unwrap(), 2);
    }

    #[test]
    fn header_checks() {
        for short in 0..7 {
            is_corrupt(Listpack::parse(&vec![0xFF; short]));
        }
        let lp = build(&[Elem::Int(1)]);
        // Size field off by one either way.
        let mut bad = lp.clone();
        bad[0] += 1;
        is_corrupt(Listpack::parse(&bad));
        bad[0] -= 2;
        is_corrupt(Listpack::parse(&bad));
        // No terminator.
        let mut bad = lp.clone();
        *bad.last_mut().unwrap() = 0;
        let e = is_corrupt(Listpack::parse(&bad));
        assert_eq!(e.offset, (lp.len() - 1) as u64);
        // Trailing byte after the terminator (size field adjusted).
        let mut bad = lp.clone();
        bad.push(0xFF);
        let n = bad.len() as u32;
        bad[0..4].copy_from_slice(&n.to_le_bytes());
        let e = is_corrupt(validate(&bad, true));
        assert_eq!(e.offset, (lp.len() - 1) as u64);
    }

    #[test]
    fn bad_backlen_caught_by_deep_only() {
        let mut lp = build(&[Elem::Bytes(b"abc"), Elem::Int(5)]);
        // Backlen of the first entry is at offset 6 + 4.
        assert_eq!(lp[10], 4);
        lp[10] = 5;
        assert_eq!(validate(&lp, false).unwrap(), 2);
        assert_eq!(Listpack::parse(&lp).unwrap().iter().count(), 2);
        let e = is_corrupt(validate(&lp, true));
        assert_eq!(e.offset, 10);
        // A continuation bit makes the reader go back into the entry: still a mismatch.
        lp[10] = 0x84;
        is_corrupt(validate(&lp, true));
    }

    #[test]
    fn invalid_encoding_bytes() {
        for b in 0xF5..=0xFEu8 {
            let lp = [8, 0, 0, 0, 1, 0, b, 0xFF];
            let p = Listpack::parse(&lp).unwrap();
            let mut it = p.iter();
            let e = is_corrupt(it.next().unwrap());
            assert_eq!(e.offset, 6);
            assert_eq!(e.doing, DOING_ENTRY);
            assert!(it.next().is_none());
            is_corrupt(validate(&lp, true));
        }
    }

    #[test]
    fn early_terminator_is_an_error() {
        let mut lp = build(&[Elem::Int(1), Elem::Int(2)]);
        lp[8] = 0xFF; // second entry's encoding byte
        let p = Listpack::parse(&lp).unwrap();
        let got: Vec<_> = p.iter().collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], Ok(Elem::Int(1)));
        assert_eq!(got[1].as_ref().unwrap_err().offset, 8);
        is_corrupt(validate(&lp, true));
    }

    #[test]
    fn entries_running_into_the_terminator() {
        // A string claiming more bytes than exist.
        let lp = [9, 0, 0, 0, 1, 0, 0x85, b'a', 0xFF];
        let e = is_corrupt(Listpack::parse(&lp).unwrap().iter().next().unwrap());
        assert_eq!(e.offset, 6);
        // A 32-bit string length of 4 GiB - 1.
        let lp = [12, 0, 0, 0, 1, 0, 0xF0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        is_corrupt(Listpack::parse(&lp).unwrap().iter().next().unwrap());
        // An integer entry missing its back-length (it would overlap the terminator).
        let lp = [8, 0, 0, 0, 1, 0, 0x05, 0xFF];
        is_corrupt(Listpack::parse(&lp).unwrap().iter().next().unwrap());
    }

    #[test]
    fn every_truncation_and_every_byte_flip_is_handled() {
        let s300 = vec![b'z'; 300];
        let s5000 = vec![b'w'; 5000];
        let lp = build(&[
            Elem::Int(1),
            Elem::Int(-100),
            Elem::Int(30000),
            Elem::Int(-3_000_000),
            Elem::Int(2_000_000_000),
            Elem::Int(i64::MAX),
            Elem::Bytes(b"hello"),
            Elem::Bytes(&s300),
            Elem::Bytes(&s5000),
            Elem::Bytes(b""),
        ]);
        assert_eq!(validate(&lp, true).unwrap(), 10);
        // Truncated at every length, with the size field patched so the header check passes
        // and a terminator put at the end: must give an error or a shorter valid list, never
        // a panic.
        for cut in 0..lp.len() {
            let mut t = lp[..cut].to_vec();
            assert!(Listpack::parse(&t).is_err(), "plain cut {cut}");
            if cut >= MIN_SIZE && cut < lp.len() - 1 {
                t.push(0xFF);
                let n = t.len() as u32;
                t[0..4].copy_from_slice(&n.to_le_bytes());
                let _ = validate(&t, true);
                let _ = validate(&t, false);
                let _: Vec<_> = Listpack::parse(&t).unwrap().iter().collect();
                assert!(validate(&t, true).is_err(), "patched cut {cut}");
            }
        }
        for i in 0..lp.len() {
            for x in [0x01u8, 0x80, 0xFF] {
                let mut bad = lp.clone();
                bad[i] ^= x;
                let deep = validate(&bad, true);
                let _ = validate(&bad, false);
                if let Ok(p) = Listpack::parse(&bad) {
                    let items: Vec<_> = p.iter().collect();
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
        let mut rng = XorShift(31337);
        for _ in 0..20_000 {
            let len = rng.below(40) as usize + 7;
            let mut d = rng.bytes(len);
            d[0..4].copy_from_slice(&(len as u32).to_le_bytes());
            *d.last_mut().unwrap() = 0xFF;
            if rng.below(2) == 0 {
                d[4] = 0xFF;
                d[5] = 0xFF;
            }
            let deep = validate(&d, true);
            let shallow = validate(&d, false);
            let items: Vec<_> = Listpack::parse(&d).unwrap().iter().collect();
            if let Ok(n) = deep {
                assert_eq!(shallow.unwrap(), n);
                assert_eq!(items.len() as u32, n);
                assert!(items.iter().all(|r| r.is_ok()));
            }
            // After an error the iterator is fused.
            if let Some(pos) = items.iter().position(|r| r.is_err()) {
                assert_eq!(pos, items.len() - 1);
            }
        }
    }

    #[test]
    fn encoded_len_tracks_the_finished_size_at_every_entry_boundary() {
        // The RDB writer cuts quicklist nodes by `encoded_len`, so it must be exact.
        let mut b = Builder::new();
        let mut want: Vec<Vec<u8>> = Vec::new();
        for len in [0usize, 63, 64, 4095, 4096, 127, 128] {
            let s = vec![b'e'; len];
            b.push_str(&s);
            want.push(s);
            assert_eq!(b.encoded_len(), b.clone().finish().len(), "len {len}");
        }
        let ints = [
            127i64,
            128,
            -1,
            4095,
            -4096,
            4096,
            32767,
            -32768,
            32768,
            8_388_607,
            -8_388_608,
            8_388_608,
            2_147_483_647,
            -2_147_483_648,
            2_147_483_648,
            i64::MAX,
            i64::MIN,
        ];
        for v in ints {
            b.push_int(v);
            assert_eq!(b.encoded_len(), b.clone().finish().len(), "int {v}");
        }
        let lp = b.finish();
        let got = decode(&lp);
        assert_eq!(got.len(), want.len() + ints.len());
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(*g, Elem::Bytes(w));
        }
        for (g, w) in got[want.len()..].iter().zip(ints) {
            assert_eq!(*g, Elem::Int(w));
        }
        assert_eq!(validate(&lp, true).unwrap() as usize, got.len());
    }

    #[test]
    fn write_entry_matches_push_bytes_for_near_integers() {
        for s in [
            &b"-0"[..],
            b"007",
            b"+5",
            b" 5",
            b"5 ",
            b"12345678901234567890",
            b"9223372036854775807",
            b"-9223372036854775808",
            b"9223372036854775808",
            b"",
        ] {
            let mut a = Vec::new();
            write_entry(&mut a, Elem::Bytes(s));
            let mut b = Builder::new();
            b.push_bytes(s);
            let lp = b.finish();
            assert_eq!(&lp[HEADER_SIZE..lp.len() - 1], &a[..], "{s:?}");
            let is_int = matches!(decode(&lp)[0], Elem::Int(_));
            assert_eq!(is_int, parse_canonical_i64(s).is_some(), "{s:?}");
            assert_eq!(decode(&lp)[0].to_vec(), s, "{s:?}");
        }
    }
}
