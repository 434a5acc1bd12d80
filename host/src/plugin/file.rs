//! Reading plugin and settings files without blocking on special files.
//!
//! Anyone who deploys can write to the plugins folder, and a FIFO or a
//! device in it would block a plain read forever. Files are opened without
//! blocking and checked to be regular files before a byte is read.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::Path;

/// The largest plugin or settings file read, in bytes. The largest real
/// components, Python ones, are about 20 MB.
pub(super) const MAX_PLUGIN_FILE_BYTES: u64 = 128 << 20;

/// Reads a regular file. Returns `None` when it does not exist, and an
/// error of kind `InvalidInput` when it is a FIFO, a folder, a device or
/// anything else that is not a regular file, or is larger than
/// [`MAX_PLUGIN_FILE_BYTES`].
pub fn read_regular_file(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    match read_existing_regular_file(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// Reads a regular file that must exist, so a missing file is the
/// operating system's own error.
pub(super) fn read_existing_regular_file(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = open_without_blocking(path)?;

    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(std::io::Error::new(
            ErrorKind::InvalidInput,
            "not a regular file; replace it with a regular file",
        ));
    }
    let too_large = || {
        std::io::Error::new(
            ErrorKind::InvalidInput,
            format!(
                "larger than the {} MiB limit for plugin files",
                MAX_PLUGIN_FILE_BYTES >> 20
            ),
        )
    };
    if metadata.len() > MAX_PLUGIN_FILE_BYTES {
        return Err(too_large());
    }

    // The file may grow between the size check and the read.
    let mut bytes = Vec::new();
    file.take(MAX_PLUGIN_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_PLUGIN_FILE_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Opens for reading. On Unix, `O_NONBLOCK` makes opening a FIFO that has
/// no writer return at once instead of waiting. It has no effect on reads
/// of regular files.
#[cfg(unix)]
fn open_without_blocking(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;

    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
}

#[cfg(not(unix))]
fn open_without_blocking(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_file_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plugin.wasm");
        std::fs::write(&path, b"bytes").unwrap();

        assert_eq!(read_regular_file(&path).unwrap(), Some(b"bytes".to_vec()));
    }

    #[test]
    fn missing_file_is_none() {
        let dir = tempfile::tempdir().unwrap();

        assert_eq!(
            read_regular_file(&dir.path().join("gone.wasm")).unwrap(),
            None
        );
    }

    #[test]
    fn folder_rejected() {
        let dir = tempfile::tempdir().unwrap();

        let error = read_regular_file(dir.path()).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn oversized_file_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.wasm");
        // A sparse file: its size is set without writing the bytes.
        let file = File::create(&path).unwrap();
        file.set_len(MAX_PLUGIN_FILE_BYTES + 1).unwrap();

        let error = read_regular_file(&path).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.to_string().contains("128 MiB"), "{error}");
    }

    #[cfg(unix)]
    #[test]
    fn fifo_rejected_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("evil.wasm");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
        )
        .unwrap();

        // A plain read of a FIFO with no writer would block this test.
        let error = read_regular_file(&fifo).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
    }
}
