//! Working out how to repair the RESP part of one AOF file (pure functions over its bytes; the
//! `fix` tool applies the result).
//!
//! - [`analyze`] reads the records with the strict reader and decides which byte ranges to keep:
//!   in `truncate` mode everything before the first bad record (like `redis-check-aof --fix`), in
//!   `salvage` mode everything that reads, skipping each damaged stretch up to the next offset
//!   where a well-formed command starts again. A MULTI/EXEC block is kept only whole: one that
//!   overlaps a skipped range, or is still open at the end, is dropped (Redis's loader also drops
//!   an unterminated transaction).
//! - [`restore_crlf`] undoes a text tool's CRLF-to-LF conversion, guided by the `$<len>` headers.

use std::ops::Range;

use redkit_formats::resp::{next_record, Record};

/// How to deal with a damaged record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Keep what comes before the first damaged record.
    Truncate,
    /// Skip damaged stretches and keep the valid commands after them.
    Salvage,
}

/// A stretch of bytes left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// File offset and length.
    pub offset: u64,
    pub len: u64,
    /// 1-based line number (counting `\n`) of the first byte.
    pub line: u64,
    /// What was wrong there.
    pub reason: String,
    /// Commands that did not read at all (an estimate: `*<n>\r\n$` headers inside the range).
    pub commands: u64,
}

/// A MULTI/EXEC block left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedBlock {
    pub offset: u64,
    pub line: u64,
    /// Commands of the block that read fine but were dropped with it (MULTI/EXEC included).
    pub commands: u64,
    /// "overlaps a damaged range" or "no EXEC before the end".
    pub reason: &'static str,
}

/// The plan for one file's RESP part.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    /// Byte ranges of `data` to keep, in order, not overlapping.
    pub keep: Vec<Range<usize>>,
    pub commands_kept: u64,
    pub skipped: Vec<Skipped>,
    pub dropped_blocks: Vec<DroppedBlock>,
    /// A last command cut short by the end of the file: offset and length.
    pub truncated_tail: Option<Skipped>,
    /// Offset and length of the trailing FLUSHALL/FLUSHDB run (with the annotations and SELECTs
    /// between them), when the kept part ends with one.
    pub trailing_flush: Option<(usize, usize, Vec<u8>)>,
}

impl Analysis {
    /// Bytes the kept ranges add up to.
    pub fn kept_len(&self) -> u64 {
        self.keep.iter().map(|r| (r.end - r.start) as u64).sum()
    }

    /// Whether the output would differ from the input.
    pub fn changes(&self, input_len: usize) -> bool {
        !(self.keep.is_empty() && input_len == 0
            || self.keep.len() == 1 && self.keep[0] == (0..input_len))
    }

    /// Remove the trailing FLUSHALL/FLUSHDB run from the kept ranges.
    pub fn drop_trailing_flush(&mut self) -> bool {
        let Some((start, _, _)) = self.trailing_flush.take() else {
            return false;
        };
        while let Some(last) = self.keep.last_mut() {
            if last.start >= start {
                self.keep.pop();
            } else {
                last.end = last.end.min(start);
                break;
            }
        }
        true
    }
}

/// Counts `\n` bytes incrementally to give line numbers for increasing offsets.
struct Lines<'a> {
    data: &'a [u8],
    at: usize,
    line: u64,
}

impl Lines<'_> {
    fn at(&mut self, pos: usize) -> u64 {
        let pos = pos.min(self.data.len());
        if pos < self.at {
            self.at = 0;
            self.line = 1;
        }
        self.line += self.data[self.at..pos]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64;
        self.at = pos;
        self.line
    }
}

fn name_is(args: &[&[u8]], name: &[u8]) -> bool {
    args.first().is_some_and(|a| a.eq_ignore_ascii_case(name))
}

/// Does this look like a command name? (ASCII letters first, then letters, digits and the few
/// punctuation marks module commands use, at most 64 bytes.)
fn plausible_name(n: &[u8]) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n[0].is_ascii_alphabetic()
        && n.iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'|' | b'.' | b':'))
}

/// Is `pos` a believable place for the stream to pick up again after damage: a command with a
/// plausible name (or a `#TS:` annotation) that reads, followed by another record that reads,
/// or by the end of the data.
fn resync_ok(data: &[u8], pos: usize, base: u64) -> bool {
    let first = match next_record(data, pos, base, 1) {
        Ok(Record::Command(c)) if plausible_name(c.args[0]) => c.end,
        Ok(Record::Annotation { text, end, .. })
            if text.starts_with(b"TS:")
                && text.len() > 3
                && text[3..].iter().all(u8::is_ascii_digit) =>
        {
            end
        }
        _ => return false,
    };
    if first == data.len() {
        return true;
    }
    match next_record(data, first, base, 1) {
        Ok(_) => true,
        Err(e) => e.is_incomplete(),
    }
}

