//! A byte-for-byte model of how `redis-check-aof` 7.0 walks one AOF file (or the RESP tail after
//! an RDB preamble), so `redkit check-aof` reports the same `ok_up_to`, `ok_up_to_line`, error
//! line and verdict.
//!
//! redis-check-aof reads through stdio: a header line with `fgets` into a 128-byte buffer (so at
//! most 127 bytes, ending early after a `\n`), parses its number with `strtol` (leading
//! whitespace, a sign, digits, clamped on overflow), then wants the two bytes after the number
//! to be CRLF; a payload is read with `fread(len + 2)` and must end in CRLF; an annotation is one
//! `fgets` into a 1024-byte buffer. Its line counter goes up once per CRLF it checks. `ok_up_to`
//! is where the last record that was not inside a MULTI started being read, so it never points
//! inside an open transaction. It is laxer than the strict reader in `redkit_formats::resp` (it
//! takes `*0`, `*-1` and `* 3`) and stricter in one place (a nested MULTI or a lone EXEC is an
//! error). This module reproduces all of that over a byte slice; `resp` stays the reader for
//! everything that has to load.

use redkit_formats::cstr::strtol;

/// Why the walk stopped early in `--truncate-to-timestamp` mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TsStop {
    /// A `#TS:` line whose number does not parse (redis: "Invalid timestamp annotation").
    Invalid,
    /// The first record of the file is already past the timestamp.
    NothingBefore,
    /// A later timestamp was found in a file that is not the last one.
    NotLastFile { at: u64 },
    /// Truncate here: the offset of the first annotation later than the timestamp.
    Cut { at: u64 },
}

/// What the walk found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walk {
    /// Where the last complete top-level record ends: redis's `ok_up_to`.
    pub ok_up_to: u64,
    /// redis-check-aof's line counter when it stopped (it runs on across files).
    pub line: i64,
    /// The `0x<offset>: <what>` line redis prints, when it prints one.
    pub error: Option<Vec<u8>>,
    /// A record started with neither `*` nor `#`: redis prints "AOF <name> format error".
    pub format_error: bool,
    /// Set in timestamp mode when a `#TS` annotation stopped the walk.
    pub ts_stop: Option<TsStop>,
    /// Complete commands and annotations seen (commands inside an open MULTI included).
    pub commands: u64,
    pub annotations: u64,
    /// What the `*` line buffer holds at the end (see [`walk_with`]).
    pub star_stale: [u8; 128],
}

impl Default for Walk {
    fn default() -> Self {
        Walk {
            ok_up_to: 0,
            line: 0,
            error: None,
            format_error: false,
            ts_stop: None,
            commands: 0,
            annotations: 0,
            star_stale: [0; 128],
        }
    }
}

/// stdio's view of the file: the bytes, the read position, the EOF flag, and the bytes an
/// `fgets` into a reused buffer leaves behind (a few error messages print one byte past the
/// string `fgets` stored).
struct Stdio<'a> {
    data: &'a [u8],
    at: usize,
    eof: bool,
    stale: [[u8; 128]; 2],
}

impl<'a> Stdio<'a> {
    /// `fgets(buf, size)`: up to `size - 1` bytes, stopping after a `\n`; `None` at end of data.
    /// Sets the EOF flag when it ran into the end before either limit.
    fn fgets(&mut self, size: usize) -> Option<&'a [u8]> {
        let rest = &self.data[self.at..];
        if rest.is_empty() {
            self.eof = true;
            return None;
        }
        let max = rest.len().min(size - 1);
        let n = match rest[..max].iter().position(|&b| b == b'\n') {
            Some(i) => i + 1,
            None => {
                if max == rest.len() {
                    self.eof = true;
                }
                max
            }
        };
        self.at += n;
        Some(&rest[..n])
    }
}

