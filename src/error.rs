//! The error type of the umbrella crate: every crate's error, plus model,
//! training and file errors.

use std::path::PathBuf;

/// Everything that can go wrong while building, training, saving or loading a model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A layer, loss or initializer refused its input or configuration.
    #[error(transparent)]
    Nn(#[from] neurite_nn::NnError),
    /// A graph or differentiation error.
    #[error(transparent)]
    Autograd(#[from] neurite_autograd::AutogradError),
    /// An optimizer refused its configuration or state.
    #[error(transparent)]
    Optim(#[from] neurite_optim::OptimError),
    /// A dataset or file-format error.
    #[error(transparent)]
    Data(#[from] neurite_data::DataError),
    /// A metric refused its input.
    #[error(transparent)]
    Metric(#[from] neurite_metrics::MetricError),
    /// The model is used in a way it cannot be (not compiled, no layers, bad options).
    #[error("model: {0}")]
    Model(String),
    /// `fit`, `evaluate`, `train_on_batch` or `predict_loss`-style calls on a
    /// model that was never compiled.
    #[error(
        "the model must be compiled before training or evaluation: call compile(optimizer, loss, metrics)"
    )]
    NotCompiled,
    /// `x` and `y` hold different numbers of samples.
    #[error(
        "{context}: x has {x_samples} samples (shape {x_shape:?}) but y has {y_samples} (shape {y_shape:?})"
    )]
    SampleCountMismatch {
        /// The call that checked (`"fit"`, `"evaluate"`, ...).
        context: String,
        /// Samples (length of axis 0) of `x`.
        x_samples: usize,
        /// Shape of `x`.
        x_shape: Vec<usize>,
        /// Samples (length of axis 0) of `y`.
        y_samples: usize,
        /// Shape of `y`.
        y_shape: Vec<usize>,
    },
    /// A batch size of 0 (it would silently process nothing).
    #[error("{context}: batch_size must be at least 1, found 0")]
    ZeroBatchSize {
        /// The call that checked (`"fit"`, `"predict"`, ...).
        context: String,
    },
    /// An ONNX export failed (see [`crate::interop::onnx`]).
    #[cfg(feature = "onnx")]
    #[error(transparent)]
    Onnx(#[from] crate::interop::onnx::OnnxError),
    /// The data given to `fit`, `evaluate` or `predict` does not fit the model.
    #[error("input: {0}")]
    Input(String),
    /// Data-parallel training across processes could not start or go on
    /// (MPI setup, ranks that disagree); see [`crate::distributed`].
    #[error("distributed training: {0}")]
    Distributed(String),
    /// The training loss became NaN or infinite (TerminateOnNaN, or always when unrecoverable).
    #[error("training stopped: the loss is {value} at epoch {epoch}, batch {batch}")]
    NonFiniteLoss {
        /// Epoch (0-based) in which it happened.
        epoch: usize,
        /// Batch (0-based) within the epoch.
        batch: usize,
        /// The loss value.
        value: f32,
    },
    /// Reading or writing a file failed. The message names the path; the
    /// operating system's error is the [`source`](std::error::Error::source)
    /// (printed by [`Error::report`], `{:?}`, or any error-chain printer such
    /// as anyhow's `{:#}`), so it is not repeated in the message.
    #[error("{}: cannot read or write", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A save was refused before anything was written: the path is a
    /// regular file, or a directory holding files that are not a neurite
    /// checkpoint's. Nothing at the path was changed.
    #[error("{path}: not saved: {reason}")]
    SaveRefused {
        /// Where the save was asked to write.
        path: PathBuf,
        /// Why writing there could harm what is there.
        reason: String,
    },
    /// A saved file is corrupt, truncated or does not match the model.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the layer or parameter where it helps.
        message: String,
    },
}

impl From<neurite_tensor::TensorError> for Error {
    fn from(e: neurite_tensor::TensorError) -> Self {
        Error::Autograd(e.into())
    }
}

impl Error {
    /// The message followed by the messages of its sources (the chain of
    /// [`std::error::Error::source`]), joined by `": "`: the one line to
    /// show a user, with the operating system's error of an I/O failure.
    ///
    /// ```
    /// use std::io::{Error as IoError, ErrorKind};
    /// let e = neurite::Error::Io {
    ///     path: "model/config.json".into(),
    ///     source: IoError::new(ErrorKind::PermissionDenied, "permission denied"),
    /// };
    /// assert_eq!(e.to_string(), "model/config.json: cannot read or write");
    /// assert_eq!(e.report(), "model/config.json: cannot read or write: permission denied");
    /// ```
    pub fn report(&self) -> String {
        let mut line = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            let text = cause.to_string();
            // A transparent variant's inner error may already print its source.
            if !line.ends_with(&text) {
                line.push_str(": ");
                line.push_str(&text);
            }
            source = cause.source();
        }
        line
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Result of a neurite model operation.
pub type Result<T> = std::result::Result<T, Error>;
