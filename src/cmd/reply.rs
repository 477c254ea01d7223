//! Command replies and their RESP2 encoding.

use std::borrow::Cow;

#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK`
    Ok,
    /// A simple string (`+PONG`, `+QUEUED`, TYPE's answers).
    Status(Cow<'static, str>),
    /// An error: the whole text after `-`, prefix included (`ERR ...`, `WRONGTYPE ...`).
    Error(Cow<'static, str>),
    Int(i64),
    Bulk(Vec<u8>),
    /// `$-1`
    Nil,
    /// `*-1`
    NilArray,
    Array(Vec<Reply>),
    /// A double, sent in RESP2 as a bulk string formatted like Redis's `addReplyDouble`
    /// (`%.17g`, `inf`, `-inf`).
    Double(f64),
}

impl Reply {
    pub fn err(msg: impl Into<Cow<'static, str>>) -> Reply {
        Reply::Error(msg.into())
    }

    pub fn status(s: impl Into<Cow<'static, str>>) -> Reply {
        Reply::Status(s.into())
    }

    pub fn bulk(b: &[u8]) -> Reply {
        Reply::Bulk(b.to_vec())
    }

    /// An array of bulk strings.
    pub fn bulks<I, B>(items: I) -> Reply
    where
        I: IntoIterator<Item = B>,
        B: AsRef<[u8]>,
    {
        Reply::Array(
            items
                .into_iter()
                .map(|b| Reply::Bulk(b.as_ref().to_vec()))
                .collect(),
        )
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Append the RESP2 encoding.
    pub fn write_resp2(&self, out: &mut Vec<u8>) {
        match self {
            Reply::Ok => out.extend_from_slice(b"+OK\r\n"),
            Reply::Status(s) => {
                out.push(b'+');
                out.extend_from_slice(s.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            Reply::Error(s) => {
                out.push(b'-');
                // A newline would break the protocol; Redis replaces them with spaces.
                out.extend(
                    s.bytes()
                        .map(|c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
                );
                out.extend_from_slice(b"\r\n");
            }
            Reply::Int(i) => {
                out.push(b':');
                out.extend_from_slice(i.to_string().as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            Reply::Bulk(b) => write_bulk(out, b),
            Reply::Nil => out.extend_from_slice(b"$-1\r\n"),
            Reply::NilArray => out.extend_from_slice(b"*-1\r\n"),
            Reply::Array(items) => {
                out.push(b'*');
                out.extend_from_slice(items.len().to_string().as_bytes());
                out.extend_from_slice(b"\r\n");
                for r in items {
                    r.write_resp2(out);
                }
            }
            Reply::Double(d) => {
                let s = if d.is_infinite() {
                    if *d > 0.0 { "inf" } else { "-inf" }.to_string()
                } else {
                    super::util::fmt_g17(*d)
                };
                write_bulk(out, s.as_bytes());
            }
        }
    }

    pub fn to_resp2(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_resp2(&mut v);
        v
    }
}

fn write_bulk(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b'$');
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp2_bytes() {
        let r = Reply::Array(vec![
            Reply::Ok,
            Reply::Int(-3),
            Reply::bulk(b"ab"),
            Reply::Nil,
            Reply::NilArray,
            Reply::err("ERR x"),
            Reply::Double(1.5),
            Reply::Double(f64::NEG_INFINITY),
        ]);
        assert_eq!(
            r.to_resp2(),
            b"*8\r\n+OK\r\n:-3\r\n$2\r\nab\r\n$-1\r\n*-1\r\n-ERR x\r\n$3\r\n1.5\r\n$4\r\n-inf\r\n"
        );
    }
}
