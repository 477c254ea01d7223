//! The RDB file format: constants, the reader (`read`), and the writer (`write`).
//!
//! File layout, in order:
//! - a 9-byte header: `REDIS` + four ASCII digits (`REDIS0011`), or `VALKEY` + three digits
//!   (`VALKEY080`);
//! - a sequence of items, each introduced by one byte. Bytes 243..=255 are opcodes (AUX fields,
//!   SELECTDB, RESIZEDB, expiry and LRU/LFU prefixes, module aux data, functions, slot info, and
//!   EOF); smaller bytes are value types and start a key record: `type, key string, value`;
//! - after the EOF opcode (255), from version 5 on, an 8-byte little-endian CRC64 of everything
//!   before it (0 when the writer had checksums turned off).
//!
//! Details of each item and value type are in `read.rs` and `formats/README.md`; which encoding
//! the writer picks for each target version is in `write.rs`.

pub mod consts;
pub mod read;
pub mod write;
