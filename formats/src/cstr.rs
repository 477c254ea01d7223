//! The C library's view of bytes, for the places where redkit must read a text exactly as a
//! Redis tool written in C reads it (manifest numbers, redis-check-aof's header lines,
//! `--truncate-to-timestamp`): strings end at the first NUL, `isspace` is the C locale's, and
//! numbers are parsed like `strtol`.

/// The part of `b` a C string function sees: everything before the first NUL.
pub fn c_str(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(i) => &b[..i],
        None => b,
    }
}

/// C `isspace` in the C locale.
pub fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// C's `strtol(s, &end, 10)` (and `atoll`, its value) with a 64-bit `long`, over the C string in
/// `s`: leading whitespace, an optional sign, digits. Returns `(value, end, overflowed)`; `end`
/// is the index after the last digit, 0 when there are no digits (strtol then returns its
/// argument); an overflow clamps to `i64::MIN` / `i64::MAX` (strtol's `ERANGE`).
pub fn strtol(s: &[u8]) -> (i64, usize, bool) {
    let s = c_str(s);
    let mut i = 0;
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits = i;
    let mut mag: u64 = 0;
    let mut over = false;
    while let Some(&b) = s.get(i).filter(|b| b.is_ascii_digit()) {
        match mag
            .checked_mul(10)
            .and_then(|m| m.checked_add(u64::from(b - b'0')))
        {
            Some(m) => mag = m,
            None => over = true,
        }
        i += 1;
    }
    if i == digits {
        return (0, 0, false);
    }
    let limit = if neg { 1u64 << 63 } else { i64::MAX as u64 };
    if over || mag > limit {
        return (if neg { i64::MIN } else { i64::MAX }, i, true);
    }
    let v = if neg {
        (mag as i64).wrapping_neg()
    } else {
        mag as i64
    };
    (v, i, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtol_matches_c() {
        assert_eq!(strtol(b"12\r\n"), (12, 2, false));
        assert_eq!(strtol(b" +7x"), (7, 3, false));
        assert_eq!(strtol(b"-3"), (-3, 2, false));
        assert_eq!(strtol(b"\r\n"), (0, 0, false));
        assert_eq!(strtol(b"-"), (0, 0, false));
        assert_eq!(strtol(b"99999999999999999999\r"), (i64::MAX, 20, true));
        assert_eq!(strtol(b"-9223372036854775808"), (i64::MIN, 20, false));
        assert_eq!(strtol(b"-9223372036854775809"), (i64::MIN, 20, true));
        assert_eq!(strtol(b"4\x005"), (4, 1, false));
    }
}
