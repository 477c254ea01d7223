//! LZF, the byte-oriented LZ77 variant Redis uses for compressed strings in RDB files.
//!
//! A compressed stream is a sequence of instructions, each starting with a control byte `c`:
//!
//! * `c < 0x20`: a literal run. The next `c + 1` bytes (1..=32) are copied to the output as is.
//! * `c >= 0x20`: a back-reference. The top three bits `n = c >> 5` give the length, the low five
//!   bits are the high part of the distance.
//!   - If `n` is 1..=6 the instruction is two bytes: `c`, then `d_lo`.
//!   - If `n` is 7 the instruction is three bytes: `c`, an extra length byte `x` (added to `n`,
//!     so `n` ranges 7..=262), then `d_lo`.
//!
//!   The reference copies `n + 2` bytes (3..=264) starting `((c & 0x1f) << 8 | d_lo) + 1` bytes
//!   (1..=8192) back from the current end of the output. Source and destination may overlap (a
//!   distance of 1 repeats the last byte), so the copy behaves as if done one byte at a time.
//!
//! There is no header, no checksum and no end marker: the stream ends where the input ends, and
//! the caller must know the decompressed size (RDB stores it next to the compressed length).
//!
//! Maximum expansion: the best ratio any instruction achieves is the three-byte long
//! back-reference producing 264 bytes, i.e. 88 output bytes per input byte. A two-byte reference
//! gives at most 8 bytes (4 per input byte) and a literal run gives fewer bytes than it occupies.
//! So `n` input bytes can never decompress to more than `88 * n` bytes; a claimed size above that
//! is rejected before any memory is reserved for it.

use crate::{Error, ErrorKind, Result};

const DOING: &str = "LZF data";

/// Longest literal run one control byte can announce.
const MAX_LITERAL: usize = 32;
/// Largest back-reference distance (13 bits, stored minus one).
const MAX_DISTANCE: usize = 1 << 13;
/// Shortest back-reference worth emitting (a 2-byte instruction replacing 3 bytes).
const MIN_MATCH: usize = 3;
/// How many positions at the end of a match get remembered in the hash table.
const INSERT_BACK: usize = 2;
/// Longest back-reference: 7 + 255 in the length fields, plus the implicit 2.
const MAX_MATCH: usize = 7 + 255 + 2;
/// Output bytes one input byte can account for at best (264 bytes from a 3-byte instruction).
pub const MAX_EXPANSION: usize = 88;

/// The largest size `input_len` bytes of LZF data could decompress to.
#[inline]
pub fn max_decompressed_len(input_len: usize) -> usize {
    input_len.saturating_mul(MAX_EXPANSION)
}

#[inline]
fn lzf_err(msg: &'static str, offset: usize) -> Error {
    Error::new(ErrorKind::Lzf(msg), offset as u64, DOING)
}

/// Decompress `input`, which must expand to exactly `expected_len` bytes, into `out`
/// (cleared first; its allocation is reused). On error `out` holds the bytes decoded before
/// the bad instruction.
///
/// Errors (offsets are positions in `input`): the claimed size is more than the input could
/// produce, an instruction is cut off by the end of the input, the output would grow past
/// `expected_len`, a back-reference reaches before the start of the output, or the input ends
/// before `expected_len` bytes were produced.
pub fn decompress_into(input: &[u8], expected_len: usize, out: &mut Vec<u8>) -> Result<()> {
    out.clear();
    if expected_len > max_decompressed_len(input.len()) {
        return Err(Error::new(
            ErrorKind::BadLength(expected_len as u64),
            0,
            "LZF uncompressed length",
        ));
    }
    // Work on a zero-filled buffer of the final size; on error keep only what was produced.
    out.resize(expected_len, 0);
    match decode(input, out) {
        Ok(()) => Ok(()),
        Err((e, produced)) => {
            out.truncate(produced);
            Err(e)
        }
    }
}