/// Count `*<digits>\r\n$` headers in a stretch: the commands a skipped range probably held.
fn estimate_commands(bytes: &[u8]) -> u64 {
    let mut n = 0;
    let mut i = 0;
    while let Some(off) = bytes[i..].iter().position(|&b| b == b'*') {
        let s = i + off + 1;
        let digits = bytes[s..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits > 0 && bytes[s + digits..].starts_with(b"\r\n$") {
            n += 1;
        }
        i = s;
    }
    n.max(1)
}

/// Plan the repair of `data` (a file's RESP part, starting at file offset `base`; `lines_base`
/// is the line number of `data[0]`).
pub fn analyze(data: &[u8], base: u64, lines_base: u64, mode: Mode) -> Analysis {
    let mut a = Analysis::default();
    let mut lines = Lines {
        data,
        at: 0,
        line: lines_base,
    };
    // The run of kept bytes being built, and an open MULTI block: its start, whether damage
    // fell inside it, and how many of its commands read.
    let mut run_start = 0usize;
    let mut multi: Option<(usize, bool, u64)> = None;
    let mut flush_start: Option<(usize, Vec<u8>)> = None;
    let mut pos = 0usize;
    let close_run = |a: &mut Analysis, start: usize, end: usize| {
        if end > start {
            match a.keep.last_mut() {
                Some(last) if last.end == start => last.end = end,
                _ => a.keep.push(start..end),
            }
        }
    };
    while pos < data.len() {
        match next_record(data, pos, base, 1) {
            Ok(Record::Command(c)) => {
                let args = &c.args;
                if let Some((start, damaged, n)) = multi.as_mut() {
                    *n += 1;
                    if name_is(args, b"exec") {
                        if *damaged {
                            a.dropped_blocks.push(DroppedBlock {
                                offset: base + *start as u64,
                                line: lines.at(*start),
                                commands: *n,
                                reason: "overlaps a damaged range",
                            });
                            run_start = c.end;
                        } else {
                            a.commands_kept += *n;
                        }
                        multi = None;
                        flush_start = None;
                    } else if *damaged && name_is(args, b"multi") {
                        // The damaged block's EXEC was lost: a new block starts here.
                        a.dropped_blocks.push(DroppedBlock {
                            offset: base + *start as u64,
                            line: lines.at(*start),
                            commands: *n - 1,
                            reason: "overlaps a damaged range",
                        });
                        run_start = pos;
                        multi = Some((pos, false, 1));
                    }
                } else if name_is(args, b"multi") {
                    multi = Some((pos, false, 1));
                    flush_start = None;
                } else {
                    a.commands_kept += 1;
                    if name_is(args, b"flushall") || name_is(args, b"flushdb") {
                        if flush_start.is_none() {
                            flush_start = Some((pos, args[0].to_ascii_uppercase()));
                        }
                    } else if !name_is(args, b"select") {
                        flush_start = None;
                    }
                }
                pos = c.end;
            }
            Ok(r @ Record::Annotation { .. }) => pos = r.end(),
            Err(e) => {
                // Where the kept bytes stop: before the bad record, or before an open MULTI.
                let cut = multi.map_or(pos, |(s, _, _)| s);
                if e.is_incomplete() {
                    close_run(&mut a, run_start, cut);
                    a.truncated_tail = Some(Skipped {
                        offset: base + pos as u64,
                        len: (data.len() - pos) as u64,
                        line: lines.at(pos),
                        reason: format!("{e}"),
                        commands: 1,
                    });
                    if let Some((s, _, n)) = multi.take() {
                        a.dropped_blocks.push(DroppedBlock {
                            offset: base + s as u64,
                            line: lines.at(s),
                            commands: n,
                            reason: "no EXEC before the end",
                        });
                    }
                    run_start = data.len();
                    pos = data.len();
                    break;
                }
                let next = match mode {
                    Mode::Truncate => None,
                    Mode::Salvage => (pos + 1..data.len())
                        .filter(|&i| data[i] == b'*' || data[i] == b'#')
                        .find(|&i| resync_ok(data, i, base)),
                };
                let until = next.unwrap_or(data.len());
                a.skipped.push(Skipped {
                    offset: base + pos as u64,
                    len: (until - pos) as u64,
                    line: lines.at(pos),
                    reason: format!("{e}"),
                    commands: estimate_commands(&data[pos..until]),
                });
                match multi.as_mut() {
                    Some((_, damaged, _)) => *damaged = true,
                    None => {
                        close_run(&mut a, run_start, pos);
                        run_start = until;
                    }
                }
                if next.is_none() {
                    if let Some((s, _, n)) = multi.take() {
                        close_run(&mut a, run_start, cut);
                        a.dropped_blocks.push(DroppedBlock {
                            offset: base + s as u64,
                            line: lines.at(s),
                            commands: n,
                            reason: "overlaps a damaged range",
                        });
                    }
                    run_start = data.len();
                }
                pos = until;
            }
        }
        // A damaged block's bytes never join a run; an intact one joins it at its EXEC.
        if let Some((s, true, _)) = multi {
            close_run(&mut a, run_start, s);
            run_start = pos;
        }
    }
    if let Some((s, damaged, n)) = multi {
        if !damaged {
            close_run(&mut a, run_start, s);
        }
        a.dropped_blocks.push(DroppedBlock {
            offset: base + s as u64,
            line: lines.at(s),
            commands: n,
            reason: if damaged {
                "overlaps a damaged range"
            } else {
                "no EXEC before the end"
            },
        });
    } else {
        close_run(&mut a, run_start, pos.min(data.len()));
    }
    if let Some((s, name)) = flush_start {
        let end = a.keep.last().map_or(0, |r| r.end);
        if s < end {
            a.trailing_flush = Some((s, end - s, name));
        }
    }
    a
}

/// Undo a CRLF-to-LF conversion: read the stream with LF line ends, taking each `$<len>`
/// payload as the bytes that make `len` once every LF in them is counted as a CRLF (a text tool
/// converted those too), or else as exactly `len` bytes (a binary value with bare LFs). Returns
/// the restored bytes, or the offset where the input stopped making sense.
pub fn restore_crlf(data: &[u8]) -> std::result::Result<Vec<u8>, (usize, &'static str)> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 8);
    let mut i = 0;
    // A header line `<p><digits>\n`; returns the number and the index after the line.
    let header = |i: usize, p: u8| -> Option<(u64, usize)> {
        if data.get(i) != Some(&p) {
            return None;
        }
        let digits = data[i + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 || digits > 19 || data.get(i + 1 + digits) != Some(&b'\n') {
            return None;
        }
        let n = std::str::from_utf8(&data[i + 1..i + 1 + digits])
            .ok()?
            .parse()
            .ok()?;
        Some((n, i + 2 + digits))
    };
    while i < data.len() {
        match data[i] {
            b'#' => {
                let Some(nl) = data[i..].iter().position(|&b| b == b'\n') else {
                    return Err((i, "annotation without a line end"));
                };
                let body = &data[i..i + nl];
                out.extend_from_slice(body.strip_suffix(b"\r").unwrap_or(body));
                out.extend_from_slice(b"\r\n");
                i += nl + 1;
            }
            b'*' => {
                let Some((argc, mut at)) = header(i, b'*') else {
                    return Err((i, "command header"));
                };
                if argc == 0 {
                    return Err((i, "command header"));
                }
                out.extend_from_slice(format!("*{argc}\r\n").as_bytes());
                for k in 0..argc {
                    let Some((len, start)) = header(at, b'$') else {
                        return Err((at, "argument header"));
                    };
                    let last = k + 1 == argc;
                    // What may follow the payload's line end.
                    let next_ok = |j: usize| -> bool {
                        match data.get(j) {
                            None => last,
                            Some(b'$') => !last,
                            Some(b'*' | b'#') => last,
                            _ => false,
                        }
                    };
                    // Every LF in the payload was a CRLF.
                    let mut orig = 0u64;
                    let mut j = start;
                    while orig < len && j < data.len() {
                        orig += if data[j] == b'\n' { 2 } else { 1 };
                        j += 1;
                    }
                    let converted =
                        (orig == len && data.get(j) == Some(&b'\n') && next_ok(j + 1)).then_some(j);
                    // Or the payload is untouched.
                    let as_is = usize::try_from(len)
                        .ok()
                        .and_then(|l| start.checked_add(l))
                        .filter(|&e| data.get(e) == Some(&b'\n') && next_ok(e + 1));
                    let Some(end) = converted.or(as_is) else {
                        return Err((start, "argument payload"));
                    };
                    out.extend_from_slice(format!("${len}\r\n").as_bytes());
                    if Some(end) == converted {
                        for &b in &data[start..end] {
                            if b == b'\n' {
                                out.extend_from_slice(b"\r\n");
                            } else {
                                out.push(b);
                            }
                        }
                    } else {
                        out.extend_from_slice(&data[start..end]);
                    }
                    out.extend_from_slice(b"\r\n");
                    at = end + 1;
                }
                i = at;
            }
            _ => return Err((i, "record start")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(args: &[&[u8]]) -> Vec<u8> {
        let mut v = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            v.extend_from_slice(a);
            v.extend_from_slice(b"\r\n");
        }
        v
    }

    fn kept(data: &[u8], a: &Analysis) -> Vec<u8> {
        a.keep
            .iter()
            .flat_map(|r| data[r.clone()].to_vec())
            .collect()
    }

    #[test]
    fn clean_stream_is_kept_whole() {
        let mut d = b"#TS:5\r\n".to_vec();
        d.extend(cmd(&[b"SET", b"a", b"1"]));
        d.extend(cmd(&[b"MULTI"]));
        d.extend(cmd(&[b"INCR", b"n"]));
        d.extend(cmd(&[b"EXEC"]));
        let a = analyze(&d, 0, 1, Mode::Salvage);
        assert_eq!(a.keep, vec![0..d.len()]);
        assert!(!a.changes(d.len()));
        assert_eq!(a.commands_kept, 4);
    }

    #[test]
    fn salvage_skips_garbage_and_keeps_the_tail() {
        let one = cmd(&[b"SET", b"a", b"1"]);
        let two = cmd(&[b"SET", b"b", b"2"]);
        let mut d = one.clone();
        d.extend_from_slice(b"xx*garbage\r\n");
        d.extend(two.clone());
        let a = analyze(&d, 100, 1, Mode::Salvage);
        assert_eq!(kept(&d, &a), [one.clone(), two].concat());
        assert_eq!(a.skipped.len(), 1);
        assert_eq!(a.skipped[0].offset, 100 + one.len() as u64);
        assert_eq!(a.skipped[0].len, 12);
        let t = analyze(&d, 100, 1, Mode::Truncate);
        assert_eq!(kept(&d, &t), one);
    }

    #[test]
    fn damaged_multi_block_is_dropped_whole() {
        let mut d = cmd(&[b"SET", b"a", b"1"]);
        let before = d.len();
        d.extend(cmd(&[b"MULTI"]));
        d.extend(cmd(&[b"INCR", b"n"]));
        d.extend_from_slice(b"%%%");
        d.extend(cmd(&[b"INCR", b"m"]));
        d.extend(cmd(&[b"EXEC"]));
        let after = cmd(&[b"SET", b"z", b"9"]);
        d.extend(after.clone());
        let a = analyze(&d, 0, 1, Mode::Salvage);
        assert_eq!(kept(&d, &a), [d[..before].to_vec(), after].concat());
        assert_eq!(a.dropped_blocks.len(), 1);
        assert_eq!(a.dropped_blocks[0].commands, 4);
    }

    #[test]
    fn open_multi_and_torn_tail() {
        let mut d = cmd(&[b"SET", b"a", b"1"]);
        let before = d.len();
        d.extend(cmd(&[b"MULTI"]));
        d.extend(cmd(&[b"INCR", b"n"]));
        let a = analyze(&d, 0, 1, Mode::Truncate);
        assert_eq!(kept(&d, &a), d[..before].to_vec());
        assert_eq!(a.dropped_blocks[0].reason, "no EXEC before the end");
        let mut t = cmd(&[b"SET", b"a", b"1"]);
        t.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nb");
        let a = analyze(&t, 0, 1, Mode::Salvage);
        assert_eq!(kept(&t, &a), t[..before].to_vec());
        assert!(a.truncated_tail.is_some());
    }

    #[test]
    fn trailing_flush_run() {
        let mut d = cmd(&[b"SET", b"a", b"1"]);
        let before = d.len();
        d.extend(cmd(&[b"flushall"]));
        d.extend_from_slice(b"#TS:9\r\n");
        d.extend(cmd(&[b"SELECT", b"1"]));
        d.extend(cmd(&[b"FLUSHDB", b"ASYNC"]));
        let mut a = analyze(&d, 0, 1, Mode::Truncate);
        assert_eq!(a.trailing_flush.as_ref().map(|f| f.0), Some(before));
        assert!(a.drop_trailing_flush());
        assert_eq!(kept(&d, &a), d[..before].to_vec());
        let mut e = cmd(&[b"FLUSHALL"]);
        e.extend(cmd(&[b"SET", b"a", b"1"]));
        assert!(analyze(&e, 0, 1, Mode::Truncate).trailing_flush.is_none());
    }

    #[test]
    fn crlf_restored() {
        let mut d = cmd(&[b"SET", b"k", b"line1\r\nline2"]);
        d.extend_from_slice(b"#TS:1\r\n");
        d.extend(cmd(&[b"SET", b"bin", b"a\nb"]));
        d.extend(cmd(&[b"RPUSH", b"l", b"", b"x"]));
        let lf: Vec<u8> = {
            let mut v = Vec::new();
            let mut i = 0;
            while i < d.len() {
                if d[i..].starts_with(b"\r\n") {
                    v.push(b'\n');
                    i += 2;
                } else {
                    v.push(d[i]);
                    i += 1;
                }
            }
            v
        };
        assert_eq!(restore_crlf(&lf).unwrap(), d);
        assert!(restore_crlf(b"*1\n$4\nPIN\n").is_err());
    }
}
