//! Files are opened, never followed.
//!
//! Everything ralph-hook reads or writes in a workspace may have been put there by a
//! cloned repository or by the agent, so every access goes through this module:
//!
//! - a folder is opened once, without following a symlink in its last component, and
//!   every file in it is reached from that handle (`openat`), so swapping the folder for
//!   a link after the check changes nothing;
//! - files are opened with `O_NOFOLLOW | O_NONBLOCK`: a symlink is refused, a FIFO
//!   never blocks, and the open handle must be a regular file before a byte is read;
//! - every read has a size cap;
//! - a write is a new temp file (`O_CREAT | O_EXCL`) in the same real folder, renamed
//!   over the old one, so a reader sees the old file or the new one and nothing is ever
//!   written through a link.
//!
//! Outside Unix the same calls fall back to path-based checks (best effort).

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

#[cfg(debug_assertions)]
use crate::messages;
use crate::regular_file::kind_of;

/// Why a file could not be read as what the caller expected.
#[derive(Debug)]
pub enum ReadError {
    /// Not a regular file: a symlink, a FIFO, a folder, a device … (`what` says which).
    NotRegular(&'static str),
    /// Larger than the caller's cap.
    TooBig {
        /// The cap, in bytes.
        limit: u64,
    },
    /// Any other failure.
    Io(io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::NotRegular(what) => {
                write!(
                    f,
                    "it is {what}, not a regular file; ralph-hook does not follow it"
                )
            }
            ReadError::TooBig { limit } => write!(f, "it is larger than {} KiB", limit / 1024),
            ReadError::Io(err) => write!(f, "{err}"),
        }
    }
}

/// Why a folder could not be opened as a real folder.
#[derive(Debug)]
pub enum DirError {
    /// The name is a symlink: ralph-hook keeps files only in a real folder.
    Symlink,
    /// The name is something other than a folder.
    NotADir,
    /// Any other failure (missing, permissions …).
    Io(io::Error),
}

impl std::fmt::Display for DirError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DirError::Symlink => f.write_str(
                "it is a symlink; ralph-hook keeps its files only in a real folder (remove the link, then retry)",
            ),
            DirError::NotADir => f.write_str("it is not a folder"),
            DirError::Io(err) => write!(f, "{err}"),
        }
    }
}

impl From<DirError> for io::Error {
    fn from(err: DirError) -> Self {
        match err {
            DirError::Io(err) => err,
            other => io::Error::other(other.to_string()),
        }
    }
}

/// Reads at most `cap` bytes from an open handle that must be a regular file.
fn read_capped(mut file: File, cap: u64) -> Result<Vec<u8>, ReadError> {
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular(kind_of(&meta)));
    }
    if meta.len() > cap {
        return Err(ReadError::TooBig { limit: cap });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    (&mut file)
        .take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > cap {
        return Err(ReadError::TooBig { limit: cap });
    }
    Ok(bytes)
}

/// Reads the file at `path` without hanging on a FIFO and without reading more than
/// `cap` bytes; `Ok(None)` when there is nothing there. With `follow` false a symlink
/// in the last component is refused. For paths the host hands over (a transcript) and
/// for the user's own files.
pub fn read_path(path: &Path, cap: u64, follow: bool) -> Result<Option<Vec<u8>>, ReadError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut flags = libc::O_NONBLOCK | libc::O_CLOEXEC;
        if !follow {
            flags |= libc::O_NOFOLLOW;
        }
        options.custom_flags(flags);
    }
    #[cfg(not(unix))]
    if !follow
        && path
            .symlink_metadata()
            .is_ok_and(|meta| meta.file_type().is_symlink())
    {
        return Err(ReadError::NotRegular("a symlink"));
    }
    match options.open(path) {
        Ok(file) => read_capped(file, cap).map(Some),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) if is_symlink_refusal(&err) => Err(ReadError::NotRegular("a symlink")),
        Err(err) => Err(ReadError::Io(err)),
    }
}

/// True for the error `O_NOFOLLOW` gives on a symlink (`ELOOP`; `EMLINK` on FreeBSD).
fn is_symlink_refusal(err: &io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(err.raw_os_error(), Some(libc::ELOOP) | Some(libc::EMLINK))
    }
    #[cfg(not(unix))]
    {
        let _ = err;
        false
    }
}

