//! The tools behind the CLI's subcommands.

pub mod aof_repair;
pub mod aof_scan;
pub mod aof_stats;
pub mod check_aof;
pub mod check_rdb;
pub mod convert;
pub mod fix;
pub mod json;
pub mod keyspace_stats;
pub mod rdb_salvage;
pub mod stats;

pub(crate) use redkit_formats::rdb::read::CountSink;
