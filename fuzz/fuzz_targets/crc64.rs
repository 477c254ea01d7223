//! CRC64 (Jones, reflected, init 0): the fast paths (carry-less multiplication on x86_64 for
//! inputs of 128 bytes and more, tables otherwise) against a bit-at-a-time model, with a
//! starting value from the first 8 input bytes and a split point from the next 2.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redkit_formats::crc64::crc64;

/// The polynomial 0xad93d23594c935a9 with its bits mirrored, for the reflected shift-right form.
const MIRRORED: u64 = 0x95ac_9329_ac4b_c9b5;

fn model(mut crc: u64, data: &[u8]) -> u64 {
    for &byte in data {
        crc ^= u64::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ MIRRORED
            } else {
                crc >> 1
            };
        }
    }
    crc
}

fuzz_target!(|input: &[u8]| {
    let Some((seed, rest)) = input.split_first_chunk::<8>() else {
        return;
    };
    let Some((cut, data)) = rest.split_first_chunk::<2>() else {
        return;
    };
    let seed = u64::from_le_bytes(*seed);
    let want = model(seed, data);
    assert_eq!(crc64(seed, data), want, "len {}", data.len());
    let cut = usize::from(u16::from_le_bytes(*cut)) % (data.len() + 1);
    let (a, b) = data.split_at(cut);
    assert_eq!(
        crc64(crc64(seed, a), b),
        want,
        "split {cut} of {}",
        data.len()
    );
});