/// `<1 to 7 digits>\r` at `d[at..]`, found with word-at-a-time tests (most header lines are
/// like that): the number and the index of the `\r`. `None` means "use the byte loop".
#[inline]
pub fn short_number(d: &[u8], at: usize) -> Option<(u64, usize)> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let w = u64::from_le_bytes(d.get(at..at + 8)?.try_into().ok()?);
    let x = w ^ (ONES * u64::from(b'\r'));
    let cr = x.wrapping_sub(ONES) & !x & HIGH;
    if cr == 0 {
        return None;
    }
    // The lowest flagged byte is the first CR (flags above it may be false).
    let k = (cr.trailing_zeros() / 8) as usize;
    if k == 0 {
        return None;
    }
    let mask = (1u64 << (8 * k)) - 1;
    let y = w.wrapping_sub(ONES * u64::from(b'0'));
    // A byte is a digit when y's byte is below 10; borrows and carries only ever turn a verdict
    // into "not a digit", which just sends the line to the slow path.
    if (y | y.wrapping_add(ONES * 0x76)) & HIGH & mask != 0 {
        return None;
    }
    let mut v = 0u64;
    for b in &d[at..at + k] {
        v = v * 10 + u64::from(b - b'0');
    }
    Some((v, at + k))
}

/// printf's `%02x` of a C `char` (signed on x86): bytes from 0x80 print sign-extended.
fn hex_char(b: u8) -> String {
    if b >= 0x80 {
        format!("{:08x}", b as i8 as i32 as u32)
    } else {
        format!("{b:02x}")
    }
}

/// The per-file walker.
pub struct Walker<'a> {
    io: Stdio<'a>,
    /// Offset of `data[0]` in the file (after an RDB preamble, the tail starts there).
    base: u64,
    /// redis's `epos`: where the last read began.
    epos: u64,
    line: i64,
    multi: i64,
    filepath: &'a str,
    error: Option<Vec<u8>>,
}

/// Walk one file's RESP part like redis-check-aof. `data` is the part to walk and starts at
/// file offset `base`; `line` is the counter carried over from earlier files (1 at the start);
/// `to_timestamp` is the `--truncate-to-timestamp` value (0 = off, as in redis); `last_file`
/// tells whether truncation at a timestamp is allowed here; `filepath` goes into the messages
/// that name the file by path.
pub fn walk(
    data: &[u8],
    base: u64,
    line: i64,
    to_timestamp: i64,
    last_file: bool,
    filepath: &str,
) -> Walk {
    walk_with(
        data,
        base,
        line,
        to_timestamp,
        last_file,
        filepath,
        [0; 128],
    )
}

/// [`walk`] for the next file of a multi-part AOF: `star_stale` is [`Walk::star_stale`] of the
/// previous file (redis reads every file's `*` lines into the same stack buffer).
pub fn walk_with(
    data: &[u8],
    base: u64,
    line: i64,
    to_timestamp: i64,
    last_file: bool,
    filepath: &str,
    star_stale: [u8; 128],
) -> Walk {
    let mut w = Walker {
        io: Stdio {
            data,
            at: 0,
            eof: false,
            stale: [star_stale, [0; 128]],
        },
        base,
        epos: 0,
        line,
        multi: 0,
        filepath,
        error: None,
    };
    let mut out = Walk::default();
    let mut pos = 0usize;
    loop {
        if w.multi == 0 {
            pos = w.io.at;
        }
        let Some(&first) = data.get(w.io.at) else {
            w.io.eof = true;
            break;
        };
        match first {
            b'#' => {
                w.epos = base + w.io.at as u64;
                let Some(l) = w.io.fgets(1024) else { break };
                out.annotations += 1;
                if to_timestamp != 0 && l.starts_with(b"#TS:") {
                    let (ts, end, over) = strtol(&l[4..]);
                    let end_byte = if end == 0 { l.get(4) } else { l.get(4 + end) };
                    if over || end_byte != Some(&b'\r') {
                        out.ts_stop = Some(TsStop::Invalid);
                        break;
                    }
                    if ts <= to_timestamp {
                        continue;
                    }
                    out.ts_stop = Some(if w.epos == 0 {
                        TsStop::NothingBefore
                    } else if !last_file {
                        TsStop::NotLastFile { at: w.epos }
                    } else {
                        TsStop::Cut { at: w.epos }
                    });
                    break;
                }
            }
            b'*' => {
                if !w.command() {
                    break;
                }
                out.commands += 1;
            }
            _ => {
                out.format_error = true;
                break;
            }
        }
    }
    if w.io.eof && w.multi != 0 && w.error.is_none() {
        w.set_error(b"Reached EOF before reading EXEC for MULTI".to_vec());
    }
    out.ok_up_to = base + pos as u64;
    out.line = w.line;
    out.star_stale = w.io.stale[0];
    out.error = w.error;
    out
}

