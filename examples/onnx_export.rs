//! ONNX export: trains a small CNN on scikit-learn's 8x8 digits (embedded, no download) for a
//! few epochs, or loads a saved neurite model (`--model DIR`), writes it as an ONNX file
//! (opset 17, NHWC input as `predict` takes), reads the file back and prints a summary of the
//! graph (inputs, outputs, operators), then the JSON line.
//!
//! ```text
//! cargo run --release --example onnx_export [-- --epochs 3 --out digits.onnx]
//! cargo run --release --example onnx_export -- --model saved_model_dir --out model.onnx
//! ```
//!
//! Running the file is left to an ONNX runtime (onnxruntime, tract, ...); `tests/onnx_export.rs`
//! runs exported models in tract and compares them with `predict`.

mod common;

use common::{round_to, timed_fit, timing_fields, Args};
use neurite::interop::onnx::proto::{DimensionValue, ModelProto, ValueInfoProto};
use neurite::interop::onnx::OnnxOptions;
use neurite::prelude::*;
use prost::Message;
use std::collections::BTreeMap;

fn shape_of(v: &ValueInfoProto) -> String {
    let dims = v
        .r#type
        .as_ref()
        .and_then(|t| t.tensor_type.as_ref())
        .and_then(|t| t.shape.as_ref())
        .map(|s| {
            s.dim
                .iter()
                .map(|d| match &d.value {
                    Some(DimensionValue::DimValue(n)) => n.to_string(),
                    Some(DimensionValue::DimParam(p)) => p.clone(),
                    None => "?".into(),
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    format!("{} ({})", v.name, dims.join(", "))
}

/// Prints the graph's inputs, outputs, operator counts and weights; returns the operator counts.
fn print_graph(proto: &ModelProto) -> BTreeMap<String, usize> {
    let graph = proto.graph.as_ref().expect("an exported model has a graph");
    let mut ops = BTreeMap::new();
    for node in &graph.node {
        *ops.entry(node.op_type.clone()).or_insert(0) += 1;
    }
    let weights: usize = graph.initializer.iter().map(|t| t.raw_data.len() / 4).sum();
    println!(
        "ONNX graph '{}', opset {}",
        graph.name, proto.opset_import[0].version
    );
    for i in &graph.input {
        println!("  input  {}", shape_of(i));
    }
    for o in &graph.output {
        println!("  output {}", shape_of(o));
    }
    println!("  {} nodes: {ops:?}", graph.node.len());
    println!("  {} initializers, {weights} numbers", graph.initializer.len());
    ops
}

/// The JSON fields of a run that trained nothing (`--model`).
fn loaded_fields() -> serde_json::Map<String, serde_json::Value> {
    let mut line = serde_json::Map::new();
    line.insert("example".into(), "onnx_export".into());
    line.insert("epochs".into(), 0.into());
    line
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse(
        "onnx_export",
        &[
            ("epochs", "N"),
            ("seed", "N"),
            ("model", "DIR"),
            ("out", "FILE"),
            ("opset", "N"),
        ],
    );
    let epochs: usize = args.number("epochs", 3);
    let seed: u64 = args.number("seed", 42);
    let opset: i64 = args.number("opset", 17);
    let out = args.string(
        "out",
        &std::env::temp_dir().join("neurite_digits.onnx").to_string_lossy(),
    );
    let options = OnnxOptions::new().opset(opset);

    let mut line;
    let proto = match args.string("model", "").as_str() {
        "" => {
            let digits = neurite::data::digits::load();
            let (train, test) = digits.stratified_train_test_split(0.2, seed)?;
            let mut model = Sequential::new()
                .seed(seed)
                .add(
                    Conv2D::new(16, (3, 3))
                        .padding(Padding::Same)
                        .input_shape([8, 8, 1]),
                )
                .add(BatchNormalization::new())
                .add(ReLU::new())
                .add(MaxPooling2D::new((2, 2)))
                .add(
                    Conv2D::new(32, (3, 3))
                        .padding(Padding::Same)
                        .activation(Activation::Relu),
                )
                .add(GlobalAveragePooling2D::new())
                .add(Dropout::new(0.2))
                .add(Dense::new(10).activation(Activation::Softmax));
            model.compile(
                Adam::new(0.01),
                Loss::sparse_categorical_crossentropy(),
                &[Metric::Accuracy],
            )?;
            let fit = FitOptions::new().epochs(epochs).batch_size(32).verbose(0);
            let (history, seconds) = timed_fit(&mut model, &train.x, &train.y, fit)?;
            let scores = model.evaluate(&test.x, &test.y)?;
            println!("trained {epochs} epochs: test accuracy {:.4}", scores["accuracy"]);
            model.export_onnx(&out, &options)?;
            line = timing_fields("onnx_export", history.epochs.len(), seconds, train.len());
            line.insert("test_accuracy".into(), round_to(scores["accuracy"], 4).into());
            model.to_onnx(&options)?
        }
        dir => match Sequential::load(dir) {
            Ok(model) => {
                model.export_onnx(&out, &options)?;
                line = loaded_fields();
                model.to_onnx(&options)?
            }
            Err(_) => {
                let model = Functional::load(dir)?;
                model.export_onnx(&out, &options)?;
                line = loaded_fields();
                model.to_onnx(&options)?
            }
        },
    };
    // Read the written file back: the same message as the one exported.
    let bytes = std::fs::read(&out)?;
    let reread = ModelProto::decode(bytes.as_slice())?;
    assert_eq!(reread, proto, "the file decodes to the exported graph");
    println!("wrote {out} ({} bytes)", bytes.len());
    let ops = print_graph(&reread);
    line.insert("onnx_file".into(), out.clone().into());
    line.insert("onnx_bytes".into(), bytes.len().into());
    line.insert("onnx_nodes".into(), ops.values().sum::<usize>().into());
    line.insert("opset".into(), opset.into());
    common::print_json(serde_json::Value::Object(line));
    Ok(())
}