/// A real folder, held open: every file operation below happens relative to it.
#[derive(Debug)]
pub struct Dir {
    path: PathBuf,
    #[cfg(unix)]
    fd: std::os::fd::OwnedFd,
}

#[cfg(unix)]
mod sys {
    //! The few `*at` calls, through rustix.
    pub(super) use rustix::fs::{AtFlags, Mode, OFlags};

    /// Permission bits as rustix wants them (`mode_t` is narrower on some systems).
    #[allow(clippy::unnecessary_cast)]
    pub(super) fn mode(bits: u32) -> Mode {
        Mode::from_raw_mode(bits as rustix::fs::RawMode)
    }

    /// Flags every open here carries.
    pub(super) fn base() -> OFlags {
        OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK
    }
}

impl Dir {
    /// Opens the folder at `path`; a symlink as its last component is refused.
    pub fn open(path: &Path) -> Result<Dir, DirError> {
        #[cfg(unix)]
        {
            use sys::*;
            let fd = rustix::fs::openat(
                rustix::fs::CWD,
                path,
                base() | OFlags::RDONLY | OFlags::DIRECTORY,
                Mode::empty(),
            )
            .map_err(|err| dir_error(err.into(), || is_link(rustix::fs::CWD, path)))?;
            Ok(Dir {
                path: path.to_path_buf(),
                fd,
            })
        }
        #[cfg(not(unix))]
        {
            let meta = path.symlink_metadata().map_err(DirError::Io)?;
            if meta.file_type().is_symlink() {
                return Err(DirError::Symlink);
            }
            if !meta.is_dir() {
                return Err(DirError::NotADir);
            }
            Ok(Dir {
                path: path.to_path_buf(),
            })
        }
    }

