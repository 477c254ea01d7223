//! Streaming an RDB file (or stdin) through a bounded window.
//!
//! A reader thread reads the input in 4 MiB chunks and computes the running CRC64 while the
//! caller frames records, so the checksum costs no time on the parsing thread. Records are
//! framed in place in the chunk that holds them; only a record that runs past a chunk's end is
//! copied, into a buffer that grows with the bytes the file really holds (never with a length
//! field). Memory stays at a few chunks whatever the file size.
//!
//! Reading instead of mapping keeps a file that shrinks under us an ordinary "unexpected end of
//! file" error instead of a SIGBUS, and works the same for pipes (`redis-cli --rdb -`).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use redkit_formats::rdb::consts::Family;
use redkit_formats::rdb::read::{parse_header, Framed, Header, Item, Parser, HEADER_LEN};
use redkit_formats::{crc64, Error as FmtError, ErrorKind};

use crate::error::{Error, Result};

const CHUNK: usize = 4 << 20;
/// Chunks in flight between the reader thread and the parser.
const IN_FLIGHT: usize = 3;

struct Chunk {
    data: Vec<u8>,
    /// CRC64 of every byte before this chunk.
    crc_before: u64,
}

enum Msg {
    Data(Chunk),
    Err(io::Error),
}

/// What the end of the file said about the checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    /// Versions before 5 have no checksum.
    Absent,
    /// The writer stored 0: checksums were turned off.
    Disabled,
    Ok(u64),
}

/// The outcome of reading past the EOF opcode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trailer {
    pub checksum: Checksum,
    /// Offset of the EOF opcode.
    pub eof_offset: u64,
    /// Bytes after the checksum (a diskless-transfer trailer, or garbage).
    pub trailing_bytes: u64,
}

struct Buf {
    /// Shared so a framed segment can keep its chunk alive while the reader moves on.
    data: Arc<Vec<u8>>,
    /// Absolute offset of `data[0]`.
    start: u64,
    crc_before: u64,
}

/// Items framed from one stretch of the input, owning (a share of) the bytes they borrow, so
/// a segment can be decoded on other threads while the reader frames the next one.
pub struct Segment {
    /// Borrow from `_bytes`; declared first so they are dropped before it.
    items: Vec<Framed<'static>>,
    /// Keeps the bytes the items borrow alive. Invariant: every slice in `items` points into
    /// this buffer, which is never mutated or freed while the segment lives.
    _bytes: Arc<Vec<u8>>,
    /// Offset just after the last item (for progress reports).
    pub end_offset: u64,
}

impl Segment {
    /// Wrap items framed from `bytes`.
    fn new(bytes: Arc<Vec<u8>>, items: Vec<Framed<'_>>, end_offset: u64) -> Segment {
        // SAFETY: the items borrow `bytes`' heap buffer, which the Arc keeps alive and nobody
        // mutates (the reader only recycles a chunk's Vec once it holds the last reference);
        // `items()` hands them out with a lifetime no longer than the segment's.
        let items: Vec<Framed<'static>> = unsafe { std::mem::transmute(items) };
        Segment {
            items,
            _bytes: bytes,
            end_offset,
        }
    }

    pub fn items(&self) -> &[Framed<'_>] {
        &self.items
    }
}

/// A framed RDB file read front to back.
pub struct RdbReader {
    parser: Parser,
    /// The chunk being framed, and the parse position in it.
    cur: Buf,
    pos: usize,
    rx: Option<Receiver<Msg>>,
    recycle: Option<SyncSender<Vec<u8>>>,
    thread: Option<JoinHandle<()>>,
    /// Size of the input when it is a regular file.
    pub total_len: Option<u64>,
    /// Absolute offset of the EOF opcode once framed; the trailer is read on the next call.
    eof_at: Option<u64>,
    finished: Option<Trailer>,
}

impl RdbReader {
    /// Open a file, or stdin when `path` is `-`.
    pub fn open(path: &Path) -> Result<Self> {
        if path.as_os_str() == "-" {
            return Self::from_reader(Box::new(io::stdin()), None);
        }
        let f = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
        Self::from_reader(Box::new(f), len)
    }

