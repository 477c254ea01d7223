//! Streaming an RDB file (or stdin) through a bounded window.
//!
//! A reader thread reads the input in 4 MiB chunks and computes the running CRC64 while the
//! caller frames records, so the checksum costs no time on the parsing thread. The window holds
//! the record being framed plus what is left of the chunk it started in, so memory stays at a
//! few chunks whatever the file size (one value larger than that grows the window to its size,
//! bounded by the bytes the file really holds, never by a length field).
//!
//! Reading instead of mapping keeps a file that shrinks under us an ordinary "unexpected end of
//! file" error instead of a SIGBUS, and works the same for pipes (`redis-cli --rdb -`).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

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

/// A framed RDB file read front to back.
pub struct RdbReader {
    parser: Parser,
    buf: Vec<u8>,
    /// Absolute offset of `buf[0]`.
    base: u64,
    /// Parse position in `buf`.
    pos: usize,
    /// Offsets where received chunks start, with the CRC before each (only those whose bytes may
    /// still be needed to finish the checksum).
    chunk_crcs: Vec<(u64, u64)>,
    rx: Option<Receiver<Msg>>,
    recycle: Option<SyncSender<Vec<u8>>>,
    thread: Option<JoinHandle<()>>,
    source_done: bool,
    /// Size of the input when it is a regular file.
    pub total_len: Option<u64>,
    finished: Option<Trailer>,
    /// Bytes received so far (for progress).
    pub received: u64,
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
                    if !data.is_empty() && tx.send(Msg::Data(Chunk { data, crc_before })).is_err()
                    {
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
            parser: Parser::new(redkit_formats::rdb::read::Header {
                family: redkit_formats::rdb::consts::Family::Redis,
                version: 1,
            }),
            buf: Vec::new(),
            base: 0,
            pos: 0,
            chunk_crcs: Vec::new(),
            rx: Some(rx),
            recycle: Some(recycle_tx),
            thread: Some(thread),
            source_done: false,
            total_len,
            finished: None,
            received: 0,
        };
        while r.buf.len() < HEADER_LEN && r.fill()? {}
        let header = parse_header(&r.buf).map_err(|e| {
            if e.is_incomplete() {
                FmtError::new(
                    ErrorKind::UnexpectedEof {
                        needed: (HEADER_LEN - r.buf.len()) as u64,
                    },
                    r.buf.len() as u64,
                    "header",
                )
            } else {
                e
            }
        })?;
        r.parser = Parser::new(header);
        r.pos = HEADER_LEN;
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
        self.base + self.pos as u64
    }

    /// Append the next chunk to the window. Returns false when the source is exhausted.
    fn fill(&mut self) -> Result<bool> {
        if self.source_done {
            return Ok(false);
        }
        let Some(rx) = &self.rx else {
            return Ok(false);
        };
        match rx.recv() {
            Ok(Msg::Data(c)) => {
                let start = self.base + self.buf.len() as u64;
                self.chunk_crcs.push((start, c.crc_before));
                self.received += c.data.len() as u64;
                self.buf.extend_from_slice(&c.data);
                if let Some(r) = &self.recycle {
                    let _ = r.try_send(c.data);
                }
                Ok(true)
            }
            Ok(Msg::Err(e)) => Err(Error::Format(FmtError::new(
                ErrorKind::Io(e.to_string()),
                self.base + self.buf.len() as u64,
                "input",
            ))),
            Err(_) => {
                self.source_done = true;
                Ok(false)
            }
        }
    }

    /// Drop consumed bytes from the window, keeping what the checksum may still need (the
    /// bytes since the start of the chunk the parse position is in).
    fn compact(&mut self) {
        let pos_abs = self.offset();
        // The latest chunk starting at or before the parse position.
        let keep_idx = self
            .chunk_crcs
            .iter()
            .rposition(|&(s, _)| s <= pos_abs)
            .unwrap_or(0);
        if keep_idx > 0 {
            self.chunk_crcs.drain(..keep_idx);
        }
        let keep_from = self.chunk_crcs.first().map_or(pos_abs, |&(s, _)| s);
        let drop = (keep_from.saturating_sub(self.base) as usize).min(self.pos);
        if drop >= CHUNK {
            self.buf.drain(..drop);
            self.base += drop as u64;
            self.pos -= drop;
            if self.buf.capacity() > 8 * CHUNK && self.buf.len() < 2 * CHUNK {
                self.buf.shrink_to(4 * CHUNK);
            }
        }
    }

    /// Frame the next item. Returns None after the EOF opcode (see [`RdbReader::trailer`]).
    pub fn next_item(&mut self) -> Result<Option<Framed<'_>>> {
        if self.finished.is_some() {
            return Ok(None);
        }
        self.compact();
        loop {
            // SAFETY: the borrow of `self.buf` given to the parser either ends up in the value
            // we return (and we return at once), or dies at the end of this statement when the
            // parser needs more input; only then do we mutate `self.buf` in `fill`. This is the
            // conditional-return-of-a-borrow pattern the current borrow checker cannot prove.
            let buf: &[u8] = unsafe { &*(self.buf.as_slice() as *const [u8]) };
            match self.parser.next(buf, self.pos, self.base) {
                Ok(f) => {
                    if matches!(f.item, Item::Eof) {
                        let eof_pos = self.pos;
                        self.pos = f.end;
                        self.finish_trailer(eof_pos)?;
                        return Ok(None);
                    }
                    self.pos = f.end;
                    return Ok(Some(f));
                }
                Err(e) if e.is_incomplete() => {
                    if !self.fill()? {
                        return Err(self.eof_error(e).into());
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// A truncated file: say where the input ended.
    fn eof_error(&self, mut e: FmtError) -> FmtError {
        let end = self.base + self.buf.len() as u64;
        if let ErrorKind::UnexpectedEof { needed } = e.kind {
            e.kind = ErrorKind::Corrupt(format!(
                "unexpected end of file at offset {end} ({needed} more bytes needed)"
            ));
        }
        e
    }

    fn finish_trailer(&mut self, eof_pos: usize) -> Result<()> {
        let eof_offset = self.base + eof_pos as u64;
        let checksum = if self.parser.header.has_checksum() {
            while self.buf.len() - self.pos < 8 {
                if !self.fill()? {
                    let e = FmtError::eof(
                        (8 - (self.buf.len() - self.pos)) as u64,
                        self.offset(),
                        "checksum",
                    );
                    return Err(self.eof_error(e).into());
                }
            }
            let mut a = [0u8; 8];
            a.copy_from_slice(&self.buf[self.pos..self.pos + 8]);
            let stored = u64::from_le_bytes(a);
            let covered_end = self.base + self.pos as u64; // CRC covers [0, covered_end)
            self.pos += 8;
            if stored == 0 {
                Checksum::Disabled
            } else {
                let actual = self.crc_up_to(covered_end);
                if actual != stored {
                    return Err(FmtError::new(
                        ErrorKind::CrcMismatch {
                            expected: stored,
                            actual,
                        },
                        covered_end,
                        "checksum",
                    )
                    .into());
                }
                Checksum::Ok(stored)
            }
        } else {
            Checksum::Absent
        };
        // Count what follows without keeping it.
        let mut trailing = (self.buf.len() - self.pos) as u64;
        let keep = self.buf.len();
        while self.fill()? {
            trailing += (self.buf.len() - keep) as u64;
            self.buf.truncate(keep);
        }
        self.finished = Some(Trailer {
            checksum,
            eof_offset,
            trailing_bytes: trailing,
        });
        Ok(())
    }

    /// CRC64 of the input's bytes `[0, end)`; `end` must lie in a chunk still in the window.
    fn crc_up_to(&self, end: u64) -> u64 {
        let idx = self
            .chunk_crcs
            .iter()
            .rposition(|&(s, _)| s <= end)
            .unwrap_or(0);
        let (start, before) = self.chunk_crcs.get(idx).copied().unwrap_or((0, 0));
        let from = (start - self.base) as usize;
        let to = (end - self.base) as usize;
        crc64::crc64(before, &self.buf[from..to])
    }

    /// The checksum and trailing-bytes report, once `next_item` has returned None.
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
        while let Some(f) = r.next_item()? {
            if let Item::Key(k) = f.item {
                keys.push(k.key.to_vec(0).unwrap());
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
        let body = [0xfe, 0x00, 0x00, 0x01, b'a', 0x01, b'b', 0xfc, 1, 2, 3, 4, 5, 6, 7, 8];
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
