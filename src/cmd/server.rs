//! PLACEHOLDER: replaced by the helper that implements these commands.

use super::CommandSpec;

pub const COMMANDS: &[CommandSpec] = &[];
