//! Reading the RESP command stream of an append-only file (AOF), without copying.
//!
//! # Layout
//!
//! An AOF (or the part of one after an RDB preamble, or an INCR file of a multi-part AOF) is a
//! sequence of records, each starting with its first byte:
//!
//! - `*` — a command: the header line `*<argc>\r\n` (argc decimal, at least 1), followed by argc
//!   arguments, each a header line `$<len>\r\n`, then exactly `len` bytes of payload (any bytes,
//!   CR and LF included; `len` may be 0), then `\r\n`.
//! - `#` — an annotation line. With `aof-timestamp-enabled`, Redis 7 writes
//!   `#TS:<unix-seconds>\r\n` before a command whenever the second has changed since the last
//!   one; every line starting with `#` is skipped by the loader. Redis's readers split lines at
//!   `\n` only, so an annotation ends at the first `\n` (a `\r` before it is part of the line
//!   ending), and they read a line into a 1024-byte buffer, so a longer annotation would be cut
//!   in two; this reader calls such a line corrupt.
//!
//! Anything else where a record should start is corrupt.
//!
//! This reader is stricter than Redis's readers in what a number may look like: an optional `-`,
//! then ASCII digits (leading zeros allowed), no `+`, no spaces, immediately followed by `\r\n`,
//! the whole header line at most 127 bytes. An argument count must be 1..=2^31-1 (the loader
//! keeps it in a C `int` and rejects counts below 1; `redis-check-aof` lets `*0` and `*-1`
//! through, this reader does not), a payload length 0..=2^63-3 (the range `redis-check-aof`
//! accepts). A header line is read in full before its value is range-checked.
//!
//! # Streaming
//!
//! [`next_record`] parses one record at `pos` of a window `data` whose first byte is at absolute
//! offset `base`. A record cut short by the end of `data` gives an `UnexpectedEof` error
//! ([`Error::is_incomplete`]) whose `offset` is where the unfinished item starts; the caller reads
//! more and calls again from the same `pos`. This includes `pos == data.len()`: a caller that
//! knows the input has ended takes that as the clean end of the stream. Malformed input gives a
//! `Corrupt` error at the absolute offset of the first wrong byte (for a number out of range,
//! the byte after the `*` or `$`). Nothing is allocated in proportion to a count before the bytes behind it
//! have been seen: the argument list grows as arguments parse.
//!
//! # Line numbers (as `redis-check-aof` counts them)
//!
//! `redis-check-aof` reports `ok_up_to_line`, a counter that starts at 1 and goes up by one for
//! each CRLF it consumes and checks while reading commands: the `*<argc>` header line, each
//! `$<len>` header line, and the CRLF after each payload. CRLFs inside a payload do not count,
//! so a command with n arguments moves the counter by `1 + 2n`. Annotation lines do not move it
//! at all: they are read by a separate routine that never touches the counter. A line is
//! counted only once its CRLF has been checked, so when a record fails part way the counter
//! includes the lines of that record that were complete (a `$-1\r\n` header counts before its
//! length is rejected), while `ok_up_to` points at the start of the record.
//!
//! Records carry `line`, the counter value where they start (the `line` passed in), and
//! [`Record::next_line`] gives the value after them. [`line_after`] gives the counter where
//! reading one record from `pos` stops, complete or not, which is what `redis-check-aof` prints
//! as `ok_up_to_line` when that record is the bad one.

use crate::{Error, Result};

/// The longest annotation line (with its line ending) Redis's readers take in one piece: they
/// read lines into a 1024-byte buffer, which holds 1023 bytes and the terminating NUL.
pub const MAX_ANNOTATION_LINE: usize = 1023;

/// Largest argument count: the AOF loader keeps it in a C `int`.
pub const MAX_ARGC: u64 = i32::MAX as u64;

/// Largest payload length: what `redis-check-aof` accepts (`LONG_MAX - 2`).
pub const MAX_BULK_LEN: u64 = i64::MAX as u64 - 2;

