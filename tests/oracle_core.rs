//! The oracle harness itself, on commands every data type shares.

mod common;
mod oracle;

use oracle::Pair;

#[test]
fn unknown_commands_and_arity_match_redis() {
    let mut p = Pair::start();
    p.run(&[
        oracle::Case::exact(args![b"NOSUCHCMD", b"a", b"b"]),
        oracle::Case::exact(args![b"MULTI"]),
        oracle::Case::exact(args![b"MULTI"]),
        oracle::Case::exact(args![b"DISCARD"]),
        oracle::Case::exact(args![b"EXEC"]),
        oracle::Case::exact(args![b"DISCARD"]),
    ]);
    p.compare_keyspace();
}
