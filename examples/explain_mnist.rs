//! Why the MNIST CNN decides what it does: trains (or loads) the Keras
//! MNIST CNN of `examples/mnist_cnn.rs`, then explains test images with
//! saliency, Integrated Gradients and Grad-CAM on the last convolution, and
//! writes a grid (one row per image: the digit, then each map over it,
//! captioned with the predicted and true class) as PNG and SVG.
//!
//! ```text
//! cargo run --release --example explain_mnist -- --data data/mnist --epochs 1 --out explain_out
//! ```
//! `--data` is a folder with the four MNIST IDX files (raw or .gz);
//! `--model DIR` loads a model saved by `Model::save` instead of training
//! (otherwise the trained model is saved to `OUT/model`); `--limit N` trains
//! on the first N training images; `--images N` explains the first N test
//! images (default 8); `--layer NAME` is the Grad-CAM layer (default the
//! last convolution, `conv2d_3`, as Keras' Grad-CAM tutorial);
//! `--steps N` is Integrated Gradients' step count (default 50). The JSON
//! line adds the seconds each method took, Integrated Gradients' largest
//! completeness gap |Σ attributions − (f(x) − f(0))|, and the files written.

mod common;

use common::{classes, data_dir, finish, round_to, timed_fit, Args, MNIST_HOW_TO_GET};
use neurite::explain::picture::{caption, HeatmapGrid};
use neurite::explain::{GradCam, IntegratedGradients, Saliency, Target};
use neurite::prelude::*;
use std::path::PathBuf;
use std::time::Instant;

fn main() -> neurite::Result<()> {
    let args = Args::parse(
        "explain_mnist",
        &[
            ("data", "DIR"),
            ("epochs", "N"),
            ("out", "DIR"),
            ("model", "DIR"),
            ("limit", "N"),
            ("images", "N"),
            ("layer", "NAME"),
            ("steps", "N"),
            ("seed", "N"),
        ],
    );
    let epochs: usize = args.number("epochs", 1);
    let limit: usize = args.number("limit", usize::MAX);
    let images: usize = args.number("images", 8);
    let steps: usize = args.number("steps", 50);
    let seed: u64 = args.number("seed", 0);
    let layer = args.string("layer", "conv2d_3");
    let out = PathBuf::from(args.string("out", "explain_out"));
    let dir = data_dir(
        "explain_mnist",
        &args.string("data", "data/mnist"),
        &[
            "train-images-idx3-ubyte",
            "train-images-idx3-ubyte.gz",
            "train-images.idx3-ubyte",
        ],
        MNIST_HOW_TO_GET,
    );
    std::fs::create_dir_all(&out).map_err(|source| neurite::Error::Io {
        path: out.clone(),
        source,
    })?;
    let (mut train, test) = neurite::data::mnist::load(&dir)?; // x: (n, 28, 28, 1) in [0, 1]
    if limit < train.len() {
        train = train.subset(&(0..limit).collect::<Vec<_>>())?;
    }

    let (model, history, seconds, trained) = match args.string("model", "").as_str() {
        "" => {
            let mut model = common::mnist_cnn(seed, DtypePolicy::default())?;
            let options = FitOptions::new().epochs(epochs).batch_size(32).verbose(0);
            let (history, seconds) = timed_fit(&mut model, &train.x, &train.y, options)?;
            model.save(out.join("model"))?;
            (model, history, seconds, train.len())
        }
        saved => {
            println!("loading the model saved in {saved}");
            (Sequential::load(saved)?, History::default(), 0.0, 0)
        }
    };
    let scores = model.evaluate(&test.x, &test.y)?;

    let n = images.clamp(1, test.len());
    let x = test
        .x
        .slice_axis(ndarray::Axis(0), ndarray::Slice::from(0..n))
        .to_owned();
    let truth = classes(&test.y)?;
    let timed = |f: &dyn Fn() -> neurite::Result<neurite::explain::Attribution>| {
        let start = Instant::now();
        f().map(|a| (a, round_to(start.elapsed().as_secs_f64(), 3)))
    };
    let (saliency, saliency_s) = timed(&|| Saliency::new().explain(&model, &x, &Target::Predicted))?;
    let (ig, ig_s) = timed(&|| {
        IntegratedGradients::new()
            .steps(steps)
            .explain(&model, &x, &Target::Predicted)
    })?;
    let (cam, cam_s) = timed(&|| GradCam::new(layer.as_str()).explain(&model, &x, &Target::Predicted))?;

    // Completeness of Integrated Gradients: Σ attributions = f(x) − f(black image).
    let black = model.predict(Tensor::zeros(x.raw_dim()))?;
    let gap = (0..n)
        .map(|i| {
            let t = ig.targets[i];
            (ig.sample(i).sum() - (ig.outputs[[i, t]] - black[[i, t]])).abs()
        })
        .fold(0.0f32, f32::max);

    let mut grid = HeatmapGrid::new(&["saliency", "integrated gradients", "grad-cam"]);
    for (i, &label) in truth.iter().enumerate().take(n) {
        grid.add_row(
            caption(saliency.predicted(i), Some(label)),
            x.index_axis(ndarray::Axis(0), i),
            vec![saliency.map(i)?, ig.map(i)?, cam.map(i)?],
        )?;
    }
    let (png, svg) = (out.join("explain_mnist.png"), out.join("explain_mnist.svg"));
    grid.save_png(&png)?;
    grid.save_svg(&svg)?;
    println!("wrote {} and {}", png.display(), svg.display());

    let extra = serde_json::json!({
        "seed": seed,
        "explained_images": n,
        "grad_cam_layer": layer,
        "ig_steps": steps,
        "seconds_saliency": saliency_s,
        "seconds_integrated_gradients": ig_s,
        "seconds_grad_cam": cam_s,
        "ig_completeness_gap_max": round_to(f64::from(gap), 6),
        "files": [png.display().to_string(), svg.display().to_string()],
    });
    finish(
        "explain_mnist",
        &history,
        seconds.max(1e-9),
        trained,
        &scores,
        extra,
    );
    Ok(())
}