/// At most this many argument slots are reserved before the arguments have been seen.
const ARGS_PREALLOC: usize = 16;

/// The longest `*`/`$` header line (with its CRLF) accepted: `redis-check-aof` reads these lines
/// into a 128-byte buffer.
pub const MAX_HEADER_LINE: usize = 127;

/// One command: its arguments, borrowed from the input.
///
/// `args` is a plain `Vec` of slices: the payloads are not copied, and the one allocation per
/// command is small (commands in an AOF almost always have a handful of arguments) and bounded
/// by the bytes actually parsed, never by the announced count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command<'a> {
    /// The arguments, the command name first; never empty.
    pub args: Vec<&'a [u8]>,
    /// Absolute offset of the `*`.
    pub offset: u64,
    /// Index in `data` just after the command: where the next record starts.
    pub end: usize,
    /// `redis-check-aof`'s line counter at the start of the command.
    pub line: u64,
}

impl Command<'_> {
    /// The line counter after this command: `line + 1 + 2 * argc`.
    pub fn next_line(&self) -> u64 {
        self.line
            .saturating_add(1)
            .saturating_add((self.args.len() as u64).saturating_mul(2))
    }
}

/// One record of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record<'a> {
    Command(Command<'a>),
    /// A `#` line. `text` is what follows the `#`, without the line ending (`TS:1700000000`).
    Annotation {
        text: &'a [u8],
        /// Absolute offset of the `#`.
        offset: u64,
        /// Index in `data` just after the line's `\n`.
        end: usize,
        /// The line counter (unchanged by annotations).
        line: u64,
    },
}

impl Record<'_> {
    /// Absolute offset where the record starts.
    pub fn offset(&self) -> u64 {
        match self {
            Record::Command(c) => c.offset,
            Record::Annotation { offset, .. } => *offset,
        }
    }

    /// Index in `data` where the next record starts.
    pub fn end(&self) -> usize {
        match self {
            Record::Command(c) => c.end,
            Record::Annotation { end, .. } => *end,
        }
    }

    /// The line counter at the start of the record.
    pub fn line(&self) -> u64 {
        match self {
            Record::Command(c) => c.line,
            Record::Annotation { line, .. } => *line,
        }
    }

    /// The line counter after the record (annotations do not move it).
    pub fn next_line(&self) -> u64 {
        match self {
            Record::Command(c) => c.next_line(),
            Record::Annotation { line, .. } => *line,
        }
    }

    /// The seconds of a `#TS:<seconds>` annotation; `None` for commands and other annotations.
    pub fn timestamp(&self) -> Option<i64> {
        let Record::Annotation { text, .. } = self else {
            return None;
        };
        let digits = text.strip_prefix(b"TS:")?;
        std::str::from_utf8(digits).ok()?.parse().ok()
    }
}

/// Parse the record starting at `data[pos]`. `data[0]` is at absolute offset `base`; `line` is
/// the `redis-check-aof` line counter at `pos` (1 at the start of a file).
pub fn next_record(data: &[u8], pos: usize, base: u64, line: u64) -> Result<Record<'_>> {
    let mut counter = line;
    parse(data, pos, base, &mut counter)
}

/// `redis-check-aof`'s line counter after reading the one record at `pos` as far as it goes: the
/// record's [`Record::next_line`] when it parses, otherwise `line` plus the lines of it that
/// were complete before the error.
pub fn line_after(data: &[u8], pos: usize, line: u64) -> u64 {
    let mut counter = line;
    let _ = parse(data, pos, 0, &mut counter);
    counter
}

