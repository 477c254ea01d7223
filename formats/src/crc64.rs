//! The CRC-64 that Redis appends to RDB files (and to DUMP payloads).
//!
//! Parameters: the "Jones" polynomial 0xad93d23594c935a9, processed bit-reflected (least
//! significant bit of each byte first), starting value 0, no final XOR. The 8 bytes written at
//! the end of an RDB file are this value in little-endian order, computed over every byte of the
//! file before them.
//!
//! The checksum is a running value: feeding a stream in pieces gives the same result as feeding
//! it at once, `crc64(crc64(0, a), b) == crc64(0, a ++ b)`, so a reader can update it chunk by
//! chunk. The table-driven work is done by the `crc64` crate; this module pins the parameters
//! down with tests against a deliberately slow bit-at-a-time model.

/// Continue the checksum `crc` over `data`. Start a new checksum with `crc = 0`.
#[inline]
pub fn crc64(crc: u64, data: &[u8]) -> u64 {
    ::crc64::crc64(crc, data)
}

#[cfg(test)]
mod tests {
    use super::crc64;

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
}
