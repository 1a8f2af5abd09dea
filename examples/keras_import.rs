//! Keras import: loads a Keras 3 `.keras` file (Sequential or functional, the layers neurite
//! has), prints its summary, predicts on the `.npy` input(s) and writes the predictions as a
//! float32 `.npy` file, so a model from Keras can be checked end to end against Keras' own
//! `model.predict`. A model with several inputs takes one `.npy` per input, in order.
//!
//! ```text
//! cargo run --release --example keras_import -- MODEL.keras INPUT.npy [INPUT2.npy ...] OUTPUT.npy
//! cargo run --release --example keras_import -- tests/fixtures/keras/cnn.keras \
//!     tests/fixtures/keras/cnn.input0.npy /tmp/cnn.neurite.npy
//! ```
//!
//! The last line is a JSON object: the model's class, layers and parameters, the input and
//! output shapes and the prediction time.

use neurite::interop::keras::{self, KerasModel};
use neurite::Arrays;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        return Err("usage: keras_import MODEL.keras INPUT.npy [INPUT2.npy ...] OUTPUT.npy".into());
    }
    let (model_path, rest) = args.split_first().expect("three arguments");
    let (output_path, input_paths) = rest.split_last().expect("two arguments");
    let model = keras::load_model(model_path)?;
    println!("{}", model.summary());
    let inputs = input_paths
        .iter()
        .map(neurite::data::npy::read)
        .collect::<Result<Vec<_>, _>>()?;
    let refs: Vec<&neurite::tensor::Tensor> = inputs.iter().collect();
    let arrays: Arrays = if refs.len() == 1 {
        refs[0].into()
    } else {
        refs.into()
    };
    let start = Instant::now();
    let predictions = model.predict(arrays)?;
    let seconds = start.elapsed().as_secs_f64();
    neurite::data::npy::write(output_path, &predictions)?;
    let (class_name, (trainable, frozen), layers) = match &model {
        KerasModel::Sequential(m) => (
            "Sequential",
            m.count_params(),
            m.config_json()["config"]["layers"].as_array().map_or(0, Vec::len),
        ),
        KerasModel::Functional(m) => (
            "Functional",
            m.count_params(),
            m.config_json()["config"]["layers"].as_array().map_or(0, Vec::len),
        ),
    };
    let samples = inputs
        .first()
        .map_or(0, |x| x.shape().first().copied().unwrap_or(0));
    println!(
        "{}",
        serde_json::json!({
            "example": "keras_import",
            "model": model_path,
            "class_name": class_name,
            "layers": layers,
            "params": trainable + frozen,
            "input_shapes": inputs.iter().map(|x| x.shape().to_vec()).collect::<Vec<_>>(),
            "output_shape": predictions.shape(),
            "output": output_path,
            "seconds": seconds,
            "predict_samples_per_sec": if seconds > 0.0 { samples as f64 / seconds } else { 0.0 },
        })
    );
    Ok(())
}