    /// Read from any source, e.g. an in-memory buffer in tests.
    pub fn from_reader(mut src: Box<dyn Read + Send>, total_len: Option<u64>) -> Result<Self> {
        let (tx, rx) = sync_channel::<Msg>(IN_FLIGHT);
        let (recycle_tx, recycle_rx) = sync_channel::<Vec<u8>>(IN_FLIGHT + 2);
        let thread = std::thread::Builder::new()
            .name("rdb-read".into())
            .spawn(move || {
                let mut crc = 0u64;
                loop {
                    let mut data = recycle_rx.try_recv().unwrap_or_default();
                    data.clear();
                    data.reserve_exact(CHUNK);
                    // Fill the chunk (a pipe returns short reads).
                    let mut err = None;
                    while data.len() < CHUNK {
                        let spare = CHUNK - data.len();
                        match (&mut src).take(spare as u64).read_to_end(&mut data) {
                            Ok(0) => break,
                            Ok(_) => {}
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => {
                                err = Some(e);
                                break;
                            }
                        }
                    }
                    let done = data.len() < CHUNK;
                    let crc_before = crc;
                    crc = crc64::crc64(crc, &data);
                    if !data.is_empty() && tx.send(Msg::Data(Chunk { data, crc_before })).is_err() {
                        return;
                    }
                    if let Some(e) = err {
                        let _ = tx.send(Msg::Err(e));
                        return;
                    }
                    if done {
                        return;
                    }
                }
            })
            .map_err(|e| Error::Other(format!("cannot start reader thread: {e}")))?;
        let mut r = RdbReader {
            parser: Parser::new(Header {
                family: Family::Redis,
                version: 1,
            }),
            cur: Buf {
                data: Arc::new(Vec::new()),
                start: 0,
                crc_before: 0,
            },
            pos: 0,
            rx: Some(rx),
            recycle: Some(recycle_tx),
            thread: Some(thread),
            total_len,
            eof_at: None,
            finished: None,
        };
        // The header: gather its 9 bytes, possibly over several short chunks.
        let mut head = Vec::with_capacity(HEADER_LEN);
        while head.len() < HEADER_LEN {
            if r.pos >= r.cur.data.len() && !r.advance()? {
                break;
            }
            let take = (HEADER_LEN - head.len()).min(r.cur.data.len() - r.pos);
            head.extend_from_slice(&r.cur.data[r.pos..r.pos + take]);
            r.pos += take;
        }
        let header = parse_header(&head).map_err(|e| {
            if e.is_incomplete() {
                FmtError::corrupt(
                    format!("file ends after {} bytes, inside the header", head.len()),
                    head.len() as u64,
                    "header",
                )
            } else {
                e
            }
        })?;
        r.parser = Parser::new(header);
        Ok(r)
    }

    pub fn header(&self) -> Header {
        self.parser.header
    }

    pub fn parser(&self) -> &Parser {
        &self.parser
    }

    /// Absolute offset of the next unread byte.
    pub fn offset(&self) -> u64 {
        self.cur.start + self.pos as u64
    }

    /// The next chunk from the reader thread, or None at the end of the input.
    fn recv(&mut self) -> Result<Option<Buf>> {
        let Some(rx) = &self.rx else {
            return Ok(None);
        };
        let start = self.cur.start + self.cur.data.len() as u64;
        match rx.recv() {
            Ok(Msg::Data(c)) => Ok(Some(Buf {
                data: Arc::new(c.data),
                start,
                crc_before: c.crc_before,
            })),
            Ok(Msg::Err(e)) => Err(Error::Format(FmtError::new(
                ErrorKind::Io(e.to_string()),
                start,
                "input",
            ))),
            Err(_) => {
                self.rx = None;
                Ok(None)
            }
        }
    }

