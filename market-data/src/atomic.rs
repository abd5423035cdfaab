//! Files written beside their target and renamed into place once complete, so a crash or an
//! error never leaves a half-written file that looks whole, and writing a file onto the one
//! being read (`convert F F`) reads the original to the end.

use crate::{Error, Result};
use std::fs::File;
use std::path::{Path, PathBuf};

/// A file being written under a temporary name beside `target`; removed unless committed.
#[derive(Debug)]
pub struct PendingFile {
    temp: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl PendingFile {
    /// Creates the temporary file for `target` and returns it with its guard.
    ///
    /// # Errors
    /// [`Error::Io`] naming `target` if the temporary file cannot be created.
    pub fn create(target: &Path) -> Result<(Self, File)> {
        let name = target
            .file_name()
            .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
        let temp = target.with_file_name(format!(".{name}.{}.partial", std::process::id()));
        let file = File::create(&temp).map_err(|source| Error::Io {
            path: target.to_path_buf(),
            source,
        })?;
        Ok((
            Self {
                temp,
                target: target.to_path_buf(),
                committed: false,
            },
            file,
        ))
    }

    /// Returns the temporary file's path, for a writer that opens the file itself.
    pub fn path(&self) -> &Path {
        &self.temp
    }

    /// Moves the complete file into place (the file handle must be closed or flushed first).
    ///
    /// # Errors
    /// [`Error::Io`] naming the target if the rename fails; the temporary file is removed.
    pub fn commit(mut self) -> Result<()> {
        std::fs::rename(&self.temp, &self.target).map_err(|source| Error::Io {
            path: self.target.clone(),
            source,
        })?;
        self.committed = true;
        Ok(())
    }
}

/// Writes `bytes` to `target` whole or not at all (see the module documentation).
///
/// # Errors
/// The I/O error, from creating, writing or renaming the file; no partial file is left.
pub fn write(target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let (pending, mut file) = PendingFile::create(target).map_err(io_error)?;
    file.write_all(bytes)?;
    drop(file);
    pending.commit().map_err(io_error)
}

/// The I/O error inside an error of this module, for a caller that names the path itself.
pub fn io_error(e: Error) -> std::io::Error {
    match e {
        Error::Io { source, .. } => source,
        other => std::io::Error::other(other.to_string()),
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn a_file_appears_only_when_committed_and_a_dropped_one_leaves_nothing() {
        let dir = std::env::temp_dir().join(format!("quant-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("out.csv");
        std::fs::write(&target, "old").unwrap();
        let (pending, mut file) = PendingFile::create(&target).unwrap();
        file.write_all(b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
        drop(file);
        pending.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        let (pending, _file) = PendingFile::create(&target).unwrap();
        drop(pending);
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "the partial file is gone"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
