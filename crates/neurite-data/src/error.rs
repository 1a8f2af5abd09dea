//! The one error type of the crate.

use std::path::{Path, PathBuf};

/// Everything that can go wrong in `neurite-data`.
///
/// File errors always name the file, and say what was wrong with it and, where it helps, the
/// record or line (`train-images-idx3-ubyte.gz: truncated: ...`, `iris.csv: line 7: ...`).
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but its content is not what the format requires.
    #[error("{}: {message}", path.display())]
    Format {
        /// The file (or the name given to an in-memory buffer).
        path: PathBuf,
        /// What was wrong, with the record or line where it helps.
        message: String,
    },
    /// Arrays whose shapes do not fit together (e.g. 100 samples in `x`, 99 in `y`).
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A bad argument: zero batch size, more folds than samples, an index out of range, ...
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Memory for data that a file declares could not be allocated: the size is real but too
    /// large for this machine, or absurd. Reported as such, never as corrupt data.
    #[error("{}: cannot allocate {bytes} bytes for {what}: {source}", path.display())]
    Alloc {
        /// The file.
        path: PathBuf,
        /// How many bytes were asked for.
        bytes: u64,
        /// What they were for (`"the IDX data"`, ...).
        what: String,
        /// What the allocator said.
        #[source]
        source: std::collections::TryReserveError,
    },
    /// `transform` called on a scaler or encoder that was never fitted.
    #[error("{0} is not fitted yet: call fit first")]
    NotFitted(&'static str),
}

/// `Result` with [`DataError`].
pub type Result<T, E = DataError> = std::result::Result<T, E>;

impl DataError {
    pub(crate) fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    pub(crate) fn format(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        DataError::Format {
            path: path.as_ref().to_path_buf(),
            message: message.into(),
        }
    }

    pub(crate) fn alloc(
        path: impl AsRef<Path>,
        bytes: u64,
        what: &str,
        source: std::collections::TryReserveError,
    ) -> Self {
        DataError::Alloc {
            path: path.as_ref().to_path_buf(),
            bytes,
            what: what.to_string(),
            source,
        }
    }

    pub(crate) fn arg(message: impl Into<String>) -> Self {
        DataError::InvalidArgument(message.into())
    }

    pub(crate) fn shape(message: impl Into<String>) -> Self {
        DataError::Shape(message.into())
    }
}
