//! The CRC-64 that Redis appends to RDB files (and to DUMP payloads).
//!
//! Parameters: the "Jones" polynomial 0xad93d23594c935a9, processed bit-reflected (least
//! significant bit of each byte first), starting value 0, no final XOR. The 8 bytes written at
//! the end of an RDB file are this value in little-endian order, computed over every byte of the
//! file before them.
//!
//! The checksum is a running value: feeding a stream in pieces gives the same result as feeding
//! it at once, `crc64(crc64(0, a), b) == crc64(0, a ++ b)`, so a reader can update it chunk by
//! chunk.
//!
//! Two implementations give identical results for every input and starting value:
//!
//! * on x86_64 CPUs with PCLMULQDQ (detected at run time), inputs of at least 128 bytes
//!   (`CLMUL_MIN_LEN`) are folded 128 bits at a time with carry-less multiplication (the
//!   technique of Intel's white paper "Fast CRC Computation for Generic Polynomials Using
//!   PCLMULQDQ"), which runs several times faster than a table;
//! * everything else (short inputs, other CPUs) goes to the slice-by-8 table code of the
//!   `crc64` crate, which also finishes the folded remainder.
//!
//! The tests pin both down against a deliberately slow bit-at-a-time model.
//!
//! # The algebra the folding relies on
//!
//! Write `P(x) = x^64 + 0xad93d23594c935a9` (the constant holds the coefficients of `x^63..x^0`).
//! A message `M` is read as a polynomial whose first bit (bit 0 of byte 0) is the highest-degree
//! coefficient. With starting value `c` the checksum of an `n`-byte message is
//! `(c·x^(8n) + M·x^64) mod P`, stored *reflected*: bit `i` of the `u64` is the coefficient of
//! `x^(63-i)`. The map is linear, with no inversion at either end.
//!
//! Sixteen bytes loaded little-endian into an SSE register are then a polynomial of degree < 128
//! in the same reflected layout: bit `i` of the register is the coefficient of `x^(127-i)`, so
//! the low 64-bit lane holds the high half. Folding keeps one such 128-bit value `A` with
//! `A ≡ (bytes so far, starting value included) mod P`; moving it `d` bits further along is
//! `A·x^d = A_hi·x^(d+64) + A_lo·x^d`, and each half is multiplied by a 64-bit constant
//! `≡ x^(d+64)` or `≡ x^d` (mod P). A carry-less product of two reflected 64-bit values, read
//! in the 128-bit reflected layout, comes out multiplied by an extra `x` (the 127-bit product
//! sits one place short of the top), so the constants carry one power less:
//! `K_lo(d) = x^(d+63) mod P` (paired with the low lane, `A_hi`) and
//! `K_hi(d) = x^(d-1) mod P` (paired with the high lane, `A_lo`). The starting value enters by
//! XOR into the first eight bytes: that adds `c·x^64` to the first 16-byte block, hence
//! `c·x^(8n-64)` to the message and `c·x^(8n)` to the checksum.
//!
//! At the end the remaining 128-bit `A` is written out as 16 bytes; the table CRC of those bytes
//! from 0 is `A·x^64 mod P`, i.e. the checksum so far, and the table code then continues over the
//! last (< 16) bytes.

/// Polynomial as written in the usual (most significant bit first) notation, without the
/// `x^64` term.
const POLY: u64 = 0xad93_d235_94c9_35a9;

/// `x^n mod P`, returned in the reflected layout (bit `i` = coefficient of `x^(63-i)`).
///
/// Computed by repeated multiplication by `x` in the ordinary layout (bit `i` = coefficient of
/// `x^i`), reducing `x^64` to `POLY` whenever the top coefficient is shifted out.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const fn xpow_mod_p(n: u32) -> u64 {
    let mut r: u64 = 1; // x^0
    let mut i = 0;
    while i < n {
        let carry = r >> 63;
        r <<= 1;
        if carry == 1 {
            r ^= POLY;
        }
        i += 1;
    }
    r.reverse_bits()
}

/// Shortest input handed to the carry-less path; shorter ones go to the table directly (the
/// bulk loop consumes 128-byte blocks).
const CLMUL_MIN_LEN: usize = 128;

