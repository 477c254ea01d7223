//! `SStr`: the byte string used for keys, members, fields and small values.
//!
//! Most keys and elements are short, so strings of up to [`INLINE`] bytes live inside the
//! 24-byte value itself and need no heap allocation; longer ones are one boxed slice. This is
//! what keeps redkit's memory per key at or below Redis's (an sds plus its allocator overhead).

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// Longest string kept inline.
pub const INLINE: usize = 22;

#[derive(Clone)]
pub enum SStr {
    Inline { len: u8, buf: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl SStr {
    #[inline]
    pub fn new(b: &[u8]) -> SStr {
        if b.len() <= INLINE {
            let mut buf = [0u8; INLINE];
            buf[..b.len()].copy_from_slice(b);
            SStr::Inline {
                len: b.len() as u8,
                buf,
            }
        } else {
            SStr::Heap(b.into())
        }
    }

    pub fn empty() -> SStr {
        SStr::Inline {
            len: 0,
            buf: [0; INLINE],
        }
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            SStr::Inline { len, buf } => &buf[..*len as usize],
            SStr::Heap(b) => b,
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }

    /// Bytes of heap memory this string owns (0 when inline).
    pub fn heap_size(&self) -> usize {
        match self {
            SStr::Inline { .. } => 0,
            SStr::Heap(b) => b.len(),
        }
    }
}

impl Default for SStr {
    fn default() -> Self {
        SStr::empty()
    }
}

impl Deref for SStr {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for SStr {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<[u8]> for SStr {
    #[inline]
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

// Hash and Eq must agree with `[u8]`'s, so maps keyed by `SStr` can be queried with `&[u8]`.
impl Hash for SStr {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl PartialEq for SStr {
    #[inline]
    fn eq(&self, other: &SStr) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}
impl Eq for SStr {}

impl PartialOrd for SStr {
    fn partial_cmp(&self, other: &SStr) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for SStr {
    fn cmp(&self, other: &SStr) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl From<&[u8]> for SStr {
    fn from(b: &[u8]) -> SStr {
        SStr::new(b)
    }
}

impl SStr {
    /// The string form of a listpack/ziplist element, without a temporary `Vec` (integers are
    /// formatted on the stack): the loaders build millions of these.
    pub fn from_elem(e: redkit_formats::Elem<'_>) -> SStr {
        match e {
            redkit_formats::Elem::Bytes(b) => SStr::new(b),
            redkit_formats::Elem::Int(i) => SStr::new(redkit_formats::fmt_i64(i, &mut [0u8; 20])),
        }
    }
}

impl From<Vec<u8>> for SStr {
    fn from(v: Vec<u8>) -> SStr {
        if v.len() <= INLINE {
            SStr::new(&v)
        } else {
            SStr::Heap(v.into_boxed_slice())
        }
    }
}

impl fmt::Debug for SStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn size_is_24_bytes() {
        assert_eq!(std::mem::size_of::<SStr>(), 24);
    }

    #[test]
    fn inline_and_heap_boundary() {
        for n in [0, 1, INLINE - 1, INLINE, INLINE + 1, 100] {
            let v: Vec<u8> = (0..n as u8).collect();
            let s = SStr::new(&v);
            assert_eq!(s.as_bytes(), &v[..]);
            assert_eq!(s.heap_size() == 0, n <= INLINE);
            assert_eq!(SStr::from(v.clone()), s);
        }
    }

    #[test]
    fn map_lookup_by_slice() {
        let mut m = HashMap::new();
        m.insert(SStr::new(b"short"), 1);
        m.insert(SStr::new(&[7u8; 40]), 2);
        assert_eq!(m.get(&b"short"[..]), Some(&1));
        assert_eq!(m.get(&[7u8; 40][..]), Some(&2));
        assert_eq!(m.get(&b"other"[..]), None);
    }
}
