//! The export entry points: a `Sequential` or functional model to an ONNX `ModelProto`,
//! its bytes, or a file written atomically.

use super::builder::GraphBuilder;
use super::convert::convert;
use super::error::OnnxError;
use super::layer_view::LayerView;
use super::proto::{
    Dimension, DimensionValue, GraphProto, ModelProto, OperatorSetIdProto, TensorShapeProto, TensorTypeProto,
    TypeProto, ValueInfoProto, DATA_TYPE_FLOAT,
};
use super::value::Value;
use crate::functional::Functional;
use crate::functional::Slot;
use crate::{Model, Sequential};
use neurite_nn::Layer;
use prost::Message;
use std::path::Path;

/// The lowest opset written (the first with `LayerNormalization`).
pub const MIN_OPSET: i64 = 17;
/// The highest opset written: every operator the exporter uses has the same signature in 17 and 18.
pub const MAX_OPSET: i64 = 18;

/// Options of an ONNX export.
///
/// ```
/// use neurite::interop::onnx::OnnxOptions;
/// let o = OnnxOptions::new().opset(18);
/// assert_eq!(o.get_opset(), 18);
/// assert_eq!(OnnxOptions::default().get_opset(), 17);
/// ```
#[derive(Clone, Debug)]
pub struct OnnxOptions {
    opset: i64,
    batch_name: String,
}

impl Default for OnnxOptions {
    fn default() -> Self {
        OnnxOptions {
            opset: MIN_OPSET,
            batch_name: "batch".to_string(),
        }
    }
}

impl OnnxOptions {
    /// Opset 17, a symbolic batch axis named `"batch"`.
    ///
    /// ```
    /// assert_eq!(neurite::interop::onnx::OnnxOptions::new().get_opset(), 17);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The ONNX opset to declare ([`MIN_OPSET`] to [`MAX_OPSET`]; others are refused at export).
    ///
    /// ```
    /// assert_eq!(neurite::interop::onnx::OnnxOptions::new().opset(18).get_opset(), 18);
    /// ```
    pub fn opset(mut self, opset: i64) -> Self {
        self.opset = opset;
        self
    }

    /// The opset that will be declared.
    ///
    /// ```
    /// assert_eq!(neurite::interop::onnx::OnnxOptions::new().opset(16).get_opset(), 16);
    /// ```
    pub fn get_opset(&self) -> i64 {
        self.opset
    }

    /// The name of the symbolic batch axis of the inputs and outputs (`"batch"`).
    ///
    /// ```
    /// let o = neurite::interop::onnx::OnnxOptions::new().batch_name("N");
    /// # let _ = o;
    /// ```
    pub fn batch_name(mut self, name: &str) -> Self {
        self.batch_name = name.to_string();
        self
    }
}

/// One layer call of the network being exported.
struct Call<'a> {
    layer: &'a dyn Layer,
    inputs: Vec<Slot>,
    output_shape: Vec<usize>,
}

/// A network flattened to calls: inputs (name, shape), calls in a topological order, outputs.
struct Plan<'a> {
    inputs: Vec<(String, Vec<usize>)>,
    calls: Vec<Call<'a>>,
    outputs: Vec<(String, Slot)>,
}

fn shape_error(layer: &dyn Layer, e: neurite_nn::NnError) -> OnnxError {
    OnnxError::Model {
        layer: layer.name().to_string(),
        message: e.to_string(),
    }
}

fn sequential_plan(model: &Sequential) -> Result<Plan<'_>, OnnxError> {
    let shape = model
        .input_shape()
        .filter(|_| model.is_built())
        .ok_or(OnnxError::NotBuilt)?;
    let layers = model.layers();
    let Some(last) = layers.last() else {
        return Err(OnnxError::NotBuilt);
    };
    let mut calls = Vec::with_capacity(layers.len());
    let mut current = shape.clone();
    for (i, layer) in layers.iter().enumerate() {
        let out = layer
            .output_shape(&current)
            .map_err(|e| shape_error(layer.as_ref(), e))?;
        let input = if i == 0 { Slot::Input(0) } else { Slot::Node(i - 1) };
        calls.push(Call {
            layer: layer.as_ref(),
            inputs: vec![input],
            output_shape: out.clone(),
        });
        current = out;
    }
    Ok(Plan {
        inputs: vec![("input".to_string(), shape)],
        outputs: vec![(last.name().to_string(), Slot::Node(layers.len() - 1))],
        calls,
    })
}