/// Decode into `buf`, which must be filled exactly. On error also returns how many bytes of
/// `buf` were produced.
fn decode(input: &[u8], buf: &mut [u8]) -> std::result::Result<(), (Error, usize)> {
    let cap = buf.len();
    let mut ip = 0usize;
    let mut op = 0usize;
    while let Some(&ctrl) = input.get(ip) {
        let at = ip;
        ip += 1;
        if ctrl < 0x20 {
            let run = usize::from(ctrl) + 1;
            if run > cap - op {
                return Err((lzf_err("output longer than announced", at), op));
            }
            // Fast path: copy a fixed 32 bytes when both sides have room (the extra bytes
            // written past the run are overwritten by what follows, and never read first).
            if let (Some(src), Some(dst)) = (
                input.get(ip..ip + MAX_LITERAL),
                buf.get_mut(op..op + MAX_LITERAL),
            ) {
                dst.copy_from_slice(src);
            } else {
                let Some(src) = input.get(ip..ip + run) else {
                    return Err((lzf_err("literal run cut off by end of input", at), op));
                };
                buf[op..op + run].copy_from_slice(src);
            }
            ip += run;
            op += run;
        } else {
            let mut len = usize::from(ctrl >> 5);
            if len == 7 {
                let Some(&extra) = input.get(ip) else {
                    return Err((lzf_err("back-reference cut off by end of input", at), op));
                };
                len += usize::from(extra);
                ip += 1;
            }
            let Some(&lo) = input.get(ip) else {
                return Err((lzf_err("back-reference cut off by end of input", at), op));
            };
            ip += 1;
            let dist = ((usize::from(ctrl & 0x1f) << 8) | usize::from(lo)) + 1;
            let total = len + 2;
            if total > cap - op {
                return Err((lzf_err("output longer than announced", at), op));
            }
            if dist > op {
                return Err((lzf_err("back-reference before start of output", at), op));
            }
            copy_back(buf, op, dist, total);
            op += total;
        }
    }
    if op != cap {
        return Err((lzf_err("output shorter than announced", input.len()), op));
    }
    Ok(())
}

/// Write `total` bytes at `op` copied from `dist` bytes back, where an overlap means
/// repetition. Caller guarantees `1 <= dist <= op` and `op + total <= buf.len()`.
#[inline]
fn copy_back(buf: &mut [u8], op: usize, dist: usize, total: usize) {
    const SHORT: usize = 16;
    let src = op - dist;
    if dist >= SHORT && total <= SHORT && op + SHORT <= buf.len() {
        // Fixed-size copy; the source lies entirely before `op` since dist >= 16.
        buf.copy_within(src..src + SHORT, op);
    } else if dist >= total {
        buf.copy_within(src..src + total, op);
    } else {
        // Overlapping: the output from `src` on repeats with period `dist`. Copy in rounds
        // that start at multiples of `dist` past `src`, doubling the span each time.
        let mut done = 0;
        while done < total {
            let chunk = (total - done).min(op + done - src);
            buf.copy_within(src..src + chunk, op + done);
            done += chunk;
        }
    }
}

/// Decompress `input` to a new vector of exactly `expected_len` bytes.
pub fn decompress(input: &[u8], expected_len: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    decompress_into(input, expected_len, &mut out)?;
    Ok(out)
}

/// Compress `input` into the LZF format above. Returns `None` when the result would not be
/// strictly smaller than the input (including for empty input), since Redis stores a string
/// compressed only when that saves space.
///
/// Note that Redis itself is a little stricter when it writes RDB files: it only tries strings
/// longer than 20 bytes and keeps the compressed form only if it is at least 4 bytes shorter.
/// Callers reproducing Redis's choice should apply those rules on top.
pub fn compress(input: &[u8]) -> Option<Vec<u8>> {
    let n = input.len();
    if n == 0 {
        return None;
    }
    // Output must stay at most n - 1 bytes.
    let limit = n - 1;
    let mut out = Vec::with_capacity(n);

    // Hash table from a 3-byte prefix to the last position it was seen at (truncated to 32
    // bits; distances are computed with wrapping arithmetic and every candidate is verified,
    // so stale or zero-initialised slots are harmless). Sized to the input so short strings do
    // not pay for a large zeroed table.
    let bits = table_bits(n);
    let mut table = vec![0u32; 1 << bits];

    let mut lit_start = 0usize;
    let mut i = 0usize;
    let mut key = if n >= MIN_MATCH { read3(input, 0) } else { 0 };
    while i + MIN_MATCH <= n {
        let slot = hash(key, bits);
        let seen = table[slot];
        table[slot] = i as u32;
        let dist = (i as u32).wrapping_sub(seen) as usize;
        if dist != 0 && dist <= MAX_DISTANCE && dist <= i && read3(input, i - dist) == key {
            let r = i - dist;
            let max = (n - i).min(MAX_MATCH);
            let len =
                MIN_MATCH + common_prefix(&input[r + MIN_MATCH..], &input[i + MIN_MATCH..i + max]);
            emit_literals(&mut out, &input[lit_start..i]);
            emit_backref(&mut out, dist, len);
            if out.len() > limit {
                return None;
            }
            let end = i + len;
            // Remember the last positions inside the match, which helps on runs.
            for p in end.saturating_sub(INSERT_BACK).max(i + 1)..end {
                if p + MIN_MATCH <= n {
                    table[hash(read3(input, p), bits)] = p as u32;
                }
            }
            i = end;
            lit_start = i;
            if i + MIN_MATCH <= n {
                key = read3(input, i);
            }
            continue;
        }
        i += 1;
        // Literal bytes cost themselves plus one control byte per 32; if what is pending
        // already cannot fit, give up early (typical for incompressible data).
        let pending = i - lit_start;
        if out.len() + pending + pending.div_ceil(MAX_LITERAL) > limit {
            return None;
        }
        if let Some(&next) = input.get(i + 2) {
            key = ((key << 8) | u32::from(next)) & 0x00FF_FFFF;
        }
    }
    emit_literals(&mut out, &input[lit_start..]);
    if out.len() > limit {
        return None;
    }
    Some(out)
}

