//! A small residual CNN (issue 16) on MNIST, written with the functional API:
//! a Conv-BN-ReLU stem, four residual blocks (16, 16, 32 stride 2, 32
//! channels; a 1x1 Conv-BN projection on the skip where the shape changes),
//! global average pooling and Dense(10, softmax). Adam, sparse categorical
//! cross-entropy, batch 64.
//!
//! ```text
//! cargo run --release --example resnet -- --data data/mnist --epochs 2
//! ```
//! `--data` is a folder holding the four MNIST IDX files (raw or .gz; how to
//! download them: `docs/data.md`, "Getting MNIST");
//! `--limit N` trains on the first N training images (for a quick run);
//! `--dtype-policy mixed_bfloat16` trains with bf16 products. The test set is
//! evaluated after every epoch; the JSON line lists those accuracies
//! (`test_accuracy_per_epoch`). The model is the `resnet-train` /
//! `resnet-predict` workload of `cargo xtask bench --e2e` (`benches/src/bin/e2e.rs`).

mod common;

use common::{confusion_table, data_dir, finish, round_to, Args, MNIST_HOW_TO_GET};
use neurite::prelude::*;

/// `Conv2D(filters, k x k, strides, same, no bias)` then `BatchNormalization`, with
/// a ReLU after it when `relu`.
fn conv_bn(
    x: &SymbolicTensor,
    filters: usize,
    kernel: usize,
    stride: usize,
    relu: bool,
) -> neurite::Result<SymbolicTensor> {
    let y = Conv2D::new(filters, (kernel, kernel))
        .strides((stride, stride))
        .padding(Padding::Same)
        .use_bias(false)
        .call(x)?;
    let y = BatchNormalization::new().call(&y)?;
    if relu {
        ReLU::new().call(&y)
    } else {
        Ok(y)
    }
}

/// The residual network of issue 16, on 28x28x1 images, 10 classes.
fn resnet() -> neurite::Result<Functional> {
    let inputs = Input::new([28, 28, 1]);
    let mut x = conv_bn(&inputs, 16, 3, 1, true)?;
    let mut channels = 16;
    for (filters, stride) in [(16, 1), (16, 1), (32, 2), (32, 1)] {
        let y = conv_bn(&x, filters, 3, stride, true)?;
        let y = conv_bn(&y, filters, 3, 1, false)?;
        let skip = if stride == 1 && channels == filters {
            x
        } else {
            conv_bn(&x, filters, 1, stride, false)?
        };
        x = ReLU::new().call(&Add::new().call_many(&[&skip, &y])?)?;
        channels = filters;
    }
    let x = GlobalAveragePooling2D::new().call(&x)?;
    let outputs = Dense::new(10).activation(Activation::Softmax).call(&x)?;
    Model::functional(&inputs, &outputs)
}

fn main() -> neurite::Result<()> {
    let args = Args::parse(
        "resnet",
        &[
            ("data", "DIR"),
            ("epochs", "N"),
            ("batch-size", "N"),
            ("limit", "N"),
            ("seed", "N"),
            ("dtype-policy", "float32|mixed_bfloat16"),
        ],
    );
    let epochs: usize = args.number("epochs", 2);
    let batch_size: usize = args.number("batch-size", 64);
    let limit: usize = args.number("limit", usize::MAX);
    let seed: u64 = args.number("seed", 0);
    let policy: DtypePolicy = args.string("dtype-policy", "float32").parse()?;

    let dir = data_dir(
        "resnet",
        &args.string("data", "data/mnist"),
        &[
            "train-images-idx3-ubyte",
            "train-images-idx3-ubyte.gz",
            "train-images.idx3-ubyte",
        ],
        MNIST_HOW_TO_GET,
    );
    let (mut train, test) = neurite::data::mnist::load(&dir)?; // x: (n, 28, 28, 1) in [0, 1]
    if limit < train.len() {
        train = train.subset(&(0..limit).collect::<Vec<_>>())?;
    }
    println!("MNIST: {} training and {} test images", train.len(), test.len());

    let mut model = resnet()?.seed(seed).dtype_policy(policy);
    model.compile(
        Adam::default(),
        Loss::SparseCategoricalCrossentropy { from_logits: false },
        &[Metric::Accuracy],
    )?;
    model.print_summary();

    let options = FitOptions::new()
        .epochs(epochs)
        .batch_size(batch_size)
        .validation_data(&test.x, &test.y);
    let start = std::time::Instant::now();
    let history = model.fit(&train.x, &train.y, options)?;
    let seconds = start.elapsed().as_secs_f64();
    let scores = model.evaluate(&test.x, &test.y)?;
    let pred = model.predict(&test.x)?;
    println!("{}", confusion_table(&test.y, &pred, 10, None)?);
    let per_epoch: Vec<f64> = history
        .get("val_accuracy")
        .unwrap_or(&[])
        .iter()
        .map(|&a| round_to(a, 4))
        .collect();
    let extra = serde_json::json!({
        "seed": seed,
        "batch_size": batch_size,
        "dtype_policy": policy.name(),
        "test_accuracy_per_epoch": per_epoch,
    });
    finish("resnet", &history, seconds, train.len(), &scores, extra);
    Ok(())
}
