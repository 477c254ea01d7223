//! Finding and opening the files of an AOF: a single file (plain RESP, or an RDB preamble with a
//! RESP tail), or a Redis 7 multi-part AOF given as its manifest or as the directory holding it.
//!
//! Files are memory-mapped: the RESP reader works on the mapped bytes without copying, and mapped
//! pages are page cache, not heap, so even a multi-gigabyte AOF costs little anonymous memory.
//! (A file truncated by someone else while mapped would fault; redkit's own tools never change a
//! mapped file in place, they write a new file and rename it.)

use std::fs::File;
use std::ops::Deref;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use redkit_formats::manifest::{self, AofInfo, Manifest};

use crate::error::{Error, Result};

/// A read-only view of a whole file.
pub struct Mapped {
    map: Option<Mmap>,
}

impl Deref for Mapped {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }
}

/// Map `path` (an empty file maps to an empty slice: mmap refuses length 0).
pub fn map(path: &Path) -> std::io::Result<Mapped> {
    let f = File::open(path)?;
    let len = f.metadata()?.len();
    if len == 0 {
        return Ok(Mapped { map: None });
    }
    // SAFETY: the mapping is read-only and private to this process; redkit never writes to a
    // file it has mapped (changes go to a new file that is renamed over it).
    let map = unsafe { Mmap::map(&f)? };
    #[cfg(unix)]
    let _ = map.advise(memmap2::Advice::Sequential);
    Ok(Mapped { map: Some(map) })
}

/// Does the file start with an RDB header? Like redis-check-aof: at least 8 bytes and the
/// `REDIS` magic; redkit also takes Valkey's `VALKEY` magic.
pub fn is_rdb(data: &[u8]) -> bool {
    data.len() >= 8 && (data.starts_with(b"REDIS") || data.starts_with(b"VALKEY"))
}

/// C's `dirname` on the path as given (redis builds the paths of a manifest's files from it).
pub fn c_dirname(path: &str) -> String {
    let t = path.trim_end_matches('/');
    if t.is_empty() {
        return if path.is_empty() {
            ".".into()
        } else {
            "/".into()
        };
    }
    match t.rfind('/') {
        None => ".".into(),
        Some(i) => {
            let d = t[..i].trim_end_matches('/');
            if d.is_empty() {
                "/".into()
            } else {
                d.into()
            }
        }
    }
}

/// What a path names.
pub enum Input {
    /// One file: plain AOF or RDB-preamble AOF (or an RDB).
    File(PathBuf),
    /// A multi-part AOF: the manifest path and the directory its files live in.
    Manifest(PathBuf),
}

/// Work out what `path` is: a directory must hold exactly one `*.manifest`; a file is a manifest
/// when its first line that is not a `#` comment starts with `file` (redis 7.0 calls a file a
/// manifest when *any* line does, so a plain AOF with a `file...` line fools it; redkit does
/// not follow that).
pub fn resolve(path: &Path) -> Result<Input> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        let mut found: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| Error::io(path, e))?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && p.file_name()
                        .map(|n| n.to_string_lossy().ends_with(".manifest"))
                        .unwrap_or(false)
                    && !p
                        .file_name()
                        .map(|n| n.to_string_lossy().starts_with("temp-"))
                        .unwrap_or(false)
            })
            .collect();
        found.sort();
        return match found.len() {
            0 => Err(Error::Usage(format!(
                "{}: no *.manifest file in this directory",
                path.display()
            ))),
            1 => Ok(Input::Manifest(found.remove(0))),
            _ => Err(Error::Usage(format!(
                "{}: several manifests, name the one to use: {}",
                path.display(),
                found
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        };
    }
    let data = map(path).map_err(|e| Error::io(path, e))?;
    if manifest::looks_like_manifest(&data) {
        Ok(Input::Manifest(path.to_path_buf()))
    } else {
        Ok(Input::File(path.to_path_buf()))
    }
}

/// A parsed manifest and where its files are.
pub struct MultiPart {
    pub manifest_path: PathBuf,
    /// The directory as redis-check-aof writes it in paths (`dirname` of the manifest path).
    pub dir: String,
    pub manifest: Manifest,
}

impl MultiPart {
    /// Path of one of the manifest's files, spelled as redis-check-aof spells it.
    pub fn file_path(&self, info: &AofInfo) -> String {
        format!("{}/{}", self.dir, String::from_utf8_lossy(&info.name))
    }
}

/// Read and parse a manifest.
pub fn load_manifest(
    path: &Path,
) -> Result<std::result::Result<MultiPart, manifest::ManifestError>> {
    let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(manifest::parse(&text).map(|m| MultiPart {
        manifest_path: path.to_path_buf(),
        dir: c_dirname(&path.to_string_lossy()),
        manifest: m,
    }))
}

/// `strerror`'s text for an I/O error, without Rust's ` (os error N)` suffix.
pub fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Should `path` be read as an AOF rather than an RDB? Manifests and directories are; a file is
/// when it starts like RESP or with a `#TS:` annotation, or is RDB-magic but named `*.aof` (a
/// preamble AOF). `forced` (`--aof`) says yes regardless. Anything else (an empty file, a bad
/// header, a text file) goes to the RDB reader, which says what is wrong with it.
pub fn is_aof_input(path: &Path, forced: bool) -> Result<bool> {
    if forced {
        return Ok(true);
    }
    Ok(match resolve(path)? {
        Input::Manifest(_) => true,
        Input::File(f) => {
            let data = map(&f).map_err(|e| Error::io(&f, e))?;
            if is_rdb(&data) {
                f.extension().is_some_and(|e| e == "aof")
            } else {
                data.starts_with(b"#TS:")
                    || data.first() == Some(&b'*') && data.get(1).is_some_and(u8::is_ascii_digit)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirname_like_c() {
        assert_eq!(c_dirname("m.manifest"), ".");
        assert_eq!(c_dirname("/a/b/m"), "/a/b");
        assert_eq!(c_dirname("a//b"), "a");
        assert_eq!(c_dirname("/m"), "/");
        assert_eq!(c_dirname("a/b/"), "a");
        assert_eq!(c_dirname(""), ".");
    }

    #[test]
    fn rdb_magic() {
        assert!(is_rdb(b"REDIS0011xxx"));
        assert!(is_rdb(b"VALKEY080"));
        assert!(!is_rdb(b"REDIS00"));
        assert!(!is_rdb(b"*1\r\n$4\r\nPING\r\n"));
    }
}
