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

/// An open MULTI block.
struct Block {
    /// Index of the MULTI.
    start: usize,
    /// Commands read since the MULTI (MULTI included).
    n: u64,
    /// Set once damage fell inside the block: where reading resumed after the last damaged
    /// stretch, and the commands read since then. If no EXEC comes before the next MULTI or the
    /// end, the EXEC was probably in the damage, and those commands were outside the block.
    resume: Option<(usize, u64)>,
}

/// The plan being built.
struct Planner<'a> {
    a: Analysis,
    lines: Lines<'a>,
    base: u64,
    /// Start of the run of kept bytes being built (it ends where the next gap starts).
    run_start: usize,
}

impl Planner<'_> {
    fn keep(&mut self, start: usize, end: usize) {
        if end > start {
            match self.a.keep.last_mut() {
                Some(last) if last.end == start => last.end = end,
                _ => self.a.keep.push(start..end),
            }
        }
    }

    fn drop_block(&mut self, at: usize, commands: u64, reason: &'static str) {
        let line = self.lines.at(at);
        self.a.dropped_blocks.push(DroppedBlock {
            offset: self.base + at as u64,
            line,
            commands,
            reason,
        });
    }

    /// A damaged block ends without its EXEC at `at` (a new MULTI, or the end): keep what
    /// followed its last damaged stretch.
    fn end_damaged_block(&mut self, b: &Block, at: usize) {
        let (resume, n) = b.resume.unwrap_or((at, 0));
        self.drop_block(b.start, b.n - n, "overlaps a damaged range");
        self.keep(resume, at);
        self.a.commands_kept += n;
        self.run_start = at;
    }
}

