//! The one error type of the crate.
//!
//! `Display` and `Error` are written by hand (no derive macro): the crate then needs no
//! proc-macro dependency, which keeps a build with default features off small.

use std::fmt;
use std::path::{Path, PathBuf};

/// Everything that can go wrong in `neurite-data`.
///
/// File errors always name the file, and say what was wrong with it and, where it helps, the
/// record or line (`train-images-idx3-ubyte.gz: truncated: ...`, `iris.csv: line 7: ...`).
#[derive(Debug)]
pub enum DataError {
    /// The file could not be opened or read.
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file was read but its content is not what the format requires.
    Format {
        /// The file (or the name given to an in-memory buffer).
        path: PathBuf,
        /// What was wrong, with the record or line where it helps.
        message: String,
    },
    /// Arrays whose shapes do not fit together (e.g. 100 samples in `x`, 99 in `y`).
    Shape(String),
    /// A bad argument: zero batch size, more folds than samples, an index out of range, ...
    InvalidArgument(String),
    /// Memory for data that a file declares could not be allocated: the size is real but too
    /// large for this machine, or absurd. Reported as such, never as corrupt data.
    Alloc {
        /// The file.
        path: PathBuf,
        /// How many bytes were asked for.
        bytes: u64,
        /// What they were for (`"the IDX data"`, ...).
        what: String,
        /// What the allocator said.
        source: std::collections::TryReserveError,
    },
    /// `transform` called on a scaler or encoder that was never fitted.
    NotFitted(&'static str),
    /// The file needs a cargo feature of `neurite-data` that this build left out (e.g. a
    /// gzip-compressed file read without the `gzip` feature).
    FeatureDisabled {
        /// The file.
        path: PathBuf,
        /// What the file needs, e.g. `"gzip decompression"`.
        what: &'static str,
        /// The cargo feature that provides it, e.g. `"gzip"`.
        feature: &'static str,
    },
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The OS error is the source (reported once, by `source()`).
            DataError::Io { path, .. } => write!(f, "{}: cannot read or write", path.display()),
            DataError::Format { path, message } => write!(f, "{}: {message}", path.display()),
            DataError::Shape(message) => write!(f, "shape mismatch: {message}"),
            DataError::InvalidArgument(message) => write!(f, "invalid argument: {message}"),
            DataError::Alloc {
                path, bytes, what, ..
            } => write!(f, "{}: cannot allocate {bytes} bytes for {what}", path.display()),
            DataError::NotFitted(what) => write!(f, "{what} is not fitted yet: call fit first"),
            DataError::FeatureDisabled { path, what, feature } => write!(
                f,
                "{}: {what} needs neurite-data's `{feature}` cargo feature, which this build leaves out",
                path.display()
            ),
        }
    }
}

impl std::error::Error for DataError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DataError::Io { source, .. } => Some(source),
            DataError::Alloc { source, .. } => Some(source),
            _ => None,
        }
    }
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

    #[cfg_attr(feature = "gzip", allow(dead_code))]
    pub(crate) fn feature_disabled(
        path: impl AsRef<Path>,
        what: &'static str,
        feature: &'static str,
    ) -> Self {
        DataError::FeatureDisabled {
            path: path.as_ref().to_path_buf(),
            what,
            feature,
        }
    }

    pub(crate) fn arg(message: impl Into<String>) -> Self {
        DataError::InvalidArgument(message.into())
    }

    pub(crate) fn shape(message: impl Into<String>) -> Self {
        DataError::Shape(message.into())
    }
}
