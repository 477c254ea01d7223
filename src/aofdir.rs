//! Writing a Redis 7 multi-part AOF directory (`appenddirname`) from scratch, atomically.
//!
//! The directory holds what Redis 7.0 leaves after rewriting a fresh dataset: sequence 1 for both
//! the base and the incremental file, named after `appendfilename`:
//!
//! ```text
//! <dir>/<filename>.1.base.rdb   (or .1.base.aof: the base, an RDB or RESP commands)
//! <dir>/<filename>.1.incr.aof   (empty: nothing written since the rewrite)
//! <dir>/<filename>.manifest     file <filename>.1.base.rdb seq 1 type b
//!                               file <filename>.1.incr.aof seq 1 type i
//! ```
//!
//! Everything is built in a temporary directory next to the target (same parent, so the final
//! rename stays on one file system), every file and the directory are fsynced, then the
//! directory is renamed into place: a crash leaves either no new directory or a complete one.
//! An existing non-empty target is refused unless `replace` is set; it is then moved aside to
//! `<dir>.bak.<unix seconds>` (the naming `safefile` uses for backups) just before the rename.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use redkit_formats::manifest::{self, AofInfo, FileType, Manifest};

use crate::error::{Error, Result};

/// What to write.
#[derive(Debug, Clone)]
pub struct AofDirSpec {
    /// The AOF directory (Redis's `appenddirname` inside its `dir`), e.g. `out/appendonlydir`.
    pub dir: PathBuf,
    /// Redis's `appendfilename`: the prefix of every file name (`appendonly.aof` by default).
    pub filename: String,
    /// The base is an RDB (`aof-use-rdb-preamble yes`, Redis's default) rather than RESP.
    pub base_is_rdb: bool,
    /// When `dir` exists and is not empty, move it to `<dir>.bak.<unix seconds>` instead of
    /// refusing.
    pub replace: bool,
}

impl AofDirSpec {
    /// Redis's defaults: `appendonly.aof`, RDB base, no replacing.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        AofDirSpec {
            dir: dir.into(),
            filename: "appendonly.aof".into(),
            base_is_rdb: true,
            replace: false,
        }
    }

    /// The base file's name: `<filename>.1.base.rdb` or `<filename>.1.base.aof`.
    pub fn base_name(&self) -> String {
        let ext = if self.base_is_rdb { "rdb" } else { "aof" };
        format!("{}.1.base.{ext}", self.filename)
    }

    /// The (empty) incremental file's name: `<filename>.1.incr.aof`.
    pub fn incr_name(&self) -> String {
        format!("{}.1.incr.aof", self.filename)
    }

    /// The manifest's name: `<filename>.manifest`.
    pub fn manifest_name(&self) -> String {
        format!("{}.manifest", self.filename)
    }

    /// The manifest text Redis would write for this directory.
    pub fn manifest_text(&self) -> Vec<u8> {
        manifest::format(&self.manifest())
    }

    fn manifest(&self) -> Manifest {
        Manifest {
            base: Some(AofInfo {
                name: self.base_name().into_bytes(),
                seq: 1,
                kind: FileType::Base,
            }),
            history: Vec::new(),
            incr: vec![AofInfo {
                name: self.incr_name().into_bytes(),
                seq: 1,
                kind: FileType::Incr,
            }],
        }
    }
}

/// Write the directory `spec.dir`; `write_base` writes the base file's bytes. Returns the
/// manifest's path. On error nothing is left behind (and an existing directory is untouched,
/// or back in place).
pub fn write_aof_dir(
    spec: &AofDirSpec,
    write_base: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<PathBuf> {
    check_filename(spec)?;
    let dir = &spec.dir;
    let dir_name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| {
            Error::Usage(format!(
                "{}: the AOF directory needs a name (e.g. out/appendonlydir)",
                dir.display()
            ))
        })?;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;

    // Decide about an existing target before doing any work.
    let existing_non_empty = match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(Error::io(dir, e)),
        Ok(m) if !m.is_dir() => {
            return Err(Error::Usage(format!(
                "{}: exists and is not a directory",
                dir.display()
            )))
        }
        Ok(_) => {
            let mut it = fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
            it.next().is_some()
        }
    };
    if existing_non_empty && !spec.replace {
        return Err(Error::Usage(format!(
            "{}: directory exists and is not empty; refusing to overwrite it (with replace, it is kept as {}.bak.<unix seconds>)",
            dir.display(),
            dir.display()
        )));
    }

    let tmp = make_temp_dir(&parent, &dir_name)?;
    let built = (|| -> Result<()> {
        write_file(&tmp.join(spec.base_name()), |w| write_base(w))?;
        write_file(&tmp.join(spec.incr_name()), |_| Ok(()))?;
        let text = spec.manifest_text();
        write_file(&tmp.join(spec.manifest_name()), |w| {
            w.write_all(&text)
                .map_err(|e| Error::io(&tmp.join(spec.manifest_name()), e))
        })?;
        sync_dir(&tmp).map_err(|e| Error::io(&tmp, e))
    })();
    if let Err(e) = built {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }

    let backup = if existing_non_empty {
        let b = crate::safefile::backup_name(dir);
        if let Err(e) = fs::rename(dir, &b) {
            let _ = fs::remove_dir_all(&tmp);
            return Err(Error::Other(format!(
                "{}: cannot move the existing directory aside to {}: {e}",
                dir.display(),
                b.display()
            )));
        }
        Some(b)
    } else {
        None
    };
    // Over an empty directory, rename(2) replaces it in one step.
    if let Err(e) = fs::rename(&tmp, dir) {
        if let Some(b) = &backup {
            let _ = fs::rename(b, dir);
        }
        let _ = fs::remove_dir_all(&tmp);
        return Err(Error::io(dir, e));
    }
    // Best effort: the renames are durable once the parent is synced.
    let _ = sync_dir(&parent);
    Ok(dir.join(spec.manifest_name()))
}

