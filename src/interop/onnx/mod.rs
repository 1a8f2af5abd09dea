//! ONNX export of inference graphs (feature `onnx`, on by default).
//!
//! [`Sequential`](crate::Sequential) and [`Functional`](crate::functional::Functional) models get
//! `to_onnx`, `to_onnx_bytes` and `export_onnx` (an atomic file write). The file declares
//! opset 17 (or 18, [`OnnxOptions::opset`]) and keeps neurite's data layout: inputs and
//! outputs are float32, batch first, channels last (`NHWC` images, `(batch, steps, features)`
//! sequences), as `predict` takes and returns them. Inside, convolutions and poolings run
//! channels-first with a `Transpose` only where the layout changes.
//!
//! Each layer class has a converter ([`SUPPORTED_CLASSES`] lists them); a layer without one,
//! or a configuration ONNX cannot express (a mask, an attention mask input, a recurrent
//! activation other than sigmoid/tanh/relu), is an [`OnnxError`] naming the layer and class.
//! The protobuf messages are written by hand ([`proto`]) from the official `onnx.proto`, so
//! no `protoc` is needed.
//!
//! ```
//! use neurite::prelude::*;
//! use neurite::interop::onnx::OnnxOptions;
//! let mut model = Sequential::new()
//!     .add(Dense::new(8).activation(Activation::Relu).input_dim(4))
//!     .add(Dropout::new(0.5))
//!     .add(Dense::new(3).activation(Activation::Softmax));
//! model.build(&[4])?;
//! let proto = model.to_onnx(&OnnxOptions::new())?;
//! let ops: Vec<&str> = proto.graph.as_ref().unwrap().node.iter().map(|n| n.op_type.as_str()).collect();
//! assert_eq!(ops, ["MatMul", "Add", "Relu", "MatMul", "Add", "Softmax", "Identity"]);
//! # Ok::<(), neurite::Error>(())
//! ```

mod builder;
mod convert;
mod error;
mod export;
mod layer_view;
pub mod proto;
mod value;

pub use convert::SUPPORTED_CLASSES;
pub use error::OnnxError;
pub use export::{OnnxOptions, MAX_OPSET, MIN_OPSET};
