//! One error type for every decoder in this crate.
//!
//! An error says where (`offset`, absolute in the input the caller handed in), what was being read
//! (`doing`), which key it belonged to when known, and what was wrong (`kind`, carrying the bad
//! value). Decoders of embedded blobs (a listpack inside an RDB string) report offsets relative to
//! the blob; the RDB reader rebases them with [`Error::rebase`].

use std::fmt;

/// What went wrong. Variants carry the offending value so messages can name it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input ended while `needed` more bytes were expected.
    UnexpectedEof { needed: u64 },
    /// The file does not start with `REDIS` or `VALKEY`.
    BadMagic,
    /// A version number redkit does not know (the text as found in the header).
    UnsupportedVersion(String),
    /// A value type byte that is not defined for this file's version and family.
    UnknownType(u8),
    /// A module value of the pre-release format (type 6) has no generic layout to skip.
    ModulePreGa,
    /// An opcode inside a module value (or key metadata) that does not exist.
    UnknownModuleOpcode(u64),
    /// The stored CRC64 does not match the bytes read.
    CrcMismatch { expected: u64, actual: u64 },
    /// A length that cannot be right (longer than the input, or overflowing).
    BadLength(u64),
    /// A string encoding byte (after the 0b11 prefix) that is not int8/16/32 or LZF.
    UnknownStringEncoding(u8),
    /// LZF data that does not decompress to the announced size.
    Lzf(&'static str),
    /// A listpack, ziplist, intset or zipmap whose structure is inconsistent.
    Corrupt(String),
    /// A zset score stored as text that is not a number.
    BadDouble(Vec<u8>),
    /// Bytes between structures that should not be there.
    Trailing(u64),
    /// The underlying reader failed (I/O error text).
    Io(String),
}

/// A decoding error with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    /// Byte offset where the bad data starts.
    pub offset: u64,
    /// What was being read, e.g. "listpack entry" or "value".
    pub doing: &'static str,
    /// The key whose value was being read, when known.
    pub key: Option<Vec<u8>>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(kind: ErrorKind, offset: u64, doing: &'static str) -> Self {
        Error {
            kind,
            offset,
            doing,
            key: None,
        }
    }

    /// Shorthand for a structural corruption message.
    pub fn corrupt(msg: impl Into<String>, offset: u64, doing: &'static str) -> Self {
        Self::new(ErrorKind::Corrupt(msg.into()), offset, doing)
    }

    pub fn eof(needed: u64, offset: u64, doing: &'static str) -> Self {
        Self::new(ErrorKind::UnexpectedEof { needed }, offset, doing)
    }

    /// Move a blob-relative offset to an absolute one.
    pub fn rebase(mut self, base: u64) -> Self {
        self.offset = self.offset.saturating_add(base);
        self
    }

    pub fn with_key(mut self, key: &[u8]) -> Self {
        if self.key.is_none() {
            self.key = Some(key.to_vec());
        }
        self
    }

    /// Attach a key if there is one.
    pub fn with_key_opt(self, key: Option<&[u8]>) -> Self {
        match key {
            Some(k) => self.with_key(k),
            None => self,
        }
    }

    /// True when more input could make this error go away (a truncated stream, not corruption).
    pub fn is_incomplete(&self) -> bool {
        matches!(self.kind, ErrorKind::UnexpectedEof { .. })
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::UnexpectedEof { needed } => {
                write!(f, "unexpected end of input ({needed} more bytes needed)")
            }
            ErrorKind::BadMagic => write!(f, "not an RDB file (no REDIS or VALKEY signature)"),
            ErrorKind::UnsupportedVersion(v) => write!(f, "unsupported RDB version {v}"),
            ErrorKind::UnknownType(t) => write!(f, "unknown RDB type {t}"),
            ErrorKind::ModulePreGa => write!(
                f,
                "module value in the pre-release format (type 6) cannot be skipped without the module"
            ),
            ErrorKind::UnknownModuleOpcode(o) => write!(f, "unknown module opcode {o}"),
            ErrorKind::CrcMismatch { expected, actual } => write!(
                f,
                "CRC64 mismatch: file says {expected:016x}, computed {actual:016x}"
            ),
            ErrorKind::BadLength(n) => write!(f, "impossible length {n}"),
            ErrorKind::UnknownStringEncoding(e) => write!(f, "unknown string encoding {e}"),
            ErrorKind::Lzf(m) => write!(f, "bad LZF data: {m}"),
            ErrorKind::Corrupt(m) => write!(f, "{m}"),
            ErrorKind::BadDouble(b) => {
                write!(f, "bad double value '{}'", crate::escape_key(b))
            }
            ErrorKind::Trailing(n) => write!(f, "{n} unexpected trailing bytes"),
            ErrorKind::Io(m) => write!(f, "I/O error: {m}"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[offset {}] {} (while reading {}",
            self.offset, self.kind, self.doing
        )?;
        if let Some(k) = &self.key {
            write!(f, " of key '{}'", crate::escape_key(k))?;
        }
        write!(f, ")")
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_offset_doing_and_key() {
        let e = Error::new(ErrorKind::UnknownType(42), 1234, "value").with_key(b"foo");
        assert_eq!(
            e.to_string(),
            "[offset 1234] unknown RDB type 42 (while reading value of key 'foo')"
        );
    }

    #[test]
    fn key_with_control_bytes_is_escaped_on_one_line() {
        let e = Error::new(ErrorKind::UnknownType(1), 0, "value").with_key(b"a\nb\xff");
        assert_eq!(
            e.to_string(),
            "[offset 0] unknown RDB type 1 (while reading value of key 'a\\nb\\xff')"
        );
    }
}