    /// The folder's path (for messages, and for reading its listing).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the sub-folder `name` (one path component); `Ok(None)` when it is missing.
    pub fn child(&self, name: &str) -> Result<Option<Dir>, DirError> {
        #[cfg(unix)]
        {
            use sys::*;
            match rustix::fs::openat(
                &self.fd,
                name,
                base() | OFlags::RDONLY | OFlags::DIRECTORY,
                Mode::empty(),
            ) {
                Ok(fd) => Ok(Some(Dir {
                    path: self.path.join(name),
                    fd,
                })),
                Err(rustix::io::Errno::NOENT) => Ok(None),
                Err(err) => Err(dir_error(err.into(), || is_link(&self.fd, name))),
            }
        }
        #[cfg(not(unix))]
        match Dir::open(&self.path.join(name)) {
            Ok(dir) => Ok(Some(dir)),
            Err(DirError::Io(err)) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Opens the sub-folder `name`, creating it (with `mode`) when missing. Returns the
    /// folder and whether this call created it.
    pub fn child_or_create(&self, name: &str, mode: u32) -> Result<(Dir, bool), DirError> {
        if let Some(dir) = self.child(name)? {
            return Ok((dir, false));
        }
        #[cfg(unix)]
        let made = rustix::fs::mkdirat(&self.fd, name, sys::mode(mode)).map_err(io::Error::from);
        #[cfg(not(unix))]
        let made = {
            let _ = mode;
            std::fs::create_dir(self.path.join(name))
        };
        let created = match made {
            Ok(()) => true,
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => false,
            Err(err) => return Err(DirError::Io(err)),
        };
        match self.child(name)? {
            Some(dir) => Ok((dir, created)),
            None => Err(DirError::Io(io::Error::from(io::ErrorKind::NotFound))),
        }
    }

    /// Opens `path` as a folder, creating it and its parents (each with `mode`) first.
    pub fn create_all(path: &Path, mode: u32) -> Result<Dir, DirError> {
        match Dir::open(path) {
            Ok(dir) => return Ok(dir),
            Err(DirError::Io(err)) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(mode);
        }
        #[cfg(not(unix))]
        let _ = mode;
        builder.create(path).map_err(DirError::Io)?;
        Dir::open(path)
    }

    #[cfg(unix)]
    fn open_file(&self, name: &str, flags: sys::OFlags, mode: u32) -> io::Result<File> {
        let fd = rustix::fs::openat(&self.fd, name, sys::base() | flags, sys::mode(mode))?;
        Ok(File::from(fd))
    }

    /// Reads `name` (a regular file, at most `cap` bytes); `Ok(None)` when missing.
    pub fn read(&self, name: &str, cap: u64) -> Result<Option<Vec<u8>>, ReadError> {
        #[cfg(unix)]
        {
            match self.open_file(name, sys::OFlags::RDONLY, 0) {
                Ok(file) => read_capped(file, cap).map(Some),
                Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(err) if is_symlink_refusal(&err) => Err(ReadError::NotRegular("a symlink")),
                Err(err) => Err(ReadError::Io(err)),
            }
        }
        #[cfg(not(unix))]
        read_path(&self.path.join(name), cap, false)
    }

    /// True when something (of any kind, a link included) is at `name`.
    pub fn exists(&self, name: &str) -> bool {
        #[cfg(unix)]
        {
            rustix::fs::statat(&self.fd, name, sys::AtFlags::SYMLINK_NOFOLLOW).is_ok()
        }
        #[cfg(not(unix))]
        self.path.join(name).symlink_metadata().is_ok()
    }

    /// Replaces `name` with `bytes` atomically: a new temp file `.<name>.<random>.tmp`
    /// in this folder, renamed over `name`. `points` names the pause points of the
    /// crash tests (`<points>:temp-created` …), `None` for none.
    pub fn write_atomic(
        &self,
        name: &str,
        bytes: &[u8],
        mode: u32,
        points: Option<&str>,
    ) -> io::Result<()> {
        let temp = format!(".{}.{}.tmp", name.trim_end_matches(".json"), random_hex());
        let pause = |point: &str| {
            if let Some(prefix) = points {
                pause_point(&format!("{prefix}:{point}"));
            }
        };
        #[cfg(unix)]
        let mut file = self.open_file(
            &temp,
            sys::OFlags::WRONLY | sys::OFlags::CREATE | sys::OFlags::EXCL,
            mode,
        )?;
        #[cfg(not(unix))]
        let mut file = {
            let _ = mode;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(self.path.join(&temp))?
        };
        pause("temp-created");
        // Debug builds write in two halves, so the crash tests can stop between them.
        let half = if cfg!(debug_assertions) {
            bytes.len() / 2
        } else {
            bytes.len()
        };
        let (head, tail) = bytes.split_at(half);
        let written = file
            .write_all(head)
            .inspect(|()| pause("half-written"))
            .and_then(|()| {
                if tail.is_empty() {
                    Ok(())
                } else {
                    file.write_all(tail)
                }
            })
            .inspect(|()| pause("before-rename"));
        drop(file);
        let renamed = written.and_then(|()| self.replace(&temp, name));
        match renamed {
            Ok(old) => {
                pause("after-rename");
                if let Some(old) = old {
                    let _ = self.remove(&old);
                }
                Ok(())
            }
            Err(err) => {
                let _ = self.remove(&temp);
                Err(err)
            }
        }
    }

    /// Puts `temp` in `name`'s place in one step. On Linux, when `name` is a regular
    /// file the two are exchanged (`renameat2(RENAME_EXCHANGE)`) and the old file, now
    /// at `temp`, is returned for the caller to remove: ext4 flushes a file's data when
    /// a rename replaces another (its `auto_da_alloc` heuristic; about 0.15 ms a write,
    /// measured on the bench machine), and an exchange does not. A reader sees the old
    /// file or the new one either way.
    fn replace(&self, temp: &str, name: &str) -> io::Result<Option<String>> {
        #[cfg(target_os = "linux")]
        {
            let regular = rustix::fs::statat(&self.fd, name, sys::AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|stat| rustix::fs::FileType::from_raw_mode(stat.st_mode).is_file());
            if regular {
                match rustix::fs::renameat_with(
                    &self.fd,
                    temp,
                    &self.fd,
                    name,
                    rustix::fs::RenameFlags::EXCHANGE,
                ) {
                    Ok(()) => return Ok(Some(temp.to_string())),
                    // Not supported here (an old kernel, another file system), or the
                    // file went meanwhile: a plain rename does it.
                    Err(
                        rustix::io::Errno::INVAL
                        | rustix::io::Errno::NOSYS
                        | rustix::io::Errno::NOENT
                        | rustix::io::Errno::OPNOTSUPP,
                    ) => {}
                    Err(err) => return Err(err.into()),
                }
            }
        }
        self.rename(temp, name).map(|()| None)
    }

    /// Appends `bytes` to the regular file `name`, creating it (with `mode`).
    pub fn append(&self, name: &str, bytes: &[u8], mode: u32) -> io::Result<()> {
        #[cfg(unix)]
        let mut file = self.open_file(
            name,
            sys::OFlags::WRONLY | sys::OFlags::APPEND | sys::OFlags::CREATE,
            mode,
        )?;
        #[cfg(not(unix))]
        let mut file = {
            let _ = mode;
            std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(self.path.join(name))?
        };
        self.check_regular(&file, name, "")?;
        file.write_all(bytes)
    }

    /// Refuses an opened `name` that is not a regular file (`what` names its role).
    fn check_regular(&self, file: &File, name: &str, what: &str) -> io::Result<()> {
        let meta = file.metadata()?;
        if meta.is_file() {
            return Ok(());
        }
        Err(io::Error::other(format!(
            "{what}{} is {}, not a regular file",
            self.path.join(name).display(),
            kind_of(&meta)
        )))
    }

    /// Opens (creating) the regular file `name` for locking.
    pub fn lock_file(&self, name: &str, mode: u32) -> io::Result<File> {
        #[cfg(unix)]
        let file = self.open_file(name, sys::OFlags::RDWR | sys::OFlags::CREATE, mode)?;
        #[cfg(not(unix))]
        let file = {
            let _ = mode;
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(self.path.join(name))?
        };
        self.check_regular(&file, name, "the lock ")?;
        Ok(file)
    }

    /// Renames `from` to `to` inside this folder (either may be any kind of entry; a
    /// link is renamed, never followed).
    pub fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        #[cfg(unix)]
        {
            rustix::fs::renameat(&self.fd, from, &self.fd, to).map_err(Into::into)
        }
        #[cfg(not(unix))]
        std::fs::rename(self.path.join(from), self.path.join(to))
    }

    /// Removes the entry `name` (a file or a link, never what a link points at).
    /// `Ok(false)` when there was nothing.
    pub fn remove(&self, name: &str) -> io::Result<bool> {
        #[cfg(unix)]
        let removed =
            rustix::fs::unlinkat(&self.fd, name, sys::AtFlags::empty()).map_err(io::Error::from);
        #[cfg(not(unix))]
        let removed = std::fs::remove_file(self.path.join(name));
        match removed {
            Ok(()) => Ok(true),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Removes the sub-folder `name` if it is empty; `Ok(false)` when it is not (or
    /// is gone).
    pub fn remove_empty_dir(&self, name: &str) -> io::Result<bool> {
        #[cfg(unix)]
        let removed =
            rustix::fs::unlinkat(&self.fd, name, sys::AtFlags::REMOVEDIR).map_err(io::Error::from);
        #[cfg(not(unix))]
        let removed = std::fs::remove_dir(self.path.join(name));
        match removed {
            Ok(()) => Ok(true),
            Err(err)
                if err.kind() == io::ErrorKind::NotFound
                    || err.kind() == io::ErrorKind::DirectoryNotEmpty =>
            {
                Ok(false)
            }
            #[cfg(unix)]
            Err(err) if err.raw_os_error() == Some(libc::EEXIST) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Names of the entries (for sweeping temp files; best effort).
    pub fn names(&self) -> Vec<String> {
        std::fs::read_dir(&self.path)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// When `name` (not followed) was last modified.
    pub fn modified(&self, name: &str) -> Option<std::time::SystemTime> {
        #[cfg(unix)]
        {
            let stat = rustix::fs::statat(&self.fd, name, sys::AtFlags::SYMLINK_NOFOLLOW).ok()?;
            let secs = u64::try_from(stat.st_mtime).ok()?;
            Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        }
        #[cfg(not(unix))]
        self.path
            .join(name)
            .symlink_metadata()
            .and_then(|meta| meta.modified())
            .ok()
    }
}

/// The error of opening a folder with `O_NOFOLLOW | O_DIRECTORY`. Linux answers a
/// symlink with `ENOTDIR` (the link itself is no folder), so `ENOTDIR` asks `is_link`.
#[cfg(unix)]
fn dir_error(err: io::Error, is_link: impl FnOnce() -> bool) -> DirError {
    match err.raw_os_error() {
        Some(libc::ELOOP) | Some(libc::EMLINK) => DirError::Symlink,
        Some(libc::ENOTDIR) if is_link() => DirError::Symlink,
        Some(libc::ENOTDIR) => DirError::NotADir,
        _ => DirError::Io(err),
    }
}

/// True when `name` under `dir` is a symlink (not followed).
#[cfg(unix)]
fn is_link<Fd: std::os::fd::AsFd, P: rustix::path::Arg>(dir: Fd, name: P) -> bool {
    rustix::fs::statat(dir, name, sys::AtFlags::SYMLINK_NOFOLLOW)
        .is_ok_and(|stat| rustix::fs::FileType::from_raw_mode(stat.st_mode).is_symlink())
}

/// Sixteen random hex digits, for temp file names and loop ids (not a secret: `O_EXCL`
/// makes a temp name's collision an error, never a shared file). Each `RandomState` has
/// fresh keys (random per process, then counted up), so no two calls in any two
/// processes are likely to agree.
pub fn random_hex() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}

/// Environment variable read by debug builds only: the name of a point on the write
/// path where the process stops (see [`pause_point`]).
pub const PAUSE_AT_ENV: &str = "RALPH_HOOK_TEST_PAUSE_AT";

/// For the crash-safety tests: in a debug build, when `RALPH_HOOK_TEST_PAUSE_AT` names
/// this point, the process says `ralph-hook: paused at <point>` on stderr and sleeps,
/// so a test can kill -9 it at exactly that point of the write path. Release builds
/// compile this to nothing.
#[cfg(debug_assertions)]
pub fn pause_point(point: &str) {
    if std::env::var(PAUSE_AT_ENV).is_ok_and(|wanted| wanted == point) {
        messages::warn(format!("paused at {point}"));
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
}

/// Release builds: nothing.
#[cfg(not(debug_assertions))]
pub fn pause_point(_point: &str) {}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn a_symlinked_file_or_folder_is_refused_and_its_target_untouched() {
        let temp = tempfile::tempdir().unwrap();
        let outside = temp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("f"), "secret").unwrap();
        let ws = temp.path().join("ws");
        std::fs::create_dir(&ws).unwrap();
        symlink(&outside, ws.join(".codex")).unwrap();
        symlink(outside.join("f"), ws.join("link")).unwrap();
        let dir = Dir::open(&ws).unwrap();
        assert!(matches!(dir.child(".codex"), Err(DirError::Symlink)));
        assert!(matches!(
            dir.read("link", 100),
            Err(ReadError::NotRegular("a symlink"))
        ));
        dir.write_atomic("link", b"new", 0o644, None).unwrap();
        assert_eq!(
            std::fs::read_to_string(outside.join("f")).unwrap(),
            "secret"
        );
        assert!(dir.append("other", b"x", 0o644).is_ok());
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let temp = tempfile::tempdir().unwrap();
        let fifo = temp.path().join("fifo");
        let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo only creates a file at a valid, NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let dir = Dir::open(temp.path()).unwrap();
        assert!(matches!(
            dir.read("fifo", 100),
            Err(ReadError::NotRegular("a FIFO"))
        ));
        assert!(matches!(
            read_path(&fifo, 100, true),
            Err(ReadError::NotRegular("a FIFO"))
        ));
        assert!(dir.append("fifo", b"x", 0o644).is_err());
    }

    #[test]
    fn reads_stop_at_the_cap() {
        let temp = tempfile::tempdir().unwrap();
        std::fs::write(temp.path().join("big"), vec![b'x'; 2048]).unwrap();
        let dir = Dir::open(temp.path()).unwrap();
        assert!(matches!(
            dir.read("big", 1024),
            Err(ReadError::TooBig { limit: 1024 })
        ));
        assert_eq!(dir.read("big", 4096).unwrap().unwrap().len(), 2048);
        assert!(dir.read("missing", 10).unwrap().is_none());
    }
}