/// The parser proper. `line` goes up as each counted line is checked, so on error it holds the
/// value `redis-check-aof` would have reached.
fn parse<'a>(data: &'a [u8], pos: usize, base: u64, line: &mut u64) -> Result<Record<'a>> {
    let abs = |i: usize| base.saturating_add(i as u64);
    let Some(&first) = data.get(pos) else {
        return Err(Error::eof(1, abs(pos.min(data.len())), "AOF record"));
    };
    match first {
        b'#' => annotation(data, pos, base, *line),
        b'*' => {
            let start_line = *line;
            let (neg, argc, mut at) = header(data, pos, base, b'*', "command argument count")?;
            *line = line.saturating_add(1);
            if neg || argc == 0 || argc > MAX_ARGC {
                return Err(Error::corrupt(
                    format!(
                        "argument count {} out of range (1..={MAX_ARGC})",
                        crate::escape_key(&data[pos + 1..at - 2])
                    ),
                    abs(pos + 1),
                    "command argument count",
                ));
            }
            let mut args = Vec::with_capacity((argc as usize).min(ARGS_PREALLOC));
            for _ in 0..argc {
                let (neg, len, start) = header(data, at, base, b'$', "argument length")?;
                *line = line.saturating_add(1);
                if neg || len > MAX_BULK_LEN {
                    return Err(Error::corrupt(
                        format!(
                            "argument length {} out of range (0..={MAX_BULK_LEN})",
                            crate::escape_key(&data[at + 1..start - 2])
                        ),
                        abs(at + 1),
                        "argument length",
                    ));
                }
                // `len + 2` cannot overflow u64; compare before converting to usize.
                let avail = (data.len() - start) as u64;
                if avail < len + 2 {
                    return Err(Error::eof(len + 2 - avail, abs(start), "argument"));
                }
                let stop = start + len as usize;
                if &data[stop..stop + 2] != b"\r\n" {
                    return Err(Error::corrupt(
                        format!("expected CRLF after {len}-byte argument"),
                        abs(stop),
                        "argument",
                    ));
                }
                *line = line.saturating_add(1);
                args.push(&data[start..stop]);
                at = stop + 2;
            }
            Ok(Record::Command(Command {
                args,
                offset: abs(pos),
                end: at,
                line: start_line,
            }))
        }
        other => Err(Error::corrupt(
            format!(
                "expected '*' or '#' at the start of a record, found '{}'",
                crate::escape_key(&[other])
            ),
            abs(pos),
            "AOF record",
        )),
    }
}

/// A header line `<prefix>[-]<digits>\r\n` at `data[pos]`. Returns whether the number is
/// negative, its magnitude (saturated at `u64::MAX`) and the index after the line. Range checks
/// are the caller's, after it has counted the line, as `redis-check-aof` does.
fn header(
    data: &[u8],
    pos: usize,
    base: u64,
    prefix: u8,
    doing: &'static str,
) -> Result<(bool, u64, usize)> {
    // The common case, `<prefix><1 to 18 digits>\r\n`: parsed directly. Anything else takes
    // the careful path below, which also produces the errors.
    if data.get(pos) == Some(&prefix) {
        let mut i = pos + 1;
        let mut v: u64 = 0;
        while i < data.len() && i - pos <= 18 && data[i].is_ascii_digit() {
            v = v * 10 + u64::from(data[i] - b'0');
            i += 1;
        }
        if i > pos + 1 && data.get(i) == Some(&b'\r') && data.get(i + 1) == Some(&b'\n') {
            return Ok((false, v, i + 2));
        }
    }
    let abs = |i: usize| base.saturating_add(i as u64);
    match data.get(pos) {
        None => return Err(Error::eof(4, abs(pos), doing)),
        Some(&b) if b != prefix => {
            return Err(Error::corrupt(
                format!(
                    "expected '{}', found '{}'",
                    prefix as char,
                    crate::escape_key(&[b])
                ),
                abs(pos),
                doing,
            ))
        }
        Some(_) => {}
    }
    let negative = data.get(pos + 1) == Some(&b'-');
    let digits_at = pos + 1 + usize::from(negative);
    let mut value: u64 = 0;
    let mut i = digits_at;
    loop {
        let Some(&b) = data.get(i) else {
            // Still needed: a digit if there is none yet, then CR and LF.
            let needed = if i == digits_at { 3 } else { 2 };
            return Err(Error::eof(needed, abs(pos), doing));
        };
        match b {
            b'0'..=b'9' => {
                if i + 1 - pos + 2 > MAX_HEADER_LINE {
                    return Err(Error::corrupt(
                        format!("line longer than {MAX_HEADER_LINE} bytes"),
                        abs(pos),
                        doing,
                    ));
                }
                value = value.saturating_mul(10).saturating_add(u64::from(b - b'0'));
                i += 1;
            }
            b'\r' if i > digits_at => break,
            _ if i == digits_at => {
                return Err(Error::corrupt(
                    format!("expected a digit, found '{}'", crate::escape_key(&[b])),
                    abs(i),
                    doing,
                ));
            }
            _ => {
                return Err(Error::corrupt(
                    format!(
                        "expected a digit or CRLF, found '{}'",
                        crate::escape_key(&[b])
                    ),
                    abs(i),
                    doing,
                ));
            }
        }
    }
    // data[i] is the CR.
    match data.get(i + 1) {
        None => Err(Error::eof(1, abs(pos), doing)),
        Some(b'\n') => Ok((negative, value, i + 2)),
        Some(&b) => Err(Error::corrupt(
            format!("expected LF after CR, found '{}'", crate::escape_key(&[b])),
            abs(i + 1),
            doing,
        )),
    }
}