/// Continue the checksum `crc` over `data`. Start a new checksum with `crc = 0`.
#[inline]
pub fn crc64(crc: u64, data: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        if let Some(c) = clmul::crc64(crc, data) {
            return c;
        }
    }
    table_crc64(crc, data)
}

/// The slice-by-8 table implementation (the `crc64` crate).
#[inline]
fn table_crc64(crc: u64, data: &[u8]) -> u64 {
    ::crc64::crc64(crc, data)
}

#[cfg(target_arch = "x86_64")]
mod clmul {
    use super::{table_crc64, xpow_mod_p, CLMUL_MIN_LEN};
    use core::arch::x86_64::{
        __m128i, _mm_clmulepi64_si128, _mm_cvtsi64_si128, _mm_loadu_si128, _mm_set_epi64x,
        _mm_setzero_si128, _mm_storeu_si128, _mm_xor_si128,
    };

    /// Constants to advance a 128-bit remainder by `d` bits (see the module docs):
    /// `[x^(d+63) mod P, x^(d-1) mod P]`, low lane first, both reflected.
    const fn fold_constants(d: u32) -> [u64; 2] {
        [xpow_mod_p(d + 63), xpow_mod_p(d - 1)]
    }

    /// Advance by 128 bits: one 16-byte block.
    const FOLD_128: [u64; 2] = fold_constants(128);
    /// Advance by 1024 bits: eight 16-byte lanes of a 128-byte block, folded in parallel.
    const FOLD_1024: [u64; 2] = fold_constants(1024);

    /// Bytes consumed per iteration of the bulk loop (eight independent 128-bit remainders,
    /// enough to keep the multiplier busy despite its latency).
    const BLOCK: usize = 128;
    const _: () = assert!(CLMUL_MIN_LEN >= BLOCK);

    /// Carry-less checksum if this CPU can do it and `data` is long enough, else `None`.
    #[inline]
    pub(super) fn crc64(crc: u64, data: &[u8]) -> Option<u64> {
        if data.len() < CLMUL_MIN_LEN || !available() {
            return None;
        }
        // SAFETY: `available()` has just confirmed at run time that the CPU supports every
        // feature `fold` is compiled for (pclmulqdq, sse2, sse4.1).
        Some(unsafe { fold(crc, data) })
    }

    /// Whether the running CPU has the instructions `fold` is compiled for.
    #[inline]
    pub(super) fn available() -> bool {
        is_x86_feature_detected!("pclmulqdq")
            && is_x86_feature_detected!("sse2")
            && is_x86_feature_detected!("sse4.1")
    }

    /// 16 unaligned bytes as a 128-bit polynomial (reflected layout).
    ///
    /// # Safety
    ///
    /// `bytes` must hold at least 16 bytes, and the CPU must support sse2.
    #[target_feature(enable = "pclmulqdq,sse2,sse4.1")]
    #[inline]
    unsafe fn load(bytes: &[u8]) -> __m128i {
        debug_assert!(bytes.len() >= 16);
        // SAFETY: the caller guarantees 16 readable bytes at `bytes` and sse2; `loadu` has no
        // alignment requirement.
        unsafe { _mm_loadu_si128(bytes.as_ptr().cast::<__m128i>()) }
    }

    /// `a·x^d`, reduced to degree < 128 modulo P, for the `d` that `k` was built for (see
    /// `fold_constants`): the low lane of `a` (high-degree half) times `k[0]`, plus the high
    /// lane times `k[1]`.
    ///
    /// # Safety
    ///
    /// The CPU must support pclmulqdq and sse2.
    #[target_feature(enable = "pclmulqdq,sse2,sse4.1")]
    #[inline]
    unsafe fn advance(a: __m128i, k: __m128i) -> __m128i {
        // Register-only operations; on toolchains where these intrinsics are still `unsafe`,
        // the body of this `unsafe fn` (edition 2021) covers them, and the caller has
        // guaranteed the CPU features (see `# Safety`).
        _mm_xor_si128(
            _mm_clmulepi64_si128::<0x00>(a, k),
            _mm_clmulepi64_si128::<0x11>(a, k),
        )
    }