    /// Make the next chunk current. False at the end of the input.
    fn advance(&mut self) -> Result<bool> {
        match self.recv()? {
            Some(b) => {
                let old = std::mem::replace(&mut self.cur, b);
                if let (Some(r), Ok(v)) = (&self.recycle, Arc::try_unwrap(old.data)) {
                    let _ = r.try_send(v);
                }
                self.pos = 0;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Frame the next stretch of items (at least one). Returns None after the EOF opcode and
    /// the checksum have been read (see [`RdbReader::trailer`]).
    pub fn next_segment(&mut self) -> Result<Option<Segment>> {
        if let Some(eof) = self.eof_at.take() {
            self.finish_trailer(eof)?;
        }
        if self.finished.is_some() {
            return Ok(None);
        }
        if self.pos >= self.cur.data.len() && !self.advance()? {
            let e = FmtError::eof(1, self.offset(), "opcode");
            return Err(self.eof_error(e).into());
        }
        let data = Arc::clone(&self.cur.data);
        let base = self.cur.start;
        let mut items = Vec::with_capacity(1024);
        let mut pos = self.pos;
        let mut hard_error = None;
        while pos < data.len() {
            match self.parser.next(&data, pos, base) {
                Ok(f) => {
                    pos = f.end;
                    if matches!(f.item, Item::Eof) {
                        self.eof_at = Some(f.start);
                        break;
                    }
                    items.push(f);
                }
                Err(e) if e.is_incomplete() => break,
                Err(e) => {
                    hard_error = Some(e);
                    break;
                }
            }
        }
        self.pos = pos;
        if !items.is_empty() {
            // A hard error after some good items is found again by the next call.
            let end = self.offset();
            return Ok(Some(Segment::new(Arc::clone(&data), items, end)));
        }
        if let Some(e) = hard_error {
            return Err(e.into());
        }
        if self.eof_at.is_some() {
            return self.next_segment();
        }
        drop(items);
        self.straddle_one().map(Some)
    }

    /// Frame one item that starts at `self.pos` and runs past the end of the current chunk,
    /// in a buffer holding the chunk's tail and as much of the following chunks as it needs.
    fn straddle_one(&mut self) -> Result<Segment> {
        let start_abs = self.offset();
        let mut buf = self.cur.data[self.pos..].to_vec();
        self.pos = self.cur.data.len();
        let mut step = 64 << 10;
        loop {
            if self.pos >= self.cur.data.len() && !self.advance()? {
                let e = match self.parser.clone().next(&buf, 0, start_abs) {
                    Err(e) => e,
                    Ok(_) => FmtError::eof(1, start_abs, "record"),
                };
                return Err(self.eof_error(e).into());
            }
            let add = step.min(self.cur.data.len() - self.pos);
            buf.extend_from_slice(&self.cur.data[self.pos..self.pos + add]);
            self.pos += add;
            step = step.saturating_mul(2);
            // Frame on a copy of the parser state: only the attempt that succeeds counts.
            let mut p = self.parser.clone();
            match p.next(&buf, 0, start_abs) {
                Ok(f) => {
                    let end_abs = start_abs + f.end as u64;
                    // Continue after the item in the current chunk.
                    self.pos = (end_abs - self.cur.start) as usize;
                    break;
                }
                Err(e) if e.is_incomplete() => {
                    // A length that points past the end of a regular file: fail now instead of
                    // reading the rest of the file into the buffer first.
                    if let (Some(total), ErrorKind::UnexpectedEof { needed }) =
                        (self.total_len, &e.kind)
                    {
                        let have_to = start_abs + buf.len() as u64;
                        if have_to.saturating_add(*needed) > total {
                            return Err(FmtError::corrupt(
                                format!(
                                    "length runs past the end of the file ({} bytes needed after offset {}, the file has {total})",
                                    needed, have_to
                                ),
                                e.offset,
                                e.doing,
                            )
                            .with_key_opt(e.key.as_deref())
                            .into());
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        let data = Arc::new(buf);
        let f = self.parser.next(&data, 0, start_abs)?;
        let end = self.offset();
        Ok(Segment::new(Arc::clone(&data), vec![f], end))
    }

    /// A truncated file: say where the input ended.
    fn eof_error(&self, mut e: FmtError) -> FmtError {
        let end = self.cur.start + self.cur.data.len() as u64;
        if let ErrorKind::UnexpectedEof { needed } = e.kind {
            e.kind = ErrorKind::Corrupt(format!(
                "unexpected end of file at offset {end} ({needed} more bytes needed)"
            ));
        }
        e
    }

    fn finish_trailer(&mut self, eof_offset: u64) -> Result<()> {
        // The EOF opcode is one byte, so it lies in the current chunk: the CRC covers every
        // byte up to and including it.
        let covered_end = eof_offset + 1;
        let upto = (covered_end - self.cur.start) as usize;
        let actual = crc64::crc64(self.cur.crc_before, &self.cur.data[..upto]);
        let checksum = if self.parser.header.has_checksum() {
            let mut stored = [0u8; 8];
            let mut got = 0;
            while got < 8 {
                if self.pos >= self.cur.data.len() && !self.advance()? {
                    let e = FmtError::eof((8 - got) as u64, self.offset(), "checksum");
                    return Err(self.eof_error(e).into());
                }
                let n = (8 - got).min(self.cur.data.len() - self.pos);
                stored[got..got + n].copy_from_slice(&self.cur.data[self.pos..self.pos + n]);
                got += n;
                self.pos += n;
            }
            let stored = u64::from_le_bytes(stored);
            if stored == 0 {
                Checksum::Disabled
            } else if stored != actual {
                return Err(FmtError::new(
                    ErrorKind::CrcMismatch {
                        expected: stored,
                        actual,
                    },
                    covered_end,
                    "checksum",
                )
                .into());
            } else {
                Checksum::Ok(stored)
            }
        } else {
            Checksum::Absent
        };
        let end = self.cur.start + self.pos as u64;
        let trailing = match self.total_len {
            // A regular file: no need to read what follows (an AOF preamble's tail can be
            // gigabytes).
            Some(total) => total.saturating_sub(end),
            None => {
                let mut n = (self.cur.data.len() - self.pos) as u64;
                self.pos = self.cur.data.len();
                while self.advance()? {
                    n += self.cur.data.len() as u64;
                    self.pos = self.cur.data.len();
                }
                n
            }
        };
        self.finished = Some(Trailer {
            checksum,
            eof_offset,
            trailing_bytes: trailing,
        });
        Ok(())
    }

    /// The checksum and trailing-bytes report, once `next_segment` has returned None.
    pub fn trailer(&self) -> Option<&Trailer> {
        self.finished.as_ref()
    }
}

impl Drop for RdbReader {
    fn drop(&mut self) {
        // Close the channels first so a blocked reader thread exits.
        self.rx.take();
        self.recycle.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rdb_with(body: &[u8], version: &str, crc: bool) -> Vec<u8> {
        let mut v = format!("REDIS{version}").into_bytes();
        v.extend_from_slice(body);
        v.push(0xff);
        if crc {
            let c = crc64::crc64(0, &v);
            v.extend_from_slice(&c.to_le_bytes());
        }
        v
    }

    fn read_all(data: Vec<u8>) -> Result<(Vec<Vec<u8>>, Trailer)> {
        let len = data.len() as u64;
        let mut r = RdbReader::from_reader(Box::new(io::Cursor::new(data)), Some(len))?;
        let mut keys = Vec::new();
        while let Some(seg) = r.next_segment()? {
            for f in seg.items() {
                if let Item::Key(k) = &f.item {
                    keys.push(k.key.to_vec(0).unwrap());
                }
            }
        }
        Ok((keys, r.trailer().unwrap().clone()))
    }

    #[test]
    fn reads_keys_and_verifies_checksum() {
        // SELECTDB 0, string key "a" = "b"
        let body = [0xfe, 0x00, 0x00, 0x01, b'a', 0x01, b'b'];
        let (keys, t) = read_all(rdb_with(&body, "0009", true)).unwrap();
        assert_eq!(keys, vec![b"a".to_vec()]);
        assert!(matches!(t.checksum, Checksum::Ok(_)));
        assert_eq!(t.trailing_bytes, 0);
    }

    #[test]
    fn wrong_checksum_is_an_error_naming_the_offset() {
        let body = [0x00, 0x01, b'a', 0x01, b'b'];
        let mut f = rdb_with(&body, "0009", true);
        let n = f.len();
        f[n - 1] ^= 1;
        let e = read_all(f).unwrap_err().to_string();
        assert!(e.starts_with("[offset 15] CRC64 mismatch"), "{e}");
    }

    #[test]
    fn zero_checksum_means_disabled_and_old_versions_have_none() {
        let body = [0x00, 0x01, b'a', 0x01, b'b'];
        let mut f = rdb_with(&body, "0009", false);
        f.extend_from_slice(&[0; 8]);
        assert_eq!(read_all(f).unwrap().1.checksum, Checksum::Disabled);
        let f = rdb_with(&body, "0004", false);
        assert_eq!(read_all(f).unwrap().1.checksum, Checksum::Absent);
    }

    #[test]
    fn truncation_at_every_offset_is_an_error_not_a_panic() {
        let body = [
            0xfe, 0x00, 0x00, 0x01, b'a', 0x01, b'b', 0xfc, 1, 2, 3, 4, 5, 6, 7, 8,
        ];
        let mut full = rdb_with(&body, "0009", false);
        // give the string key its value after the expire prefix
        full.pop();
        full.extend_from_slice(&[0x00, 0x01, b'c', 0x01, b'd', 0xff]);
        let c = crc64::crc64(0, &full);
        full.extend_from_slice(&c.to_le_bytes());
        assert!(read_all(full.clone()).is_ok());
        for cut in 0..full.len() {
            let r = read_all(full[..cut].to_vec());
            assert!(r.is_err(), "cut {cut} should fail");
        }
    }

    #[test]
    fn values_larger_than_a_chunk_stream_through() {
        let big = vec![b'x'; CHUNK * 2 + 17];
        let mut body = vec![0x00, 0x01, b'k'];
        body.push(0x80);
        body.extend_from_slice(&(big.len() as u32).to_be_bytes());
        body.extend_from_slice(&big);
        let (keys, t) = read_all(rdb_with(&body, "0010", true)).unwrap();
        assert_eq!(keys.len(), 1);
        assert!(matches!(t.checksum, Checksum::Ok(_)));
    }
}