/// Length of the common prefix of `a` and `b`, eight bytes at a time.
#[inline]
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut done = 0;
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let diff = word(x) ^ word(y);
        if diff != 0 {
            return done + (diff.trailing_zeros() / 8) as usize;
        }
        done += 8;
    }
    done + a[done..]
        .iter()
        .zip(&b[done..])
        .take_while(|(x, y)| x == y)
        .count()
}

#[inline]
fn word(b: &[u8]) -> u64 {
    b.first_chunk::<8>().map_or(0, |c| u64::from_le_bytes(*c))
}

#[inline]
fn table_bits(n: usize) -> u32 {
    // Roughly one slot per input byte, between 2^8 and 2^16 slots.
    let want = usize::BITS - n.leading_zeros();
    want.clamp(8, 16)
}

#[inline]
fn read3(b: &[u8], i: usize) -> u32 {
    (u32::from(b[i]) << 16) | (u32::from(b[i + 1]) << 8) | u32::from(b[i + 2])
}

#[inline]
fn hash(key: u32, bits: u32) -> usize {
    (key.wrapping_mul(0x9E37_79B1) >> (32 - bits)) as usize
}

fn emit_literals(out: &mut Vec<u8>, lits: &[u8]) {
    for chunk in lits.chunks(MAX_LITERAL) {
        out.push((chunk.len() - 1) as u8);
        out.extend_from_slice(chunk);
    }
}

