//! Changing a file without risking it: the new content goes to a temp file in the same
//! directory, is fsynced, and is renamed over the original (then the directory is fsynced), so a
//! crash leaves either the old file or the new one. Unless told otherwise, the original is kept
//! as `<file>.bak.<unix-seconds>`: a hard link to the old inode when the file system allows it
//! (instant, no copy), a copy otherwise.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Seconds since the epoch, for backup names.
pub fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A free backup name for `path`: `<path>.bak.<secs>`, with `.1`, `.2`… added if taken.
pub fn backup_name(path: &Path) -> PathBuf {
    let base = format!("{}.bak.{}", path.display(), unix_seconds());
    let mut candidate = PathBuf::from(&base);
    let mut n = 1;
    while candidate.symlink_metadata().is_ok() {
        candidate = PathBuf::from(format!("{base}.{n}"));
        n += 1;
    }
    candidate
}

/// Keep the current content of `path` under a backup name; returns that name.
pub fn backup(path: &Path) -> Result<PathBuf> {
    let dest = backup_name(path);
    if fs::hard_link(path, &dest).is_err() {
        fs::copy(path, &dest).map_err(|e| Error::io(&dest, e))?;
        File::open(&dest)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(&dest, e))?;
    }
    sync_dir(&dest);
    Ok(dest)
}

fn sync_dir(path: &Path) {
    // Best effort: some file systems refuse to open or fsync a directory.
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Replace `path` with the bytes `write` produces, atomically. Keeps the original's permissions.
pub fn replace_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    replace_with_result(path, |w| write(w).map_err(|e| Error::io(path, e)))
}

/// [`replace_with`] for a writer that can fail with any error (bad input found half way, a
/// refused conversion): the error comes back as it is and no temp file is left.
pub fn replace_with_result(
    path: &Path,
    write: impl FnOnce(&mut (dyn Write + Send)) -> Result<()>,
) -> Result<()> {
    replace_with_result_backup(path, false, write)
}

/// [`replace_with_result`], keeping an existing `path` under a backup name when `backup_old` is
/// set: only once the new content is written and fsynced (a failed write leaves no backup).
pub fn replace_with_result_backup(
    path: &Path,
    backup_old: bool,
    write: impl FnOnce(&mut (dyn Write + Send)) -> Result<()>,
) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = dir.join(format!(".{name}.redkit-tmp.{}", std::process::id()));
    let res = (|| -> Result<()> {
        let io = |e| Error::io(path, e);
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io)?;
        if let Ok(meta) = fs::metadata(path) {
            let _ = f.set_permissions(meta.permissions());
        }
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        write(&mut w)?;
        let f = w.into_inner().map_err(|e| io(e.into_error()))?;
        f.sync_all().map_err(io)?;
        if backup_old && path.exists() {
            backup(path)?;
        }
        fs::rename(&tmp, path).map_err(io)
    })();
    if let Err(e) = res {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(path);
    Ok(())
}

/// Replace `path` with `bytes`.
pub fn replace(path: &Path, bytes: &[u8]) -> Result<()> {
    replace_with(path, |w| w.write_all(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_keeps_a_backup_and_leaves_no_temp() {
        let dir = std::env::temp_dir().join(format!("redkit-safefile-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.aof");
        fs::write(&p, b"old content").unwrap();
        let b1 = backup(&p).unwrap();
        let b2 = backup(&p).unwrap();
        assert_ne!(
            b1, b2,
            "a second backup in the same second gets its own name"
        );
        replace(&p, b"new").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new");
        assert_eq!(fs::read(&b1).unwrap(), b"old content");
        let names: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.contains("redkit-tmp")), "{names:?}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
