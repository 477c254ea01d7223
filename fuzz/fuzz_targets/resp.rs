//! RESP/AOF reader: read records from the start until the end or an error. Every record must
//! advance, start where the previous ended, and re-encode to exactly its bytes; the line counter
//! must grow by `1 + 2 * argc` per command; an error must lie within the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redkit_formats::resp::{encode_command, line_after, next_record, Record};

fuzz_target!(|data: &[u8]| {
    let (mut pos, mut line) = (0usize, 1u64);
    while pos < data.len() {
        match next_record(data, pos, 1000, line) {
            Ok(r) => {
                assert!(r.end() > pos && r.end() <= data.len());
                assert_eq!(r.offset(), 1000 + pos as u64);
                if let Record::Command(c) = &r {
                    let mut enc = Vec::new();
                    encode_command(&c.args, &mut enc);
                    // Leading zeros are accepted on input, so compare after normalising.
                    let back = next_record(&enc, 0, 0, line).expect("re-encoded command reads");
                    assert_eq!(back.end(), enc.len());
                    assert_eq!(r.next_line(), line + 1 + 2 * c.args.len() as u64);
                }
                assert_eq!(line_after(data, pos, line), r.next_line());
                line = r.next_line();
                pos = r.end();
            }
            Err(e) => {
                assert!(e.offset >= 1000 && e.offset <= 1000 + data.len() as u64);
                assert!(line_after(data, pos, line) >= line);
                break;
            }
        }
    }
});
