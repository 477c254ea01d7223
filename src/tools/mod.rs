//! The tools behind the CLI's subcommands.

pub mod check_rdb;
pub mod json;
pub mod stats;

pub(crate) use redkit_formats::rdb::read::CountSink;