    /// The 128-bit-folding checksum; any length `>= BLOCK`.
    ///
    /// # Safety
    ///
    /// The CPU must support pclmulqdq, sse2 and sse4.1 (check with [`available`]).
    #[target_feature(enable = "pclmulqdq,sse2,sse4.1")]
    unsafe fn fold(crc: u64, data: &[u8]) -> u64 {
        debug_assert!(data.len() >= BLOCK);

        // SAFETY (for the whole block): the caller guarantees the CPU features this function
        // is compiled for; all loads go through `load` on 16-byte windows inside `data`; the
        // one store writes a local 16-byte array.
        unsafe {
            let k1024 = _mm_set_epi64x(FOLD_1024[1] as i64, FOLD_1024[0] as i64);
            let k128 = _mm_set_epi64x(FOLD_128[1] as i64, FOLD_128[0] as i64);

            let mut blocks = data.chunks_exact(BLOCK);
            let first = blocks.next().expect("at least one block");
            let mut x = [_mm_setzero_si128(); 8];
            for (i, lane) in x.iter_mut().enumerate() {
                *lane = load(&first[16 * i..]);
            }
            // The starting value joins the first eight bytes (reflected `c·x^64`).
            x[0] = _mm_xor_si128(x[0], _mm_cvtsi64_si128(crc as i64));

            for block in blocks.by_ref() {
                for (i, lane) in x.iter_mut().enumerate() {
                    *lane = _mm_xor_si128(advance(*lane, k1024), load(&block[16 * i..]));
                }
            }

            // Horner: ((x0·x^128 + x1)·x^128 + x2)… folds the eight lanes into one.
            let mut acc = x[0];
            for &lane in &x[1..] {
                acc = _mm_xor_si128(advance(acc, k128), lane);
            }

            let rest = blocks.remainder();
            let mut sixteens = rest.chunks_exact(16);
            for sixteen in sixteens.by_ref() {
                acc = _mm_xor_si128(advance(acc, k128), load(sixteen));
            }

            let mut folded = [0u8; 16];
            _mm_storeu_si128(folded.as_mut_ptr().cast::<__m128i>(), acc);
            table_crc64(table_crc64(0, &folded), sixteens.remainder())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{crc64, table_crc64, xpow_mod_p, CLMUL_MIN_LEN};

    /// Polynomial as written in the usual (most significant bit first) notation.
    const POLY: u64 = 0xad93_d235_94c9_35a9;

    /// Bit-at-a-time model: shift right (reflected), folding in the mirrored polynomial whenever
    /// a one falls off the low end.
    fn slow_crc(mut crc: u64, data: &[u8]) -> u64 {
        let mirrored = POLY.reverse_bits();
        for &byte in data {
            crc ^= u64::from(byte);
            for _ in 0..8 {
                let low = crc & 1;
                crc >>= 1;
                if low == 1 {
                    crc ^= mirrored;
                }
            }
        }
        crc
    }

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
        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    #[test]
    fn check_value_for_digits() {
        assert_eq!(crc64(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
        assert_eq!(slow_crc(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    #[test]
    fn check_value_for_long_text_with_trailing_nul() {
        // The second vector from Redis's own self-test: the classic filler paragraph including
        // the C string terminator.
        let mut text = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed \
do eiusmod tempor incididunt ut labore et dolore magna \
aliqua. Ut enim ad minim veniam, quis nostrud exercitation \
ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis \
aute irure dolor in reprehenderit in voluptate velit esse \
cillum dolore eu fugiat nulla pariatur. Excepteur sint \
occaecat cupidatat non proident, sunt in culpa qui officia \
deserunt mollit anim id est laborum."
            .to_vec();
        text.push(0);
        assert_eq!(crc64(0, &text), 0xc779_4709_e696_83b3);
        assert_eq!(slow_crc(0, &text), 0xc779_4709_e696_83b3);
    }

    #[test]
    fn empty_input_leaves_value_unchanged() {
        assert_eq!(crc64(0, b""), 0);
        assert_eq!(crc64(0x1234_5678_9abc_def0, b""), 0x1234_5678_9abc_def0);
    }

    #[test]
    fn matches_bitwise_model_on_random_data() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for len in (0..64).chain([100, 255, 256, 1000, 4096, 10_007]) {
            let data = rng.bytes(len);
            let start = rng.next();
            assert_eq!(crc64(0, &data), slow_crc(0, &data), "len {len}");
            assert_eq!(
                crc64(start, &data),
                slow_crc(start, &data),
                "len {len} seeded"
            );
        }
    }

    #[test]
    fn chunked_updates_equal_one_shot() {
        let mut rng = XorShift(42);
        for _ in 0..50 {
            let len = (rng.next() % 3000) as usize;
            let data = rng.bytes(len);
            let whole = crc64(0, &data);
            let cut = if len == 0 {
                0
            } else {
                (rng.next() as usize) % (len + 1)
            };
            let (a, b) = data.split_at(cut);
            assert_eq!(crc64(crc64(0, a), b), whole);
            // Byte by byte too.
            let mut running = 0;
            for chunk in data.chunks(7) {
                running = crc64(running, chunk);
            }
            assert_eq!(running, whole);
        }
    }

    /// Random data and starting values for the comparisons below.
    fn sample(rng: &mut XorShift, len: usize) -> (u64, Vec<u8>) {
        let start = rng.next();
        (start, rng.bytes(len))
    }

    #[test]
    fn power_constants_agree_with_table_crc() {
        // Below degree 64 nothing is reduced: x^n is the single bit for x^n (reflected).
        for n in 0..64 {
            assert_eq!(xpow_mod_p(n), 1u64 << (63 - n), "x^{n}");
        }
        // A message of one set first bit followed by zeros, m bytes long, is the polynomial
        // x^(8m-1); its checksum from 0 is x^(8m-1)·x^64 = x^(8m+63) mod P. This covers every
        // exponent the folding uses: 127, 191, 1023 and 1087 (m = 8, 16, 120, 128).
        for m in 1..=160u32 {
            let mut msg = vec![0u8; m as usize];
            msg[0] = 1;
            let n = 8 * m + 63;
            assert_eq!(xpow_mod_p(n), table_crc64(0, &msg), "x^{n} vs table");
            assert_eq!(xpow_mod_p(n), slow_crc(0, &msg), "x^{n} vs model");
        }
    }

    #[test]
    fn every_length_to_300_matches_model_and_table() {
        let mut rng = XorShift(0x0123_4567_89ab_cdef);
        for len in 0..=300 {
            for _ in 0..3 {
                let (start, data) = sample(&mut rng, len);
                let want = slow_crc(start, &data);
                assert_eq!(table_crc64(start, &data), want, "table, len {len}");
                assert_eq!(crc64(start, &data), want, "len {len}, start {start:#x}");
                assert_eq!(crc64(0, &data), slow_crc(0, &data), "len {len}, start 0");
            }
        }
    }

    #[test]
    fn large_sizes_match_table_and_model() {
        let mut rng = XorShift(0xdead_beef_cafe_f00d);
        let sizes = [
            4095,
            4096,
            4097,
            4096 + 15,
            4096 + 127,
            65_535,
            65_536,
            65_537,
            65_536 + 113,
            (1 << 20) + 7,
        ];
        for len in sizes {
            let (start, data) = sample(&mut rng, len);
            let got = crc64(start, &data);
            assert_eq!(got, table_crc64(start, &data), "len {len} vs table");
            if len <= 65_536 + 113 {
                assert_eq!(got, slow_crc(start, &data), "len {len} vs model");
            }
            assert_eq!(crc64(0, &data), table_crc64(0, &data), "len {len}, start 0");
            assert_eq!(crc64(u64::MAX, &data), table_crc64(u64::MAX, &data));
        }
    }

    #[test]
    fn chaining_across_block_boundaries() {
        let mut rng = XorShift(7);
        let data = rng.bytes(5000);
        let whole = table_crc64(0, &data);
        assert_eq!(crc64(0, &data), whole);
        let fixed = [
            0, 1, 15, 16, 17, 100, 127, 128, 129, 143, 144, 255, 256, 257, 1000, 4871, 4872, 4873,
            4999, 5000,
        ];
        let random: Vec<usize> = (0..40).map(|_| (rng.next() % 5001) as usize).collect();
        for &cut in fixed.iter().chain(&random) {
            let (a, b) = data.split_at(cut);
            assert_eq!(crc64(crc64(0, a), b), whole, "cut at {cut}");
            // Three pieces, the middle one long enough for the folding path.
            if cut + 300 <= data.len() {
                let (b1, b2) = b.split_at(300);
                assert_eq!(crc64(crc64(crc64(0, a), b1), b2), whole, "cut at {cut}+300");
            }
        }
        // Uneven chunk sizes straddling the carry-less threshold.
        for step in [
            CLMUL_MIN_LEN - 1,
            CLMUL_MIN_LEN,
            CLMUL_MIN_LEN + 1,
            1000,
            4096,
        ] {
            let running = data.chunks(step).fold(0, crc64);
            assert_eq!(running, whole, "chunks of {step}");
        }
    }

    #[test]
    fn unaligned_slices_match_table() {
        let mut rng = XorShift(0x5151_5151_5151_5151);
        let buf = rng.bytes(4096 + 300);
        for offset in 1..=16 {
            for len in [0, 1, 15, 16, 127, 128, 129, 200, 1000, 4096 + 7] {
                let s = &buf[offset..offset + len];
                let start = rng.next();
                assert_eq!(
                    crc64(start, s),
                    table_crc64(start, s),
                    "offset {offset}, len {len}"
                );
            }
        }
    }

    /// Without this, a machine whose detection failed would silently test only the table.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn carry_less_path_is_taken_when_the_cpu_has_it() {
        let mut rng = XorShift(99);
        let data = rng.bytes(CLMUL_MIN_LEN + 50);
        let has = is_x86_feature_detected!("pclmulqdq")
            && is_x86_feature_detected!("sse2")
            && is_x86_feature_detected!("sse4.1");
        assert_eq!(super::clmul::available(), has);
        let got = super::clmul::crc64(5, &data);
        if has {
            assert_eq!(got, Some(table_crc64(5, &data)));
        } else {
            assert_eq!(got, None);
        }
        assert_eq!(super::clmul::crc64(5, &data[..CLMUL_MIN_LEN - 1]), None);
    }

    /// Throughput of the table code and of `crc64` on 64 MiB; prints, asserts nothing timed.
    /// Run with `cargo test --release -p redkit-formats crc64 -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn crc64_throughput_64mib() {
        use std::hint::black_box;
        use std::time::Instant;

        let mut rng = XorShift(0x1357_9bdf_2468_ace0);
        let data: Vec<u8> = (0..(64usize << 20) / 8)
            .flat_map(|_| rng.next().to_le_bytes())
            .collect();
        // Best of five passes, each `reps` times over `buf`, in GB/s (10^9 bytes per second).
        let gbps = |f: &dyn Fn(u64, &[u8]) -> u64, buf: &[u8], reps: usize| {
            let mut best = f64::INFINITY;
            let mut out = 0;
            for _ in 0..5 {
                let t = Instant::now();
                for _ in 0..reps {
                    out = black_box(f(black_box(out), black_box(buf)));
                }
                best = best.min(t.elapsed().as_secs_f64());
            }
            ((buf.len() * reps) as f64 / best / 1e9, out)
        };
        // For scale: the same passes just summing the words (roughly the memory read speed).
        let sum = |acc: u64, buf: &[u8]| {
            buf.chunks_exact(8).fold(acc, |a, w| {
                a.wrapping_add(u64::from_le_bytes(w.try_into().expect("8 bytes")))
            })
        };

        let (old, old_crc) = gbps(&table_crc64, &data, 1);
        let (new, new_crc) = gbps(&crc64, &data, 1);
        let (read, _) = gbps(&sum, &data, 1);
        assert_eq!(new_crc, old_crc);
        println!(
            "crc64 over 64 MiB: table {old:.2} GB/s, crc64() {new:.2} GB/s ({:.1}x); \
             plain read {read:.2} GB/s",
            new / old
        );

        let hot = &data[..256 << 10];
        let (old, old_crc) = gbps(&table_crc64, hot, 64);
        let (new, new_crc) = gbps(&crc64, hot, 64);
        assert_eq!(new_crc, old_crc);
        println!(
            "crc64 over 256 KiB in cache (x64): table {old:.2} GB/s, crc64() {new:.2} GB/s \
             ({:.1}x)",
            new / old
        );
    }
}
