//! Intset: the sorted array of integers behind small all-integer sets (RDB type 11).
//!
//! Layout:
//!
//! ```text
//! [width: u32 LE] [count: u32 LE] [value; count]
//! ```
//!
//! `width` is the size in bytes of every value: 2, 4 or 8. The values are signed little-endian
//! integers of that width, sorted in strictly ascending order (so no duplicates). The blob is
//! exactly `8 + count * width` bytes. Redis uses the narrowest width that holds every member,
//! but a wider one is still readable, so only the three widths are checked.

use crate::{Error, Result};

const HEADER_SIZE: usize = 8;
const DOING: &str = "intset";

/// An intset whose header and size have been checked. Reading values cannot fail after that.
#[derive(Debug, Clone, Copy)]
pub struct Intset<'a> {
    /// The values part, `len * width` bytes.
    values: &'a [u8],
    width: usize,
}

impl<'a> Intset<'a> {
    /// Check the width field (2, 4 or 8) and that the blob is exactly `8 + count * width`
    /// bytes. Order is not checked (see [`validate`]).
    pub fn parse(data: &'a [u8]) -> Result<Intset<'a>> {
        let Some((header, values)) = data.split_first_chunk::<HEADER_SIZE>() else {
            return Err(Error::corrupt(
                format!(
                    "intset of {} bytes is shorter than its 8-byte header",
                    data.len()
                ),
                0,
                DOING,
            ));
        };
        let width = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let count = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if !matches!(width, 2 | 4 | 8) {
            return Err(Error::corrupt(
                format!("intset element width {width} is not 2, 4 or 8"),
                0,
                DOING,
            ));
        }
        // At most 2^32 * 8, no overflow in u64.
        let want = u64::from(count) * u64::from(width);
        if want != values.len() as u64 {
            return Err(Error::corrupt(
                format!(
                    "intset of {count} elements of {width} bytes needs {} bytes, blob has {}",
                    want + HEADER_SIZE as u64,
                    data.len()
                ),
                4,
                DOING,
            ));
        }
        Ok(Intset {
            values,
            width: width as usize,
        })
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.values.len() / self.width
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Bytes per element: 2, 4 or 8.
    pub fn encoding(&self) -> u32 {
        self.width as u32
    }

    /// The `i`-th element in stored order, or `None` past the end.
    pub fn get(&self, i: usize) -> Option<i64> {
        let start = i.checked_mul(self.width)?;
        let b = self.values.get(start..start.checked_add(self.width)?)?;
        Some(read(b))
    }

    /// The elements in stored order.
    pub fn iter(&self) -> Iter<'a> {
        Iter {
            chunks: self.values.chunks_exact(self.width),
        }
    }
}

impl<'a> IntoIterator for &Intset<'a> {
    type Item = i64;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Decode one element; `b` is 2, 4 or 8 bytes.
#[inline]
fn read(b: &[u8]) -> i64 {
    match *b {
        [x0, x1] => i64::from(i16::from_le_bytes([x0, x1])),
        [x0, x1, x2, x3] => i64::from(i32::from_le_bytes([x0, x1, x2, x3])),
        [x0, x1, x2, x3, x4, x5, x6, x7] => i64::from_le_bytes([x0, x1, x2, x3, x4, x5, x6, x7]),
        // Not reachable: chunks always have the parsed width.
        _ => 0,
    }
}

/// Iterator over the elements of an [`Intset`].
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    chunks: std::slice::ChunksExact<'a, u8>,
}

impl Iterator for Iter<'_> {
    type Item = i64;
    #[inline]
    fn next(&mut self) -> Option<i64> {
        self.chunks.next().map(read)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<i64> {
        self.chunks.next_back().map(read)
    }
}

impl ExactSizeIterator for Iter<'_> {}
impl std::iter::FusedIterator for Iter<'_> {}

/// Check an intset the way Redis does when loading one and return its element count.
///
/// Shallow: the checks of [`Intset::parse`], plus the set must not be empty (Redis refuses
/// an empty intset even without deep checking). Deep: also every element must be strictly
/// greater than the one before it (sorted, no duplicates).
pub fn validate(data: &[u8], deep: bool) -> Result<u32> {
    let set = Intset::parse(data)?;
    if set.is_empty() {
        return Err(Error::corrupt("intset is empty", 4, DOING));
    }
    if deep {
        let mut it = set.iter().enumerate();
        if let Some((_, mut prev)) = it.next() {
            for (i, v) in it {
                if v <= prev {
                    return Err(Error::corrupt(
                        format!(
                            "intset element {i} ({v}) is not greater than the previous ({prev})"
                        ),
                        (HEADER_SIZE + i * set.width) as u64,
                        DOING,
                    ));
                }
                prev = v;
            }
        }
    }
    // The length fitted in a u32 header field.
    Ok(set.len() as u32)
}

/// Encode a set of integers: a sorted, deduplicated copy of `values` in the narrowest width
/// that holds them all (2 bytes for an empty set, like Redis's new intsets).
///
/// # Panics
/// If more than `u32::MAX` distinct values are given.
pub fn encode(values: &[i64]) -> Vec<u8> {
    let mut v = values.to_vec();
    v.sort_unstable();
    v.dedup();
    let width: usize = match (v.first(), v.last()) {
        (Some(&lo), Some(&hi)) => {
            if lo >= i64::from(i16::MIN) && hi <= i64::from(i16::MAX) {
                2
            } else if lo >= i64::from(i32::MIN) && hi <= i64::from(i32::MAX) {
                4
            } else {
                8
            }
        }
        _ => 2,
    };
    let count = u32::try_from(v.len()).expect("intset with more than u32::MAX elements");
    let mut out = Vec::with_capacity(HEADER_SIZE + v.len() * width);
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    for x in v {
        match width {
            2 => out.extend_from_slice(&(x as i16).to_le_bytes()),
            4 => out.extend_from_slice(&(x as i32).to_le_bytes()),
            _ => out.extend_from_slice(&x.to_le_bytes()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use std::collections::BTreeSet;

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
    }

    fn is_corrupt(r: Result<impl std::fmt::Debug>) -> Error {
        let e = r.unwrap_err();
        assert!(matches!(e.kind, ErrorKind::Corrupt(_)), "{e:?}");
        e
    }

    fn raw(width: u32, vals: &[i64]) -> Vec<u8> {
        let mut out = width.to_le_bytes().to_vec();
        out.extend_from_slice(&(vals.len() as u32).to_le_bytes());
        for &v in vals {
            out.extend_from_slice(&v.to_le_bytes()[..width as usize]);
        }
        out
    }

    #[test]
    fn byte_layout() {
        assert_eq!(
            encode(&[3, 1, 2, 3]),
            [2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 2, 0, 3, 0]
        );
        assert_eq!(encode(&[]), [2, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            encode(&[-1, 70000]),
            [4, 0, 0, 0, 2, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x70, 0x11, 0x01, 0x00]
        );
    }

    #[test]
    fn width_boundaries() {
        let cases: &[(&[i64], u32)] = &[
            (&[0], 2),
            (&[i16::MIN as i64, i16::MAX as i64], 2),
            (&[i16::MAX as i64 + 1], 4),
            (&[i16::MIN as i64 - 1], 4),
            (&[i32::MIN as i64, i32::MAX as i64], 4),
            (&[i32::MAX as i64 + 1], 8),
            (&[i32::MIN as i64 - 1], 8),
            (&[i64::MIN, 0, i64::MAX], 8),
            (&[i64::MIN], 8),
            (&[i64::MAX], 8),
        ];
        for &(vals, width) in cases {
            let data = encode(vals);
            let set = Intset::parse(&data).unwrap();
            assert_eq!(set.encoding(), width, "{vals:?}");
            let mut sorted = vals.to_vec();
            sorted.sort();
            assert_eq!(set.iter().collect::<Vec<_>>(), sorted);
            assert_eq!(validate(&data, true).unwrap(), vals.len() as u32);
        }
    }

    #[test]
    fn matches_btreeset_model() {
        let mut rng = XorShift(0x5eed);
        for round in 0..500 {
            let n = rng.below(60) as usize;
            let scale = [8u32, 15, 16, 31, 32, 63, 64][round % 7];
            let vals: Vec<i64> = (0..n)
                .map(|_| {
                    let x = rng.next() as i64;
                    if scale >= 64 {
                        x
                    } else {
                        x >> (64 - scale)
                    }
                })
                .collect();
            let model: BTreeSet<i64> = vals.iter().copied().collect();
            let data = encode(&vals);
            let set = Intset::parse(&data).unwrap();
            assert_eq!(set.len(), model.len());
            assert_eq!(set.is_empty(), model.is_empty());
            assert!(set.iter().eq(model.iter().copied()));
            assert!(set.iter().rev().eq(model.iter().rev().copied()));
            for (i, v) in model.iter().enumerate() {
                assert_eq!(set.get(i), Some(*v));
            }
            assert_eq!(set.get(model.len()), None);
            assert_eq!(set.get(usize::MAX), None);
            let want_width = match (model.first(), model.last()) {
                (Some(&lo), Some(&hi)) if lo >= -32768 && hi <= 32767 => 2,
                (Some(&lo), Some(&hi)) if lo >= i32::MIN as i64 && hi <= i32::MAX as i64 => 4,
                (Some(_), Some(_)) => 8,
                _ => 2,
            };
            assert_eq!(set.encoding(), want_width);
            if model.is_empty() {
                is_corrupt(validate(&data, true));
            } else {
                assert_eq!(validate(&data, true).unwrap(), model.len() as u32);
            }
        }
    }

    #[test]
    fn wider_than_needed_is_accepted() {
        let data = raw(8, &[1, 2, 3]);
        assert_eq!(validate(&data, true).unwrap(), 3);
        assert_eq!(
            Intset::parse(&data).unwrap().iter().collect::<Vec<_>>(),
            [1, 2, 3]
        );
    }

    #[test]
    fn order_checked_by_deep_only() {
        for width in [2u32, 4, 8] {
            for vals in [&[1i64, 3, 2][..], &[1, 1], &[5, -5]] {
                let data = raw(width, vals);
                assert_eq!(validate(&data, false).unwrap(), vals.len() as u32);
                let e = is_corrupt(validate(&data, true));
                let bad = vals.windows(2).position(|w| w[1] <= w[0]).unwrap() + 1;
                assert_eq!(e.offset, (8 + bad * width as usize) as u64);
            }
        }
    }

    #[test]
    fn empty_set_refused_by_validate_even_shallow() {
        let data = encode(&[]);
        assert!(Intset::parse(&data).unwrap().is_empty());
        is_corrupt(validate(&data, false));
        is_corrupt(validate(&data, true));
    }

    #[test]
    fn bad_width_and_sizes() {
        for w in [0u32, 1, 3, 5, 6, 7, 9, 16, u32::MAX] {
            let mut data = raw(2, &[1]);
            data[0..4].copy_from_slice(&w.to_le_bytes());
            is_corrupt(Intset::parse(&data));
        }
        for short in 0..8 {
            is_corrupt(Intset::parse(&vec![2u8; short]));
        }
        let data = raw(4, &[1, 2, 3]);
        for cut in 0..data.len() {
            assert!(Intset::parse(&data[..cut]).is_err(), "cut {cut}");
        }
        let mut long = data.clone();
        long.push(0);
        is_corrupt(Intset::parse(&long));
        // A count whose byte size overflows 32 bits must not wrap around to a match.
        let mut data = vec![8, 0, 0, 0, 0, 0, 0, 0x20];
        data.extend_from_slice(&[0; 8]);
        is_corrupt(Intset::parse(&data));
        let data = [8, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF];
        is_corrupt(Intset::parse(&data));
    }

    #[test]
    fn random_garbage_never_panics() {
        let mut rng = XorShift(77);
        for _ in 0..20_000 {
            let width = [2u32, 4, 8, 3][rng.below(4) as usize];
            let count = rng.below(8) as u32;
            let extra = rng.below(3) as usize;
            let mut data = width.to_le_bytes().to_vec();
            data.extend_from_slice(&count.to_le_bytes());
            let body = (count as usize * width as usize + extra).saturating_sub(1);
            data.extend((0..body).map(|_| rng.next() as u8));
            let _ = validate(&data, true);
            let _ = validate(&data, false);
            if let Ok(s) = Intset::parse(&data) {
                assert_eq!(s.iter().count(), s.len());
            }
        }
    }

    #[test]
    fn encode_sorts_dedups_and_picks_the_width_of_the_extremes() {
        let data = encode(&[5, -3, 5, 40_000, -3]);
        let set = Intset::parse(&data).unwrap();
        assert_eq!(set.encoding(), 4);
        assert_eq!(set.iter().collect::<Vec<_>>(), [-3, 5, 40_000]);
        assert_eq!(validate(&data, true).unwrap(), 3);
        for (vals, width) in [
            (vec![i16::MAX as i64, i16::MIN as i64], 2u32),
            (vec![0, i16::MAX as i64 + 1], 4),
            (vec![0, i32::MIN as i64 - 1], 8),
        ] {
            let data = encode(&vals);
            assert_eq!(data.len(), 8 + vals.len() * width as usize);
            assert_eq!(Intset::parse(&data).unwrap().encoding(), width);
        }
        // An empty set still has a header (width 2, count 0).
        assert_eq!(encode(&[]), [2, 0, 0, 0, 0, 0, 0, 0]);
    }
}
