//! `OnnxError`: why a model could not be exported.

use std::path::PathBuf;

/// Why an ONNX export failed. Every message names the layer (and its class) or the file.
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    /// A layer class ONNX export does not know.
    #[error(
        "ONNX export: layer '{layer}' of class {class} cannot be exported; the exporter handles {supported}"
    )]
    UnsupportedLayer {
        /// The layer's name.
        layer: String,
        /// Its class.
        class: String,
        /// The classes that export (comma-separated).
        supported: String,
    },
    /// A known layer class whose configuration has no ONNX form (a mask, a stateful RNN, ...).
    #[error("ONNX export: layer '{layer}' of class {class}: {message}")]
    UnsupportedConfig {
        /// The layer's name.
        layer: String,
        /// Its class.
        class: String,
        /// What cannot be expressed.
        message: String,
    },
    /// The model has no weights yet.
    #[error("ONNX export: the model is not built; build it (Model::build / build_inputs) or train it first")]
    NotBuilt,
    /// An opset the exporter does not write.
    #[error("ONNX export: opset {requested} requested; neurite writes opsets {min} to {max}")]
    Opset {
        /// The requested version.
        requested: i64,
        /// The lowest version written.
        min: i64,
        /// The highest version written.
        max: i64,
    },
    /// The model itself is inconsistent (a weight missing or of an unexpected shape).
    #[error("ONNX export: layer '{layer}': {message}")]
    Model {
        /// The layer's name.
        layer: String,
        /// What is wrong.
        message: String,
    },
    /// Writing the file failed.
    #[error("{}: cannot write the ONNX file", path.display())]
    Io {
        /// The target file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}