impl Walker<'_> {
    fn set_error(&mut self, msg: Vec<u8>) {
        let mut e = format!("0x{:>16x}: ", self.epos).into_bytes();
        e.extend_from_slice(&msg);
        self.error = Some(e);
    }

    /// The two bytes at `eptr` of a header line as `fgets` left them in its buffer: the line,
    /// then its NUL, then whatever an earlier, longer line left there.
    fn newline_after(&mut self, l: &[u8], eptr: usize) -> bool {
        // What lies past the string is uninitialised memory in redis-check-aof. Observed with
        // 7.0: for `*` lines, what the previous `*` line left there; for `$` lines, zeros
        // (other calls reuse that stack memory in between).
        let dollar = l[0] == b'$';
        let stale = &mut self.io.stale[usize::from(dollar)];
        if dollar {
            *stale = [0; 128];
        }
        let at = |i: usize, stale: &[u8; 128]| -> u8 {
            match i.cmp(&l.len()) {
                std::cmp::Ordering::Less => l[i],
                std::cmp::Ordering::Equal => 0,
                std::cmp::Ordering::Greater => stale.get(i).copied().unwrap_or(0),
            }
        };
        let (a, b) = (at(eptr, stale), at(eptr + 1, stale));
        // Record what this fgets stored, for the next line's out-of-string peek.
        let n = l.len().min(127);
        stale[..n].copy_from_slice(&l[..n]);
        stale[n] = 0;
        if (a, b) == (b'\r', b'\n') {
            self.line += 1;
            true
        } else {
            let msg = format!("Expected \\r\\n, got: {}{}", hex_char(a), hex_char(b));
            self.set_error(msg.into_bytes());
            false
        }
    }

    /// redis's `readLong`: a `<prefix><number>\r\n` line.
    #[inline]
    fn read_long(&mut self, prefix: u8) -> Option<i64> {
        self.epos = self.base + self.io.at as u64;
        // The common case, `<prefix><1 to 18 digits>\r\n`, reads the same under every rule
        // below: parse it directly.
        let d = self.io.data;
        let at = self.io.at;
        if d.get(at) == Some(&prefix) {
            let (v, i) = match short_number(d, at + 1) {
                Some((v, end)) => (v as i64, end),
                None => {
                    let mut i = at + 1;
                    let mut v: i64 = 0;
                    while i < d.len() && i - at <= 18 && d[i].is_ascii_digit() {
                        v = v * 10 + i64::from(d[i] - b'0');
                        i += 1;
                    }
                    (v, i)
                }
            };
            if i > at + 1 && d.get(i) == Some(&b'\r') && d.get(i + 1) == Some(&b'\n') {
                self.io.at = i + 2;
                self.line += 1;
                if prefix == b'*' {
                    let n = i + 2 - at;
                    self.io.stale[0][..n].copy_from_slice(&d[at..i + 2]);
                    self.io.stale[0][n] = 0;
                }
                return Some(v);
            }
        }
        let l = self.io.fgets(128)?;
        if l[0] != prefix {
            let mut msg = format!("Expected prefix '{}', got: '", prefix as char).into_bytes();
            msg.push(l[0]);
            msg.push(b'\'');
            self.set_error(msg);
            return None;
        }
        let (v, end, _) = strtol(&l[1..]);
        // With no digits, strtol's end pointer is where it started, just after the prefix.
        let eptr = 1 + end;
        self.newline_after(l, eptr).then_some(v)
    }

    /// One argument; returns whether it read, and whether it is MULTI / EXEC (only asked for the
    /// first one).
    fn read_string(&mut self) -> Option<&[u8]> {
        let len = self.read_long(b'$')?;
        if !(0..=i64::MAX - 2).contains(&len) {
            let msg = format!(
                "Expected to read string of {len} bytes, which is not in the suitable range"
            );
            self.set_error(msg.into_bytes());
            return None;
        }
        self.epos = self.base + self.io.at as u64;
        let want = len as u64 + 2;
        let avail = (self.io.data.len() - self.io.at) as u64;
        if avail < want {
            self.io.at = self.io.data.len();
            self.io.eof = true;
            let msg = format!("Expected to read {want} bytes, got {avail} bytes");
            self.set_error(msg.into_bytes());
            return None;
        }
        let start = self.io.at;
        let stop = start + len as usize;
        self.io.at = stop + 2;
        let (a, b) = (self.io.data[stop], self.io.data[stop + 1]);
        if (a, b) != (b'\r', b'\n') {
            let msg = format!("Expected \\r\\n, got: {}{}", hex_char(a), hex_char(b));
            self.set_error(msg.into_bytes());
            return None;
        }
        self.line += 1;
        Some(&self.io.data[start..stop])
    }

    /// redis's `processRESP`: a whole command, tracking MULTI/EXEC.
    fn command(&mut self) -> bool {
        let Some(argc) = self.read_long(b'*') else {
            return false;
        };
        let mut i: i64 = 0;
        while i < argc {
            let filepath = self.filepath;
            let Some(arg) = self.read_string() else {
                return false;
            };
            if i == 0 {
                // strcasecmp on a C string: an embedded NUL ends the name.
                let name = match arg.iter().position(|&b| b == 0) {
                    Some(n) => &arg[..n],
                    None => arg,
                };
                if name.eq_ignore_ascii_case(b"multi") {
                    self.multi += 1;
                    if self.multi != 1 {
                        let msg = format!("Unexpected MULTI in AOF {filepath}");
                        self.set_error(msg.into_bytes());
                        return false;
                    }
                } else if name.eq_ignore_ascii_case(b"exec") {
                    self.multi -= 1;
                    if self.multi != 0 {
                        let msg = format!("Unexpected EXEC in AOF {filepath}");
                        self.set_error(msg.into_bytes());
                        return false;
                    }
                }
            }
            i += 1;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(data: &[u8]) -> Walk {
        walk(data, 0, 1, 0, true, "f.aof")
    }

    #[test]
    fn short_number_finds_digits_then_cr() {
        assert_eq!(short_number(b"12\r\nxxxxxx", 0), Some((12, 2)));
        assert_eq!(short_number(b"$1234567\r\n", 1), Some((1234567, 8)));
        assert_eq!(short_number(b"12345678\r", 0), None);
        assert_eq!(short_number(b"\r2345678\r", 0), None);
        assert_eq!(short_number(b"1a\r\nxxxxx", 0), None);
        assert_eq!(short_number(b"1/\r\nxxxxx", 0), None);
        assert_eq!(short_number(b"1:\r\nxxxxx", 0), None);
        assert_eq!(short_number(b"1\xb0\r\nxxxxx", 0), None);
        assert_eq!(short_number(b"12\r", 0), None);
        for n in [0u64, 9, 10, 99, 100, 65535, 9999999] {
            let s = format!("{n}\r\n......");
            assert_eq!(
                short_number(s.as_bytes(), 0),
                Some((n, n.to_string().len()))
            );
        }
    }

    #[test]
    fn valid_stream_counts_lines_and_skips_annotations() {
        let d = b"#TS:1\r\n*1\r\n$4\r\nPING\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n";
        let w = run(d);
        assert_eq!(w.ok_up_to, d.len() as u64);
        assert_eq!(w.line, 1 + 3 + 5);
        assert_eq!((w.commands, w.annotations), (2, 1));
        assert!(w.error.is_none() && !w.format_error);
    }

    #[test]
    fn lax_counts_are_taken() {
        // `*0` is a command with no arguments to redis-check-aof; `* 1` parses as 1.
        let d = b"*0\r\n* 1\r\n$1\r\nx\r\n";
        let w = run(d);
        assert!(w.error.is_none());
        assert_eq!(w.ok_up_to, d.len() as u64);
    }

    #[test]
    fn open_multi_points_before_it() {
        let d = b"*1\r\n$4\r\nPING\r\n*1\r\n$5\r\nMULTI\r\n*1\r\n$4\r\nPING\r\n";
        let w = run(d);
        assert_eq!(w.ok_up_to, 14);
        let e = String::from_utf8(w.error.unwrap()).unwrap();
        assert!(
            e.ends_with("Reached EOF before reading EXEC for MULTI"),
            "{e}"
        );
        // The last read began at the payload "PING" of the last command.
        assert!(e.starts_with(&format!("0x{:>16x}:", d.len() - 6)), "{e}");
    }

    #[test]
    fn nested_multi_and_lone_exec() {
        let w = run(b"*1\r\n$5\r\nmulti\r\n*1\r\n$5\r\nMULTI\r\n");
        assert_eq!(w.ok_up_to, 0);
        assert!(String::from_utf8(w.error.unwrap())
            .unwrap()
            .ends_with("Unexpected MULTI in AOF f.aof"));
        let w = run(b"*1\r\n$4\r\nEXEC\r\n");
        assert!(String::from_utf8(w.error.unwrap())
            .unwrap()
            .ends_with("Unexpected EXEC in AOF f.aof"));
    }

    #[test]
    fn errors_as_redis_words_them() {
        let w = run(b"*1\r\n$4\r\nPI");
        assert_eq!(
            w.error.as_deref(),
            Some(&b"0x               8: Expected to read 6 bytes, got 2 bytes"[..])
        );
        assert_eq!(w.line, 3);
        let w = run(b"*1\r\n$4\r\nPINGxx");
        assert_eq!(
            w.error.as_deref(),
            Some(&b"0x               8: Expected \\r\\n, got: 7878"[..])
        );
        let w = run(b"*1\r\n%4\r\n");
        assert_eq!(
            w.error.as_deref(),
            Some(&b"0x               4: Expected prefix '$', got: '%'"[..])
        );
        let w = run(b"*1\r\n$-1\r\n");
        assert!(w
            .error
            .unwrap()
            .ends_with(b"Expected to read string of -1 bytes, which is not in the suitable range"));
        let w = run(b"*1\r\n$\xe2\r\n");
        assert_eq!(
            w.error.as_deref(),
            Some(&b"0x               4: Expected \\r\\n, got: ffffffe20d"[..])
        );
        let w = run(b"x");
        assert!(w.format_error && w.error.is_none() && w.ok_up_to == 0);
    }

    #[test]
    fn timestamps() {
        let d = b"#TS:10\r\n*1\r\n$4\r\nPING\r\n#TS:20\r\n*1\r\n$4\r\nPING\r\n";
        let w = walk(d, 0, 1, 15, true, "f");
        assert_eq!(w.ts_stop, Some(TsStop::Cut { at: 22 }));
        let w = walk(d, 0, 1, 5, true, "f");
        assert_eq!(w.ts_stop, Some(TsStop::NothingBefore));
        let w = walk(d, 0, 1, 15, false, "f");
        assert_eq!(w.ts_stop, Some(TsStop::NotLastFile { at: 22 }));
        let w = walk(d, 0, 1, 25, true, "f");
        assert_eq!(w.ts_stop, None);
        let w = walk(b"#TS:x\r\n", 0, 1, 25, true, "f");
        assert_eq!(w.ts_stop, Some(TsStop::Invalid));
    }
}