/// Runs the converters over the plan's calls and wraps the result in a `ModelProto`.
fn build_model(
    plan: &Plan<'_>,
    graph_name: &str,
    read: impl Fn(usize) -> Result<LayerView, OnnxError>,
    options: &OnnxOptions,
) -> Result<ModelProto, OnnxError> {
    if !(MIN_OPSET..=MAX_OPSET).contains(&options.opset) {
        return Err(OnnxError::Opset {
            requested: options.opset,
            min: MIN_OPSET,
            max: MAX_OPSET,
        });
    }
    let mut b = GraphBuilder::default();
    let value_info = |name: &str, shape: &[usize]| {
        let mut dim = vec![Dimension {
            value: Some(DimensionValue::DimParam(options.batch_name.clone())),
        }];
        dim.extend(shape.iter().map(|&d| Dimension {
            value: Some(DimensionValue::DimValue(d as i64)),
        }));
        ValueInfoProto {
            name: name.to_string(),
            r#type: Some(TypeProto {
                tensor_type: Some(TensorTypeProto {
                    elem_type: DATA_TYPE_FLOAT,
                    shape: Some(TensorShapeProto { dim }),
                }),
            }),
        }
    };
    for name in plan
        .inputs
        .iter()
        .map(|(n, _)| n)
        .chain(plan.outputs.iter().map(|(n, _)| n))
    {
        b.reserve(name);
    }
    let inputs: Vec<Value> = plan
        .inputs
        .iter()
        .map(|(n, s)| Value::native(n.clone(), s.clone()))
        .collect();
    let mut values: Vec<Value> = Vec::with_capacity(plan.calls.len());
    for (i, call) in plan.calls.iter().enumerate() {
        let xs: Vec<Value> = call
            .inputs
            .iter()
            .map(|s| match *s {
                Slot::Input(k) => inputs[k].clone(),
                Slot::Node(j) => values[j].clone(),
            })
            .collect();
        let view = read(i)?;
        let y = convert(&mut b, &view, xs)?;
        values.push(y);
    }
    let mut outputs = Vec::new();
    for (name, slot) in &plan.outputs {
        let v = match *slot {
            Slot::Input(k) => inputs[k].clone(),
            Slot::Node(j) => values[j].clone(),
        };
        b.layer = name.clone();
        let native = v.in_native(&mut b);
        b.node_with_outputs("Identity", &[&native], std::slice::from_ref(name), vec![]);
        outputs.push(value_info(name, &v.shape));
    }
    let graph = GraphProto {
        node: b.nodes,
        name: graph_name.to_string(),
        initializer: b.initializers,
        doc_string: String::new(),
        input: plan.inputs.iter().map(|(n, s)| value_info(n, s)).collect(),
        output: outputs,
    };
    Ok(ModelProto {
        ir_version: 8,
        producer_name: "neurite".to_string(),
        producer_version: env!("CARGO_PKG_VERSION").to_string(),
        doc_string: String::new(),
        graph: Some(graph),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: options.opset,
        }],
    })
}

fn sequential_to_onnx(model: &Sequential, options: &OnnxOptions) -> Result<ModelProto, OnnxError> {
    let plan = sequential_plan(model)?;
    let read = |i: usize| {
        let call = &plan.calls[i];
        let input = match call.inputs[0] {
            Slot::Input(_) => plan.inputs[0].1.clone(),
            Slot::Node(j) => plan.calls[j].output_shape.clone(),
        };
        Ok(LayerView::of(call.layer, vec![input], call.output_shape.clone()))
    };
    build_model(&plan, "sequential", read, options)
}

