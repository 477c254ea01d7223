//! redkit: read, check and convert Redis persistence files.
//!
//! Byte-level codecs live in the `redkit-formats` crate; this crate holds the streaming file
//! reader, the tools behind the CLI (json, check-rdb, stats) and, later, the keyspace.

pub mod aofdir;
pub mod aoffile;
pub mod batch;
pub mod cmd;
pub mod error;
pub mod filter;
pub mod jsonin;
pub mod jsonout;
pub mod keyspace;
pub mod rdbfile;
pub mod replay;
pub mod safefile;
pub mod tools;

pub use error::{Error, Result};

/// Current time in unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
#[cfg(test)]
mod testutil;
