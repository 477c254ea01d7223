//! The tools behind the CLI's subcommands.

pub mod check_rdb;
pub mod json;
pub mod stats;

use redkit_formats::rdb::read::{Group, Sink, StreamId};
use redkit_formats::Elem;

/// Counts a value's elements: list elements, set/zset members, hash fields, stream entries;
/// 1 for strings and module values.
#[derive(Default)]
pub(crate) struct CountSink(pub u64);

impl Sink for CountSink {
    fn string(&mut self, _v: &[u8]) {
        self.0 += 1;
    }
    fn list_elem(&mut self, _e: Elem<'_>) {
        self.0 += 1;
    }
    fn set_member(&mut self, _e: Elem<'_>) {
        self.0 += 1;
    }
    fn zset_member(&mut self, _m: Elem<'_>, _s: f64) {
        self.0 += 1;
    }
    fn hash_field(&mut self, _f: Elem<'_>, _v: Elem<'_>, _e: Option<i64>) {
        self.0 += 1;
    }
    fn stream_entry(&mut self, _id: StreamId, _f: &[(Elem<'_>, Elem<'_>)]) {
        self.0 += 1;
    }
    fn stream_group(&mut self, _g: &Group) {}
    fn module(&mut self, _id: u64, _raw: &[u8]) {
        self.0 += 1;
    }
}
