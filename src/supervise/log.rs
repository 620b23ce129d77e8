//! The client's raw output, kept in the loop's folder: every line of stdout and stderr as
//! the client wrote it, capped in size (the full file moves to `client.log.1` and a new
//! one starts), so a run of days never fills the disk.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The size at which the log rotates.
pub(crate) const LOG_CAP: u64 = 8 * 1024 * 1024;

/// An append-only log file with one older generation.
#[derive(Debug)]
pub(crate) struct CappedLog {
    path: PathBuf,
    file: File,
    written: u64,
    cap: u64,
}

impl CappedLog {
    /// Opens (or creates, private to the user) the log at `path`, rotating at `cap` bytes.
    pub(crate) fn open(path: &Path, cap: u64) -> io::Result<CappedLog> {
        let file = open_append(path)?;
        let written = file.metadata()?.len();
        Ok(CappedLog {
            path: path.to_path_buf(),
            file,
            written,
            cap,
        })
    }

    /// Appends `line` and a line break; rotates first when the cap would be passed.
    pub(crate) fn line(&mut self, line: &str) -> io::Result<()> {
        let len = line.len() as u64 + 1;
        if self.written > 0 && self.written + len > self.cap {
            let old = rotated(&self.path);
            std::fs::rename(&self.path, &old)?;
            self.file = open_append(&self.path)?;
            self.written = 0;
        }
        self.file.write_all(line.as_bytes())?;
        self.file.write_all(b"\n")?;
        self.written += len;
        Ok(())
    }
}

/// Where the older generation of the log at `path` is.
pub(crate) fn rotated(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".1");
    path.with_file_name(name)
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_rotates_at_its_cap_and_keeps_one_older_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.log");
        let mut log = CappedLog::open(&path, 20).unwrap();
        log.line("0123456789").unwrap();
        log.line("abcdefghij").unwrap();
        log.line("third").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "abcdefghij\nthird\n"
        );
        assert_eq!(
            std::fs::read_to_string(rotated(&path)).unwrap(),
            "0123456789\n"
        );
    }

    #[test]
    fn a_symlink_at_the_log_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "keep").unwrap();
        let path = dir.path().join("client.log");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        assert!(CappedLog::open(&path, 100).is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    }
}