/// `dist` is 1..=8192, `len` is 3..=264.
fn emit_backref(out: &mut Vec<u8>, dist: usize, len: usize) {
    let d = dist - 1;
    let hi = (d >> 8) as u8;
    let l = len - 2;
    if l < 7 {
        out.push(((l as u8) << 5) | hi);
    } else {
        out.push(0xE0 | hi);
        out.push((l - 7) as u8);
    }
    out.push(d as u8);
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
        /// Text-like data from a small alphabet with repeated words: compressible.
        fn texty(&mut self, n: usize) -> Vec<u8> {
            let words: [&[u8]; 6] = [b"redis ", b"key:", b"value", b"12345", b"\x00\x01", b"aaaa"];
            let mut v = Vec::with_capacity(n);
            while v.len() < n {
                if self.below(4) == 0 {
                    v.push(self.next() as u8);
                } else {
                    v.extend_from_slice(words[self.below(6) as usize]);
                }
            }
            v.truncate(n);
            v
        }
    }

    /// The simplest possible reading of the format, used as the oracle: byte by byte, no
    /// shortcuts, `None` on anything wrong.
    fn oracle(input: &[u8], expected: usize) -> Option<Vec<u8>> {
        let mut out: Vec<u8> = Vec::new();
        let mut i = 0;
        while i < input.len() {
            let c = input[i] as usize;
            i += 1;
            if c < 32 {
                for _ in 0..c + 1 {
                    out.push(*input.get(i)?);
                    i += 1;
                }
            } else {
                let mut len = c >> 5;
                if len == 7 {
                    len += *input.get(i)? as usize;
                    i += 1;
                }
                let dist = ((c & 31) << 8) + *input.get(i)? as usize + 1;
                i += 1;
                if dist > out.len() {
                    return None;
                }
                for _ in 0..len + 2 {
                    let b = out[out.len() - dist];
                    out.push(b);
                }
            }
            if out.len() > expected {
                return None;
            }
        }
        (out.len() == expected).then_some(out)
    }

    /// Compress and check the result decodes back (with both decoders). `None` is fine: it
    /// only means the data did not shrink.
    fn round_trip(data: &[u8]) {
        if let Some(c) = compress(data) {
            assert!(c.len() < data.len());
            assert_eq!(oracle(&c, data.len()).as_deref(), Some(data));
            assert_eq!(decompress(&c, data.len()).unwrap(), data);
        }
    }

    #[test]
    fn empty_and_single_byte_do_not_compress() {
        assert_eq!(compress(b""), None);
        assert_eq!(compress(b"x"), None);
        assert_eq!(compress(b"xx"), None);
    }

    #[test]
    fn empty_input_decompresses_to_empty() {
        assert_eq!(decompress(b"", 0).unwrap(), b"");
        assert!(decompress(b"", 1).is_err());
    }

    #[test]
    fn round_trip_small_sizes() {
        let mut rng = XorShift(1);
        for len in 0..=100 {
            for _ in 0..5 {
                round_trip(&rng.bytes(len));
                round_trip(&rng.texty(len));
                round_trip(&vec![rng.next() as u8; len]);
            }
        }
    }

    #[test]
    fn round_trip_medium_and_large() {
        let mut rng = XorShift(7);
        for len in [255, 256, 257, 1000, 4096, 8191, 8192, 8193, 20_000, 100_000] {
            round_trip(&rng.bytes(len));
            round_trip(&rng.texty(len));
            round_trip(&vec![0u8; len]);
            let pattern: Vec<u8> = (0..len).map(|i| (i % 7) as u8).collect();
            round_trip(&pattern);
        }
    }

    #[test]
    fn repetitive_data_compresses_well() {
        let data = vec![b'a'; 4096];
        let c = compress(&data).unwrap();
        assert!(c.len() < 60, "got {}", c.len());
        assert_eq!(decompress(&c, 4096).unwrap(), data);

        let data: Vec<u8> = b"0123456789".iter().copied().cycle().take(50_000).collect();
        let c = compress(&data).unwrap();
        assert!(c.len() < 1000, "got {}", c.len());
        assert_eq!(decompress(&c, data.len()).unwrap(), data);
    }

    #[test]
    fn incompressible_data_returns_none() {
        let mut rng = XorShift(99);
        for len in [2, 3, 10, 33, 100, 4096, 65_536] {
            assert_eq!(compress(&rng.bytes(len)), None, "len {len}");
        }
    }

    #[test]
    fn long_distance_matches_at_the_window_edge() {
        // A random block repeated at distance 8192 (max) and 8193 (just out of reach).
        let mut rng = XorShift(5);
        for gap in [8189usize, 8190, 8191, 8192, 8193, 9000] {
            let block = rng.bytes(300);
            let mut data = block.clone();
            data.extend(rng.bytes(gap - 300));
            data.extend_from_slice(&block);
            round_trip(&data);
            // Within reach the repeated block must be found; beyond it nothing matches.
            assert_eq!(compress(&data).is_some(), gap <= MAX_DISTANCE, "gap {gap}");
        }
    }

    #[test]
    fn hand_made_streams() {
        // Literal "ab", then a reference copying 3 bytes from distance 2: "ababa".
        assert_eq!(
            decompress(&[0x01, b'a', b'b', 0x20, 0x01], 5).unwrap(),
            b"ababa"
        );
        // Distance 1 repeats the last byte; long form length 7+0+2 = 9.
        assert_eq!(
            decompress(&[0x00, b'z', 0xE0, 0x00, 0x00], 10).unwrap(),
            b"zzzzzzzzzz"
        );
        // Longest single reference: 7 + 255 + 2 = 264 bytes.
        let out = decompress(&[0x00, b'q', 0xE0, 0xFF, 0x00], 265).unwrap();
        assert_eq!(out, vec![b'q'; 265]);
        // Longest literal run: 32 bytes.
        let mut s = vec![0x1F];
        s.extend(0..32u8);
        assert_eq!(decompress(&s, 32).unwrap(), (0..32u8).collect::<Vec<_>>());
    }

    #[test]
    fn expansion_bound_is_tight_and_enforced() {
        // 1 literal byte then references of 264 each: best possible ratio.
        let mut s = vec![0x00, b'x'];
        for _ in 0..100 {
            s.extend_from_slice(&[0xE0, 0xFF, 0x00]);
        }
        let expected = 1 + 100 * 264;
        assert!(expected <= max_decompressed_len(s.len()));
        assert_eq!(decompress(&s, expected).unwrap().len(), expected);
        // A claim above the bound is refused up front, with no allocation.
        let e = decompress(&s, max_decompressed_len(s.len()) + 1).unwrap_err();
        assert!(matches!(e.kind, ErrorKind::BadLength(_)));
        let e = decompress(b"\x00a", usize::MAX).unwrap_err();
        assert!(matches!(e.kind, ErrorKind::BadLength(_)));
    }

    #[test]
    fn output_longer_than_announced_is_an_error() {
        let e = decompress(&[0x02, b'a', b'b', b'c'], 2).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Lzf("output longer than announced"));
        assert_eq!(e.offset, 0);
        let e = decompress(&[0x00, b'a', 0x20, 0x00], 3).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Lzf("output longer than announced"));
        assert_eq!(e.offset, 2);
    }

    #[test]
    fn output_shorter_than_announced_is_an_error() {
        let e = decompress(&[0x02, b'a', b'b', b'c'], 4).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Lzf("output shorter than announced"));
        assert_eq!(e.offset, 4);
    }

    #[test]
    fn reference_before_start_is_an_error() {
        let e = decompress(&[0x20, 0x00], 3).unwrap_err();
        assert_eq!(
            e.kind,
            ErrorKind::Lzf("back-reference before start of output")
        );
        // Distance 2 with one byte of output.
        let e = decompress(&[0x00, b'a', 0x20, 0x01], 4).unwrap_err();
        assert_eq!(
            e.kind,
            ErrorKind::Lzf("back-reference before start of output")
        );
        assert_eq!(e.offset, 2);
    }

    #[test]
    fn truncated_instructions_are_errors() {
        // Literal run announcing 3 bytes but carrying 2.
        let e = decompress(&[0x02, b'a', b'b'], 3).unwrap_err();
        assert_eq!(
            e.kind,
            ErrorKind::Lzf("literal run cut off by end of input")
        );
        // Short reference without its distance byte.
        let e = decompress(&[0x00, b'a', 0x20], 4).unwrap_err();
        assert_eq!(e.offset, 2);
        // Long reference without its length byte, and without its distance byte.
        assert!(decompress(&[0x00, b'a', 0xE0], 10).is_err());
        assert!(decompress(&[0x00, b'a', 0xE0, 0x00], 10).is_err());
    }

    #[test]
    fn every_truncation_of_real_streams_fails_cleanly() {
        let mut rng = XorShift(3);
        for _ in 0..20 {
            let data = rng.texty(500);
            let c = compress(&data).unwrap();
            for cut in 0..c.len() {
                let r = decompress(&c[..cut], data.len());
                assert!(r.is_err(), "cut {cut}");
                assert_eq!(oracle(&c[..cut], data.len()), None);
            }
        }
    }

    #[test]
    fn random_garbage_agrees_with_oracle_and_never_panics() {
        let mut rng = XorShift(11);
        let mut out = Vec::new();
        for _ in 0..5000 {
            let len = rng.below(40) as usize;
            let s = rng.bytes(len);
            let expected = rng.below(200) as usize;
            let ours = decompress_into(&s, expected, &mut out)
                .ok()
                .map(|_| out.clone());
            assert_eq!(
                ours,
                oracle(&s, expected),
                "input {s:02x?} expected {expected}"
            );
        }
    }

    #[test]
    fn corrupting_a_byte_is_detected_or_harmless() {
        // Flip each byte of a compressed stream; the decoder must either fail or agree with the
        // oracle (a flipped literal byte just changes the output).
        let mut rng = XorShift(12);
        let data = rng.texty(2000);
        let c = compress(&data).unwrap();
        for i in 0..c.len() {
            let mut bad = c.clone();
            bad[i] ^= 0x5a;
            let ours = decompress(&bad, data.len()).ok();
            assert_eq!(ours, oracle(&bad, data.len()));
        }
    }

    #[test]
    fn decompress_into_reuses_and_clears_buffer() {
        let c = compress(&[7u8; 100]).unwrap();
        let mut out = vec![1, 2, 3];
        decompress_into(&c, 100, &mut out).unwrap();
        assert_eq!(out, vec![7u8; 100]);
        // A failing call keeps only what was decoded before the error.
        assert!(decompress_into(&c, 99, &mut out).is_err());
        assert!(out.len() < 99);
        assert!(out.iter().all(|&b| b == 7));
        decompress_into(b"", 0, &mut out).unwrap();
        assert!(out.is_empty());
    }
}
