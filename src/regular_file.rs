//! Opening a file ralph-hook reads but does not write — a host's transcript, the user's
//! config — so that whatever sits at the path cannot hang or flood a hook: a FIFO does not
//! block the open, a device or directory is refused, and where asked a symbolic link is
//! not followed. The checks are made on the open handle, so swapping the path between a
//! check and the open changes nothing.

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::path::Path;

/// Whether the last component of the path may be a symbolic link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Links {
    /// Follow it: the user's own files, which dotfile managers often link into place.
    Follow,
    /// Refuse it: files named by someone else, such as a transcript path in a payload.
    Refuse,
}

/// Opens `path` for reading, non-blocking, and returns it with its metadata when it is a
/// regular file. Anything else is an `InvalidInput` error that says what was found.
pub(crate) fn open(path: &Path, links: Links) -> io::Result<(File, Metadata)> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Non-blocking: opening a FIFO for reading would otherwise wait for a writer.
        let mut flags = libc::O_NONBLOCK;
        if links == Links::Refuse {
            flags |= libc::O_NOFOLLOW;
        }
        options.custom_flags(flags);
    }
    #[cfg(not(unix))]
    if links == Links::Refuse && std::fs::symlink_metadata(path)?.file_type().is_symlink() {
        return Err(symlink_refused());
    }
    let file = match options.open(path) {
        Ok(file) => file,
        #[cfg(unix)]
        Err(err) if links == Links::Refuse && err.raw_os_error() == Some(libc::ELOOP) => {
            return Err(symlink_refused());
        }
        Err(err) => return Err(err),
    };
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a regular file ({})", kind_of(&metadata)),
        ));
    }
    Ok((file, metadata))
}

fn symlink_refused() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "a symbolic link, which is not followed here",
    )
}

/// What a non-regular file is, for messages: "a folder", "a FIFO" … One wording for every
/// place that refuses one (this module and the loop core's `engine::files`).
pub(crate) fn kind_of(metadata: &Metadata) -> &'static str {
    let file_type = metadata.file_type();
    if file_type.is_dir() {
        return "a directory";
    }
    if file_type.is_symlink() {
        return "a symlink";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_socket() {
            return "a socket";
        }
        if file_type.is_block_device() || file_type.is_char_device() {
            return "a device";
        }
    }
    "not a regular file"
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn a_regular_file_opens_and_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "hello").unwrap();
        let (mut file, metadata) = open(&path, Links::Refuse).unwrap();
        assert_eq!(metadata.len(), 5);
        let mut text = String::new();
        file.read_to_string(&mut text).unwrap();
        assert_eq!(text, "hello");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_refused_or_followed_as_asked() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "x").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = open(&link, Links::Refuse).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(open(&link, Links::Follow).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_without_a_writer_is_refused_without_hanging() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        for links in [Links::Refuse, Links::Follow] {
            let err = open(&fifo, links).unwrap_err();
            assert!(err.to_string().contains("FIFO"), "{err}");
        }
    }

    #[test]
    fn a_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = open(dir.path(), Links::Follow).unwrap_err();
        assert!(err.to_string().contains("directory"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_device_is_refused() {
        let err = open(Path::new("/dev/zero"), Links::Follow).unwrap_err();
        assert!(err.to_string().contains("device"), "{err}");
    }
}
