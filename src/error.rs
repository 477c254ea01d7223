//! The library's error type: a format error with its location, an I/O error with its path, or
//! a usage problem. The binary turns any of them into one line on stderr and exit code 1.

use std::fmt;
use std::path::Path;

pub use redkit_formats::Error as FormatError;

#[derive(Debug)]
pub enum Error {
    /// Bad input bytes, with offset, what was being read and the key.
    Format(FormatError),
    Io {
        path: String,
        err: std::io::Error,
    },
    /// Bad arguments (e.g. an invalid regex).
    Usage(String),
    Other(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn io(path: &Path, err: std::io::Error) -> Self {
        Error::Io {
            path: path.display().to_string(),
            err,
        }
    }
}

impl From<FormatError> for Error {
    fn from(e: FormatError) -> Self {
        Error::Format(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Format(e) => write!(f, "{e}"),
            Error::Io { path, err } => write!(f, "{path}: {err}"),
            Error::Usage(m) | Error::Other(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for Error {}