/// Plan the repair of `data` (a file's RESP part, starting at file offset `base`; `lines_base`
/// is the line number of `data[0]`).
pub fn analyze(data: &[u8], base: u64, lines_base: u64, mode: Mode) -> Analysis {
    let mut p = Planner {
        a: Analysis::default(),
        lines: Lines {
            data,
            at: 0,
            line: lines_base,
        },
        base,
        run_start: 0,
    };
    let mut multi: Option<Block> = None;
    // After a damaged stretch outside any block: where it started, where reading resumed, and
    // the commands read since. An EXEC with no MULTI after it means the block's MULTI was in the damage.
    let mut after_skip: Option<(usize, usize, u64)> = None;
    let mut flush_start: Option<(usize, Vec<u8>)> = None;
    let mut pos = 0usize;
    while pos < data.len() {
        let err = match next_record(data, pos, base, 1) {
            Ok(Record::Command(c)) => {
                let args = &c.args;
                let is_multi = name_is(args, b"multi");
                let is_exec = name_is(args, b"exec");
                match multi.take() {
                    Some(mut b) => {
                        b.n += 1;
                        if let Some((_, n)) = b.resume.as_mut() {
                            *n += 1;
                        }
                        if is_exec {
                            if b.resume.is_some() {
                                p.drop_block(b.start, b.n, "overlaps a damaged range");
                                p.run_start = c.end;
                            } else {
                                p.a.commands_kept += b.n;
                            }
                            flush_start = None;
                        } else if is_multi && b.resume.is_some() {
                            // The damaged block's EXEC was lost: a new block starts here.
                            b.n -= 1;
                            if let Some((_, n)) = b.resume.as_mut() {
                                *n -= 1;
                            }
                            p.end_damaged_block(&b, pos);
                            multi = Some(Block {
                                start: pos,
                                n: 1,
                                resume: None,
                            });
                        } else {
                            multi = Some(b);
                        }
                    }
                    None if is_multi => {
                        multi = Some(Block {
                            start: pos,
                            n: 1,
                            resume: None,
                        });
                        after_skip = None;
                        flush_start = None;
                    }
                    None if is_exec && after_skip.is_some_and(|(_, u, _)| u == p.run_start) => {
                        // The MULTI of this block was damaged: drop the rest of the block.
                        let (at, _, n) = after_skip.take().unwrap_or((pos, pos, 0));
                        p.a.commands_kept -= n;
                        p.drop_block(at, n + 1, "its MULTI was in a damaged range");
                        p.run_start = c.end;
                        flush_start = None;
                    }
                    None => {
                        p.a.commands_kept += 1;
                        if let Some((_, _, n)) = after_skip.as_mut() {
                            *n += 1;
                        }
                        if is_exec {
                            after_skip = None;
                        }
                        if name_is(args, b"flushall") || name_is(args, b"flushdb") {
                            if flush_start.is_none() {
                                flush_start = Some((pos, args[0].to_ascii_uppercase()));
                            }
                        } else if !name_is(args, b"select") {
                            flush_start = None;
                        }
                    }
                }
                pos = c.end;
                None
            }
            Ok(r @ Record::Annotation { .. }) => {
                pos = r.end();
                None
            }
            Err(e) => Some(e),
        };
        if let Some(e) = err {
            // In salvage mode even a record that runs past the end may be a damaged length:
            // it is a torn last command only when nothing reads after it.
            let next = match mode {
                Mode::Truncate => None,
                Mode::Salvage => (pos + 1..data.len())
                    .filter(|&i| data[i] == b'*' || data[i] == b'#')
                    .find(|&i| resync_ok(data, i, base)),
            };
            if e.is_incomplete() && next.is_none() {
                let line = p.lines.at(pos);
                p.a.truncated_tail = Some(Skipped {
                    offset: base + pos as u64,
                    len: (data.len() - pos) as u64,
                    line,
                    reason: format!("{e}"),
                    commands: 1,
                });
                // The kept part ends where the torn command starts.
                break;
            }
            let until = next.unwrap_or(data.len());
            let line = p.lines.at(pos);
            p.a.skipped.push(Skipped {
                offset: base + pos as u64,
                len: (until - pos) as u64,
                line,
                reason: format!("{e}"),
                commands: estimate_commands(&data[pos..until]),
            });
            match multi.as_mut() {
                Some(b) => {
                    if b.resume.is_none() {
                        // The block's bytes leave the run.
                        let s = b.start;
                        p.keep(p.run_start, s);
                    }
                    b.resume = Some((until, 0));
                }
                None => {
                    p.keep(p.run_start, pos);
                    after_skip = Some((pos, until, 0));
                }
            }
            p.run_start = until;
            pos = until;
        }
    }
    match multi {
        Some(b) if b.resume.is_some() => p.end_damaged_block(&b, pos),
        Some(b) => {
            p.keep(p.run_start, b.start);
            p.drop_block(b.start, b.n, "no EXEC before the end");
        }
        None => p.keep(p.run_start, pos),
    }
    let mut a = p.a;
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
        let mut v = Vec::new();
        redkit_formats::resp::encode_command(args, &mut v);
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
    fn damaged_multi_header_drops_its_block() {
        let a1 = cmd(&[b"SET", b"a", b"1"]);
        let d4 = cmd(&[b"SET", b"d", b"4"]);
        let mut d = a1.clone();
        d.extend_from_slice(b"*1\r\n$x\r\nMULTI\r\n");
        d.extend(cmd(&[b"SET", b"b", b"2"]));
        d.extend(cmd(&[b"EXEC"]));
        d.extend(d4.clone());
        let a = analyze(&d, 0, 1, Mode::Salvage);
        assert_eq!(kept(&d, &a), [a1, d4].concat());
        assert_eq!(a.commands_kept, 2);
        assert_eq!(a.dropped_blocks.len(), 1);
    }

    #[test]
    fn damaged_exec_keeps_what_follows_the_block() {
        let a1 = cmd(&[b"SET", b"a", b"1"]);
        let tail = [cmd(&[b"SET", b"d", b"4"]), cmd(&[b"SET", b"e", b"5"])].concat();
        let mut d = a1.clone();
        d.extend(cmd(&[b"MULTI"]));
        d.extend(cmd(&[b"SET", b"b", b"2"]));
        d.extend_from_slice(b"*1\r\n$x\r\nEXEC\r\n");
        d.extend(tail.clone());
        let a = analyze(&d, 0, 1, Mode::Salvage);
        assert_eq!(kept(&d, &a), [a1, tail].concat());
        assert_eq!(a.commands_kept, 3);
    }

    #[test]
    fn length_past_the_end_is_skipped_when_more_reads() {
        let a1 = cmd(&[b"SET", b"a", b"1"]);
        let tail = [cmd(&[b"SET", b"c", b"3"]), cmd(&[b"SET", b"d", b"4"])].concat();
        let mut d = a1.clone();
        d.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$999\r\n2\r\n");
        d.extend(tail.clone());
        let a = analyze(&d, 0, 1, Mode::Salvage);
        assert_eq!(kept(&d, &a), [a1.clone(), tail].concat());
        assert!(a.truncated_tail.is_none());
        let t = analyze(&d, 0, 1, Mode::Truncate);
        assert_eq!(kept(&d, &t), a1);
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