/// Redis must be able to read back the names it will find in the manifest.
fn check_filename(spec: &AofDirSpec) -> Result<()> {
    let f = &spec.filename;
    let ok = !f.is_empty()
        && !f.contains(['/', '\\'])
        && spec
            .manifest()
            .all_files_in_load_order()
            .all(manifest::line_reads_back);
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "bad appendfilename '{f}': it must be a plain file name Redis can read back from its manifest (no '/', '\\', NUL, lone quote)"
        )))
    }
}

/// A fresh hidden directory in `parent` for building the new one.
fn make_temp_dir(parent: &Path, name: &str) -> Result<PathBuf> {
    for n in 0..1000u32 {
        let p = parent.join(format!(".{name}.redkit-tmp.{}.{n}", std::process::id()));
        match fs::create_dir(&p) {
            Ok(()) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io(&p, e)),
        }
    }
    Err(Error::Other(format!(
        "{}: cannot find a free temporary directory name",
        parent.display()
    )))
}

/// Create `path`, fill it, flush and fsync it.
fn write_file(path: &Path, fill: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    let mut w = BufWriter::with_capacity(1 << 20, f);
    fill(&mut w)?;
    let f = w
        .into_inner()
        .map_err(|e| Error::io(path, e.into_error()))?;
    f.sync_all().map_err(|e| Error::io(path, e))
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "redkit-aofdir-{tag}-{}-{}",
            std::process::id(),
            crate::now_ms()
        ));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    const SET_A: &[u8] = b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n";

    #[test]
    fn writes_the_files_redis_makes_after_a_fresh_rewrite() {
        let root = tempdir("names");
        let mut spec = AofDirSpec::new(root.join("out/appendonlydir"));
        spec.base_is_rdb = false;
        let m = write_aof_dir(&spec, |w| {
            w.write_all(SET_A).map_err(|e| Error::Other(e.to_string()))
        })
        .unwrap();
        assert_eq!(m, root.join("out/appendonlydir/appendonly.aof.manifest"));
        assert_eq!(
            names(&spec.dir),
            [
                "appendonly.aof.1.base.aof",
                "appendonly.aof.1.incr.aof",
                "appendonly.aof.manifest"
            ]
        );
        assert_eq!(
            fs::read(&m).unwrap(),
            b"file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
        );
        assert_eq!(
            fs::read(spec.dir.join("appendonly.aof.1.base.aof")).unwrap(),
            SET_A
        );
        assert!(fs::read(spec.dir.join("appendonly.aof.1.incr.aof"))
            .unwrap()
            .is_empty());
        // The manifest parses back to the same entries.
        let parsed = manifest::parse(&fs::read(&m).unwrap()).unwrap();
        assert_eq!(parsed, spec.manifest());
        // No temporary directory is left next to it.
        assert_eq!(names(&root.join("out")), ["appendonlydir"]);

        spec.base_is_rdb = true;
        spec.filename = "x.aof".into();
        assert_eq!(spec.base_name(), "x.aof.1.base.rdb");
        assert_eq!(
            spec.manifest_text(),
            b"file x.aof.1.base.rdb seq 1 type b\nfile x.aof.1.incr.aof seq 1 type i\n"
        );
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn refuses_a_non_empty_dir_unless_replacing_and_keeps_a_backup() {
        let root = tempdir("replace");
        let dir = root.join("appendonlydir");
        fs::create_dir_all(&dir).unwrap();
        // An empty directory is simply taken over.
        let spec = AofDirSpec::new(&dir);
        write_aof_dir(&spec, |_| Ok(())).unwrap();
        assert_eq!(names(&root), ["appendonlydir"]);

        let err = write_aof_dir(&spec, |_| Ok(())).unwrap_err().to_string();
        assert!(err.contains("not empty"), "{err}");
        assert_eq!(names(&root), ["appendonlydir"], "nothing left behind");

        let mut spec = spec;
        spec.replace = true;
        spec.filename = "new.aof".into();
        write_aof_dir(&spec, |_| Ok(())).unwrap();
        let n = names(&root);
        assert_eq!(n.len(), 2, "{n:?}");
        assert!(n[1].starts_with("appendonlydir.bak."), "{n:?}");
        assert!(names(&dir).contains(&"new.aof.manifest".to_string()));
        assert!(names(&root.join(&n[1])).contains(&"appendonly.aof.manifest".to_string()));
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_failing_base_writer_leaves_nothing() {
        let root = tempdir("fail");
        let spec = AofDirSpec::new(root.join("appendonlydir"));
        let err = write_aof_dir(&spec, |w| {
            w.write_all(b"partial").unwrap();
            Err(Error::Other("source went bad".into()))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "source went bad");
        assert!(names(&root).is_empty(), "{:?}", names(&root));

        let mut bad = AofDirSpec::new(root.join("d"));
        bad.filename = "a/b".into();
        assert!(write_aof_dir(&bad, |_| Ok(())).is_err());
        bad.filename = String::new();
        assert!(write_aof_dir(&bad, |_| Ok(())).is_err());
        fs::remove_dir_all(&root).unwrap();
    }
}