fn functional_to_onnx(model: &Functional, options: &OnnxOptions) -> Result<ModelProto, OnnxError> {
    if !model.is_built() {
        return Err(OnnxError::NotBuilt);
    }
    let graph = model.network();
    let guards = graph
        .layers
        .iter()
        .map(|l| l.read())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| OnnxError::Model {
            layer: graph.name().to_string(),
            message: e.to_string(),
        })?;
    let plan = Plan {
        inputs: graph
            .inputs
            .iter()
            .map(|i| (i.name.clone(), i.shape.clone()))
            .collect(),
        calls: graph
            .nodes
            .iter()
            .map(|n| Call {
                layer: guards[n.layer].as_ref(),
                inputs: n.inputs.clone(),
                output_shape: n.shape.clone(),
            })
            .collect(),
        outputs: graph
            .output_names()
            .into_iter()
            .zip(graph.outputs.iter().copied())
            .collect(),
    };
    let read = |i: usize| {
        let node = &graph.nodes[i];
        Ok(LayerView::of(
            plan.calls[i].layer,
            graph.node_input_shapes(node),
            node.shape.clone(),
        ))
    };
    build_model(&plan, graph.name(), read, options)
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename,
/// so the target holds either its old content or the whole new file.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), OnnxError> {
    use std::io::Write;
    let io = |source| OnnxError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file_name = path.file_name().ok_or_else(|| {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the path names no file",
        ))
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    if path.is_dir() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "the path is a directory",
        )));
    }
    let tmp = dir.join(format!(
        ".{}.{}.onnx-tmp",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

macro_rules! export_methods {
    ($ty:ty, $to_onnx:ident, $example:literal) => {
        impl $ty {
            /// The model as an ONNX `ModelProto` (inference graph: Dropout is the identity,
            /// BatchNormalization uses its moving statistics). Inputs and outputs keep neurite's
            /// layout (channels last, float32, a symbolic batch axis); the graph's inputs are
            /// named as the model's (`input` for a `Sequential`), its outputs after the layers
            /// that make them. Errors: the model is not built, a layer (named, with its class)
            /// has no ONNX form, the opset is outside 17..=18.
            ///
            #[doc = $example]
            pub fn to_onnx(
                &self,
                options: &super::OnnxOptions,
            ) -> Result<super::proto::ModelProto, OnnxError> {
                $to_onnx(self, options)
            }

            /// The ONNX file's bytes ([`Self::to_onnx`], encoded).
            ///
            /// ```
            /// use neurite::prelude::*;
            /// let mut model = Sequential::new().add(Dense::new(2).input_dim(3));
            /// model.build(&[3])?;
            /// let bytes = model.to_onnx_bytes(&neurite::interop::onnx::OnnxOptions::new())?;
            /// assert!(!bytes.is_empty());
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn to_onnx_bytes(&self, options: &super::OnnxOptions) -> Result<Vec<u8>, OnnxError> {
                Ok(self.to_onnx(options)?.encode_to_vec())
            }

            /// Writes the model as an ONNX file at `path`, atomically (a temporary file in the same
            /// folder, then a rename: an existing file is replaced whole or left as it was).
            ///
            /// ```
            /// use neurite::prelude::*;
            /// let mut model = Sequential::new().add(Dense::new(2).input_dim(3));
            /// model.build(&[3])?;
            /// let path = std::env::temp_dir().join("neurite_doc_export.onnx");
            /// model.export_onnx(&path, &neurite::interop::onnx::OnnxOptions::new())?;
            /// assert!(std::fs::metadata(&path)?.len() > 0);
            /// # std::fs::remove_file(&path)?;
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn export_onnx(
                &self,
                path: impl AsRef<Path>,
                options: &super::OnnxOptions,
            ) -> Result<(), OnnxError> {
                let bytes = self.to_onnx_bytes(options)?;
                write_atomic(path.as_ref(), &bytes)
            }
        }
    };
}

export_methods!(
    Model<crate::LayerStack>,
    sequential_to_onnx,
    "```\nuse neurite::prelude::*;\nuse neurite::interop::onnx::OnnxOptions;\nlet mut model = Sequential::new()\n    .add(Conv2D::new(4, (3, 3)).activation(Activation::Relu).input_shape([8, 8, 1]))\n    .add(Flatten::new())\n    .add(Dense::new(3).activation(Activation::Softmax));\nmodel.build(&[8, 8, 1])?;\nlet proto = model.to_onnx(&OnnxOptions::new())?;\nlet graph = proto.graph.unwrap();\nassert_eq!(graph.input[0].name, \"input\");\nassert!(graph.node.iter().any(|n| n.op_type == \"Conv\"));\n# Ok::<(), Box<dyn std::error::Error>>(())\n```"
);
export_methods!(
    Model<crate::functional::Graph>,
    functional_to_onnx,
    "```\nuse neurite::prelude::*;\nuse neurite::interop::onnx::OnnxOptions;\nlet x = Input::named(\"features\", [4]);\nlet h = Dense::new(8).activation(Activation::Relu).call(&x)?;\nlet y = Add::new().call_many(&[&Dense::new(8).call(&h)?, &h])?;\nlet mut model = Model::functional(&x, &y)?;\nmodel.build(&[4])?;\nlet graph = model.to_onnx(&OnnxOptions::new())?.graph.unwrap();\nassert_eq!(graph.input[0].name, \"features\");\nassert_eq!(graph.output[0].name, \"add_1\");\n# Ok::<(), Box<dyn std::error::Error>>(())\n```"
);