/// A `#` line at `data[pos]`.
fn annotation(data: &[u8], pos: usize, base: u64, line: u64) -> Result<Record<'_>> {
    let abs = |i: usize| base.saturating_add(i as u64);
    let window = &data[pos..data.len().min(pos + MAX_ANNOTATION_LINE)];
    match window.iter().position(|&b| b == b'\n') {
        Some(nl) => {
            let body = &window[1..nl];
            let text = body.strip_suffix(b"\r").unwrap_or(body);
            Ok(Record::Annotation {
                text,
                offset: abs(pos),
                end: pos + nl + 1,
                line,
            })
        }
        None if window.len() == MAX_ANNOTATION_LINE => Err(Error::corrupt(
            format!("annotation line longer than {MAX_ANNOTATION_LINE} bytes"),
            abs(pos),
            "annotation",
        )),
        None => Err(Error::eof(1, abs(pos), "annotation")),
    }
}

/// Append one command as Redis writes it to an AOF (and to a replication stream):
/// `*<argc>\r\n`, then `$<len>\r\n<bytes>\r\n` per argument.
pub fn encode_command(args: &[&[u8]], out: &mut Vec<u8>) {
    let mut num = [0u8; 20];
    out.push(b'*');
    out.extend_from_slice(crate::fmt_i64(args.len() as i64, &mut num));
    out.extend_from_slice(b"\r\n");
    for a in args {
        out.push(b'$');
        out.extend_from_slice(crate::fmt_i64(a.len() as i64, &mut num));
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn cmd(args: &[&[u8]]) -> Vec<u8> {
        let mut v = Vec::new();
        encode_command(args, &mut v);
        v
    }

    #[test]
    fn encode_command_writes_redis_layout() {
        assert_eq!(
            cmd(&[b"SET", b"k", b""]),
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"
        );
    }

    /// Parse a whole stream from line 1; returns the records and the error that stopped it
    /// (`None` when it ended exactly at the end of `data`).
    fn parse_all(data: &[u8], base: u64) -> (Vec<Record<'_>>, Option<Error>, usize, u64) {
        let (mut pos, mut line, mut out) = (0, 1, Vec::new());
        loop {
            if pos == data.len() {
                return (out, None, pos, line);
            }
            match next_record(data, pos, base, line) {
                Ok(r) => {
                    assert_eq!(r.offset(), base + pos as u64);
                    assert_eq!(r.line(), line);
                    assert!(r.end() > pos);
                    pos = r.end();
                    line = r.next_line();
                    out.push(r);
                }
                Err(e) => return (out, Some(e), pos, line),
            }
        }
    }

    fn args_of<'a>(r: &Record<'a>) -> Vec<&'a [u8]> {
        match r {
            Record::Command(c) => c.args.clone(),
            Record::Annotation { .. } => panic!("expected a command, got {r:?}"),
        }
    }

    fn corrupt_at(data: &[u8], pos: usize, base: u64) -> (u64, &'static str, String) {
        match next_record(data, pos, base, 1) {
            Err(Error {
                kind: ErrorKind::Corrupt(m),
                offset,
                doing,
                ..
            }) => (offset, doing, m),
            other => panic!("expected a Corrupt error, got {other:?}"),
        }
    }

    /// xorshift64*, deterministic.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[test]
    fn generated_commands_round_trip() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let alphabet = b"\r\n\0*$#ab\xff";
        let mut cmds: Vec<Vec<Vec<u8>>> = Vec::new();
        for _ in 0..300 {
            let argc = 1 + rng.below(40) as usize;
            let mut c = Vec::new();
            for _ in 0..argc {
                let len = match rng.below(10) {
                    0 => 0,
                    1 => 200 + rng.below(3000) as usize,
                    _ => rng.below(12) as usize,
                };
                c.push(
                    (0..len)
                        .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
                        .collect(),
                );
            }
            cmds.push(c);
        }
        let mut data = Vec::new();
        for c in &cmds {
            let refs: Vec<&[u8]> = c.iter().map(Vec::as_slice).collect();
            encode_command(&refs, &mut data);
        }
        let base = 1_000_000;
        let (recs, err, end, line) = parse_all(&data, base);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(end, data.len());
        assert_eq!(recs.len(), cmds.len());
        for (r, c) in recs.iter().zip(&cmds) {
            assert_eq!(args_of(r), c.iter().map(Vec::as_slice).collect::<Vec<_>>());
        }
        let expected_lines: u64 = cmds.iter().map(|c| 1 + 2 * c.len() as u64).sum();
        assert_eq!(line, 1 + expected_lines);
        // Arguments are borrowed from the input, not copied.
        let Record::Command(c) = &recs[0] else {
            unreachable!()
        };
        let range = data.as_ptr_range();
        assert!(c
            .args
            .iter()
            .all(|a| range.contains(&a.as_ptr()) || a.is_empty()));
    }

    #[test]
    fn arguments_are_binary_safe() {
        let args: [&[u8]; 4] = [b"SET", b"k\r\ney", b"\r\n", b"*1\r\n$1\r\nx\r\n"];
        let data = cmd(&args);
        let r = next_record(&data, 0, 0, 1).unwrap();
        assert_eq!(args_of(&r), args);
        assert_eq!(r.end(), data.len());
        // CRLFs inside payloads are not lines: 1 + 2 * 4.
        assert_eq!(r.next_line(), 10);
    }

    #[test]
    fn empty_arguments() {
        let data = b"*3\r\n$3\r\nSET\r\n$0\r\n\r\n$0\r\n\r\n";
        let r = next_record(data, 0, 0, 1).unwrap();
        assert_eq!(args_of(&r), [&b"SET"[..], b"", b""]);
        assert_eq!(r.end(), data.len());
        assert_eq!(cmd(&args_of(&r)), data);
    }

    #[test]
    fn annotations_between_commands() {
        let mut data = b"#TS:1700000000\r\n".to_vec();
        encode_command(&[b"SELECT", b"0"], &mut data);
        data.extend_from_slice(b"#TS:1700000001\r\n#other note\n");
        encode_command(&[b"PING"], &mut data);
        let (recs, err, _, line) = parse_all(&data, 7);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(recs.len(), 5);
        assert_eq!(
            recs[0],
            Record::Annotation {
                text: b"TS:1700000000",
                offset: 7,
                end: 16,
                line: 1
            }
        );
        assert_eq!(recs[0].timestamp(), Some(1_700_000_000));
        assert_eq!(args_of(&recs[1]), [&b"SELECT"[..], b"0"]);
        assert_eq!(recs[1].line(), 1);
        assert_eq!(recs[2].timestamp(), Some(1_700_000_001));
        assert_eq!(recs[2].line(), 6);
        // LF-only annotation lines are accepted, as Redis's line readers do.
        assert!(matches!(
            recs[3],
            Record::Annotation {
                text: b"other note",
                ..
            }
        ));
        assert_eq!(recs[3].timestamp(), None);
        assert_eq!(recs[4].timestamp(), None);
        assert_eq!(args_of(&recs[4]), [&b"PING"[..]]);
        assert_eq!(line, 1 + 5 + 3);
    }

    #[test]
    fn annotation_length_limit() {
        let mut ok = vec![b'#'; MAX_ANNOTATION_LINE - 2];
        ok.extend_from_slice(b"\r\n");
        let r = next_record(&ok, 0, 0, 1).unwrap();
        assert_eq!(r.end(), MAX_ANNOTATION_LINE);
        let mut long = vec![b'#'; MAX_ANNOTATION_LINE - 1];
        long.extend_from_slice(b"\r\n");
        let (offset, doing, _) = corrupt_at(&long, 0, 50);
        assert_eq!((offset, doing), (50, "annotation"));
        // Without a line ending yet, a short annotation is merely incomplete.
        assert!(next_record(b"#TS:17", 0, 0, 1).unwrap_err().is_incomplete());
    }

    fn sample_stream() -> Vec<u8> {
        let mut data = b"#TS:1700000000\r\n".to_vec();
        encode_command(&[b"SELECT", b"0"], &mut data);
        encode_command(&[b"SET", b"key\r\n", b""], &mut data);
        data.extend_from_slice(b"#TS:1700000001\r\n");
        encode_command(&[b"RPUSH", b"l", b"1234567890", b"x"], &mut data);
        data
    }

    #[test]
    fn every_truncation_is_incomplete() {
        let data = sample_stream();
        let (full, err, _, full_line) = parse_all(&data, 0);
        assert!(err.is_none());
        assert_eq!(full.len(), 5);
        for cut in 0..data.len() {
            let prefix = &data[..cut];
            let (recs, err, pos, _) = parse_all(prefix, 100);
            // The records that fit entirely in the prefix parse; the next one is incomplete.
            let fitting = full.iter().filter(|r| r.end() <= cut).count();
            assert_eq!(recs.len(), fitting, "cut at {cut}");
            if cut == pos {
                assert!(err.is_none(), "cut at {cut}: {err:?}");
                // At the very end, asking for another record is "need more", not an error.
                assert!(next_record(prefix, pos, 100, 1)
                    .unwrap_err()
                    .is_incomplete());
            } else {
                let e = err.unwrap();
                assert!(e.is_incomplete(), "cut at {cut}: {e}");
                assert!(e.offset >= 100 + pos as u64 && e.offset <= 100 + cut as u64);
            }
        }
        assert_eq!(full_line, 1 + 5 + 7 + 9);
    }

    #[test]
    fn out_of_range_position_is_incomplete_not_a_panic() {
        let e = next_record(b"*1\r\n", 10, 0, 1).unwrap_err();
        assert!(e.is_incomplete());
    }

    #[test]
    fn corrupt_input_names_offset_and_what_was_read() {
        let base = 1000;
        // LF-only line endings: the byte after the digits must be CR.
        let (o, d, _) = corrupt_at(b"*1\n$4\nPING\n", 0, base);
        assert_eq!((o, d), (base + 2, "command argument count"));
        let (o, d, _) = corrupt_at(b"*1\r\n$4\nPING\n", 0, base);
        assert_eq!((o, d), (base + 6, "argument length"));
        let (o, d, _) = corrupt_at(b"*1\r\n$4\r\nPING\n\n", 0, base);
        assert_eq!((o, d), (base + 12, "argument"));
        // CR not followed by LF.
        let (o, d, _) = corrupt_at(b"*1\rX", 0, base);
        assert_eq!((o, d), (base + 3, "command argument count"));
        // `$` length shorter / longer than the payload.
        let (o, d, m) = corrupt_at(b"*1\r\n$3\r\nPING\r\n", 0, base);
        assert_eq!((o, d), (base + 11, "argument"), "{m}");
        let (o, d, _) = corrupt_at(b"*1\r\n$5\r\nPING\r\n*1\r\n", 0, base);
        assert_eq!((o, d), (base + 13, "argument"));
        // Non-digit counts and lengths.
        let (o, d, _) = corrupt_at(b"*x\r\n", 0, base);
        assert_eq!((o, d), (base + 1, "command argument count"));
        let (o, d, _) = corrupt_at(b"*1x\r\n", 0, base);
        assert_eq!((o, d), (base + 2, "command argument count"));
        let (o, d, _) = corrupt_at(b"*\r\n", 0, base);
        assert_eq!((o, d), (base + 1, "command argument count"));
        let (o, d, _) = corrupt_at(b"*+1\r\n", 0, base);
        assert_eq!((o, d), (base + 1, "command argument count"));
        let (o, d, _) = corrupt_at(b"*1\r\n$ 4\r\nPING\r\n", 0, base);
        assert_eq!((o, d), (base + 5, "argument length"));
        // Argument count below 1.
        let (o, d, _) = corrupt_at(b"*0\r\n", 0, base);
        assert_eq!((o, d), (base + 1, "command argument count"));
        let (o, d, _) = corrupt_at(b"*-1\r\n", 0, base);
        assert_eq!((o, d), (base + 1, "command argument count"));
        let (o, d, _) = corrupt_at(b"*-\r\n", 0, base);
        assert_eq!((o, d), (base + 2, "command argument count"));
        // Negative length.
        let (o, d, _) = corrupt_at(b"*1\r\n$-1\r\n", 0, base);
        assert_eq!((o, d), (base + 5, "argument length"));
        // Missing '$', and a record that starts with neither '*' nor '#'.
        let (o, d, _) = corrupt_at(b"*1\r\n+OK\r\n", 0, base);
        assert_eq!((o, d), (base + 4, "argument length"));
        let (o, d, _) = corrupt_at(b"SET k v\r\n", 0, base);
        assert_eq!((o, d), (base, "AOF record"));
        // Offsets are absolute when parsing starts mid-window.
        let mut data = cmd(&[b"PING"]);
        data.extend_from_slice(b"*2\r\n$1\r\nab\r\n");
        let (o, _, _) = corrupt_at(&data, 14, base);
        assert_eq!(o, base + 14 + 9);
    }

    #[test]
    fn huge_counts_and_lengths_never_allocate_by_the_count() {
        // Over the loader's int range: corrupt at once, whatever follows.
        let (o, d, _) = corrupt_at(b"*99999999999\r\n", 0, 0);
        assert_eq!((o, d), (1, "command argument count"));
        // In range but with nothing behind it: just incomplete (and only 16 slots reserved).
        let e = next_record(b"*2147483647\r\n", 0, 0, 1).unwrap_err();
        assert!(e.is_incomplete(), "{e}");
        let (o, _, _) = corrupt_at(b"*2147483648\r\n", 0, 0);
        assert_eq!(o, 1);
        // Leading zeros are fine however many, up to the header line limit.
        let mut line = b"*".to_vec();
        line.resize(MAX_HEADER_LINE - 3, b'0');
        line.extend_from_slice(b"1\r\n$1\r\nx\r\n");
        assert_eq!(args_of(&next_record(&line, 0, 0, 1).unwrap()), [&b"x"[..]]);
        // A longer line is corrupt as soon as it is too long, without waiting for its end.
        let mut long = b"*".to_vec();
        long.resize(MAX_HEADER_LINE - 1, b'0');
        let (o, _, m) = corrupt_at(&long, 0, 0);
        assert_eq!(o, 0, "{m}");
        long.truncate(MAX_HEADER_LINE - 2);
        assert!(next_record(&long, 0, 0, 1).unwrap_err().is_incomplete());
        // Digits beyond u64 saturate and are then out of range.
        let (o, d, _) = corrupt_at(b"*1\r\n$99999999999999999999\r\n", 0, 0);
        assert_eq!((o, d), (5, "argument length"));
        // Payload lengths: the largest accepted one is only incomplete, and says how much.
        let e = next_record(b"*1\r\n$9223372036854775805\r\nab", 0, 0, 1).unwrap_err();
        assert_eq!(
            e.kind,
            ErrorKind::UnexpectedEof {
                needed: 9223372036854775805 + 2 - 2
            }
        );
        assert_eq!(e.offset, 26);
        let (o, d, _) = corrupt_at(b"*1\r\n$9223372036854775806\r\n", 0, 0);
        assert_eq!((o, d), (5, "argument length"));
    }

    /// Expected `ok_up_to` / `ok_up_to_line` values were produced by running redis-check-aof
    /// 7.0.15 (`redis-check-aof FILE`) on exactly these bytes.
    #[test]
    fn line_counter_matches_redis_check_aof() {
        struct Case {
            data: &'static [u8],
            ok_up_to: usize,
            ok_up_to_line: u64,
        }
        let cases = [
            // Valid, no annotations: 1 + (1 + 2*2) + (1 + 2*3).
            Case {
                data: b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\r\nbc\r\n",
                ok_up_to: 54,
                ok_up_to_line: 13,
            },
            // Valid, with annotations: they do not count.
            Case {
                data: b"#TS:1700000000\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n#TS:1700000001\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n",
                ok_up_to: 81,
                ok_up_to_line: 13,
            },
            // Truncated inside the third payload: the complete lines of that command count.
            Case {
                data: b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nab",
                ok_up_to: 23,
                ok_up_to_line: 12,
            },
            // A negative length: its header line counts before it is rejected.
            Case {
                data: b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$-1\r\n",
                ok_up_to: 23,
                ok_up_to_line: 10,
            },
            // A length beyond 64 bits: same, the line counts first.
            Case {
                data: b"*1\r\n$4\r\nPING\r\n*1\r\n$99999999999999999999\r\n",
                ok_up_to: 14,
                ok_up_to_line: 6,
            },
            // LF-only ending on a length line: that line does not count.
            Case {
                data: b"*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\nk\r\n",
                ok_up_to: 14,
                ok_up_to_line: 7,
            },
            // Payload followed by something other than CRLF: it does not count.
            Case {
                data: b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPINGxx",
                ok_up_to: 14,
                ok_up_to_line: 6,
            },
            // Annotations, then a truncated command: ok_up_to is the command, not the annotation.
            Case {
                data: b"#TS:1\r\n*1\r\n$4\r\nPING\r\n#TS:2\r\n*1\r\n$4\r\nPI",
                ok_up_to: 28,
                ok_up_to_line: 6,
            },
        ];
        for (i, c) in cases.iter().enumerate() {
            let (_, err, pos, line) = parse_all(c.data, 0);
            assert_eq!(pos, c.ok_up_to, "case {i}");
            match err {
                None => assert_eq!(line, c.ok_up_to_line, "case {i}"),
                Some(_) => assert_eq!(line_after(c.data, pos, line), c.ok_up_to_line, "case {i}"),
            }
        }
    }

    #[test]
    fn line_after_a_good_record_is_its_next_line() {
        let data = sample_stream();
        let (recs, _, _, _) = parse_all(&data, 0);
        let mut pos = 0;
        for r in &recs {
            assert_eq!(line_after(&data, pos, r.line()), r.next_line());
            pos = r.end();
        }
    }
}
