//! End-to-end benchmark of neurite on the seed models (issue 9): trains or predicts one
//! workload on synthetic data of the real shapes and prints **one JSON line**.
//!
//! ```text
//! e2e --workload cnn-train --batch 32 [--steps N] [--warmup N] [--repeats R] [--threads T]
//!     [--dtype-policy float32|mixed_bfloat16]
//! e2e --list
//! ```
//!
//! Workloads (the same five, with the same shapes, optimizers, losses and data sizes, are
//! written for PyTorch and Keras in `benches/reference/`):
//!
//! | workload | model | optimizer, loss |
//! |---|---|---|
//! | `cnn-train` | `mnist_cnn`: 28x28x1, Conv32-Pool-Conv64-Pool-Conv64-Dense64-Dense10 | Adam, sparse CE |
//! | `cnn-predict` | the same model, inference only (`predict_batched`) | — |
//! | `mlp-train` | Dense(64, relu, input 100) -> Dense(10, softmax) | SGD(0.01, momentum 0.9, Nesterov), categorical CE (one-hot) |
//! | `lstm-train` | LSTM(64) on 20 steps x 100 features -> Dense(10, softmax) | Adam, sparse CE |
//! | `resnet-train` | `examples/resnet.rs` (issue 16): Conv-BN-ReLU stem, 4 residual blocks (16, 16, 32/2, 32), GAP, Dense10; functional API | Adam, sparse CE |
//! | `resnet-predict` | the same model, inference only (`predict_batched`) | — |
//! | `text-conv-train` | `examples/text_classification.rs` `conv` (issue 17): 100 token ids (vocabulary 20,000) -> Embedding64-Conv1D(64, 5)-GlobalMaxPool-Dense64-Dropout-Dense6 | Adam, sparse CE |
//! | `bilstm-train` | the `lstm` classifier: Embedding64 -> Bidirectional(LSTM(64)) -> Dense6 | Adam, sparse CE |
//! | `transformer-train` | the `transformer` classifier: TokenAndPositionEmbedding64 -> TransformerEncoder(128, 2 heads, dropout 0.1) -> GlobalAveragePooling1D -> Dense6 | Adam, sparse CE |
//!
//! **What one run measures.** Training: one epoch of `model.fit` (`epochs(1)`: each call trains one epoch, as Keras' `fit`,
//! `verbose(0)`, shuffling on, no metrics) over a synthetic set of `steps * batch`
//! samples, so a run is exactly `steps` optimizer steps *including* what a user pays
//! for in `fit` (shuffle, gathering the batch rows, loss, backward, optimizer update) —
//! the same thing Keras' `fit` does in the Keras reference and the explicit loop over
//! shuffled batches does in the PyTorch reference. Prediction: one
//! `model.predict_batched(&x, batch)` over `steps * batch` samples. The first `warmup`
//! runs are discarded (allocator warm-up, first-touch of the weights and the optimizer
//! state); the reported `samples_per_sec` is the median over `repeats` timed runs, and
//! every timed run is listed in `runs`.
//!
//! **Chunks**: each timed run is also cut into `min(4, steps)` consecutive chunks of
//! batches, chunk `k` ending after batch `(k + 1) * steps / 4 - 1`; `chunk_secs` lists
//! their seconds per run (the slowdown check of `cargo xtask bench`). Training notes the
//! time in a `fit` callback's `on_batch_end` (one comparison per batch); prediction runs
//! one `predict_batched` per chunk over the chunk's rows (split before the clock starts)
//! and joins the outputs, as the references' prediction loops do.
//!
//! Data: images uniform in [0, 1), sequences and MLP inputs N(0, 1), labels `i*7 % 10`;
//! token ids uniform in `1..20000`, labels `i*7 % 6` (the text workloads, `e2e/text.rs`;
//! no `mask_zero`); all from fixed seeds, so every run sees the same numbers.
//!
//! **Precision**: `--dtype-policy mixed_bfloat16` runs the model under
//! [`neurite::DtypePolicy::MixedBfloat16`] (bf16 products, `f32` accumulation and
//! weights); the JSON line then names the framework `neurite-bf16`.
//!
//! **Threads**: `--threads T` (default 2) sets `RAYON_NUM_THREADS`, `MATMUL_NUM_THREADS`
//! and `OPENBLAS_NUM_THREADS` (unless already set) before any thread starts, and asks the
//! GEMM backend for `T` threads through [`neurite::tensor::threads::set_num_threads`].
//!
//! **Peak memory**: `peak_rss_mb` is the process' high-water resident set (`VmHWM` of
//! `/proc/self/status`, MiB) at the end — run one workload per process (as
//! `cargo xtask bench --e2e` does) so that it belongs to that workload; it includes the
//! synthetic data set.
//!
//! **FLOPs**: `flops_per_sample` counts 2 FLOPs per multiply-add of the convolutions,
//! dense layers and LSTM gate products of the forward pass (element-wise work, pooling
//! and the optimizer are not counted); a training sample is counted as 3 forward passes
//! (forward, gradient w.r.t. the inputs, gradient w.r.t. the weights).

#[path = "e2e/chunks.rs"]
mod chunks;
#[path = "e2e/resnet.rs"]
mod resnet;
#[path = "e2e/text.rs"]
mod text;

use chunks::{chunk_ends, ChunkClock};
use neurite::prelude::*;
use neurite::tensor::random::{normal, rng_from_seed, uniform};
use std::process::ExitCode;
use std::time::Instant;

/// The workloads, as named on the command line.
const WORKLOADS: [&str; 9] = [
    "cnn-train",
    "cnn-predict",
    "mlp-train",
    "lstm-train",
    "resnet-train",
    "resnet-predict",
    "text-conv-train",
    "bilstm-train",
    "transformer-train",
];

/// Number of classes of every workload.
const CLASSES: usize = 10;
/// LSTM sequence length and features.
const LSTM_STEPS: usize = 20;
const LSTM_FEATURES: usize = 100;
const LSTM_UNITS: usize = 64;
/// MLP input width and hidden units.
const MLP_INPUT: usize = 100;
const MLP_HIDDEN: usize = 64;

/// Command-line options of one run.
#[derive(Debug, Clone, PartialEq)]
struct Options {
    workload: String,
    batch: usize,
    steps: usize,
    warmup: usize,
    repeats: usize,
    threads: usize,
    dtype_policy: DtypePolicy,
}

/// The default number of batches per run: each run takes a few seconds at today's speed
/// and the data set stays small next to the model's own memory.
fn default_steps(workload: &str, batch: usize) -> usize {
    match workload {
        "cnn-train" | "resnet-train" => (2048 / batch).max(4),
        "cnn-predict" | "resnet-predict" => (4096 / batch).max(4),
        "mlp-train" => (65536 / batch).max(4),
        _ => (4096 / batch).max(4),
    }
}

const USAGE: &str = "usage: e2e --workload cnn-train|cnn-predict|mlp-train|lstm-train|resnet-train|resnet-predict|\
text-conv-train|bilstm-train|transformer-train --batch B \
[--steps N] [--warmup N] [--repeats R] [--threads T] [--dtype-policy float32|mixed_bfloat16]   |   e2e --list";

/// What the command line asks for: a run, or the list of workloads.
#[derive(Debug, Clone, PartialEq)]
enum Command {
    Run(Options),
    List,
}

fn parse_args(args: &[String]) -> Result<Command, String> {
    use lexopt::prelude::*;
    let mut workload = None;
    let mut batch = None;
    let mut steps = None;
    let mut warmup = 1;
    let mut repeats = 5;
    let mut threads = 2;
    let mut dtype_policy = DtypePolicy::Float32;
    let mut parser = lexopt::Parser::from_args(args);
    let with_usage = |e: lexopt::Error| format!("{e}\n{USAGE}");
    while let Some(arg) = parser.next().map_err(with_usage)? {
        match arg {
            Long("list") => return Ok(Command::List),
            Long("workload") => workload = Some(parser.value().and_then(|v| v.string()).map_err(with_usage)?),
            Long("batch") => batch = Some(parser.value().and_then(|v| v.parse()).map_err(with_usage)?),
            Long("steps") => steps = Some(parser.value().and_then(|v| v.parse()).map_err(with_usage)?),
            Long("warmup") => warmup = parser.value().and_then(|v| v.parse()).map_err(with_usage)?,
            Long("repeats") => repeats = parser.value().and_then(|v| v.parse()).map_err(with_usage)?,
            Long("threads") => threads = parser.value().and_then(|v| v.parse()).map_err(with_usage)?,
            Long("dtype-policy") => {
                let name = parser.value().and_then(|v| v.string()).map_err(with_usage)?;
                dtype_policy = name.parse().map_err(|e: neurite::Error| e.to_string())?;
            }
            Short('h') | Long("help") => return Err(USAGE.to_string()),
            _ => return Err(with_usage(arg.unexpected())),
        }
    }
    let workload = workload.ok_or_else(|| format!("--workload is required\n{USAGE}"))?;
    if !WORKLOADS.contains(&workload.as_str()) {
        return Err(format!(
            "unknown workload {workload:?}; expected one of {WORKLOADS:?}"
        ));
    }
    let batch = batch.ok_or_else(|| format!("--batch is required\n{USAGE}"))?;
    if batch == 0 || repeats == 0 || threads == 0 || steps == Some(0) {
        return Err("--batch, --steps, --repeats and --threads must be at least 1".into());
    }
    let steps = steps.unwrap_or_else(|| default_steps(&workload, batch));
    Ok(Command::Run(Options {
        workload,
        batch,
        steps,
        warmup,
        repeats,
        threads,
        dtype_policy,
    }))
}

/// Multiply-adds of a "valid" 2-D convolution with square stride 1 on an NHWC sample.
fn conv_macs(h: usize, w: usize, c: usize, k: usize, filters: usize) -> (usize, usize, usize) {
    let (oh, ow) = (h - k + 1, w - k + 1);
    (oh * ow * filters * k * k * c, oh, ow)
}

/// Forward multiply-adds of one `mnist_cnn` sample (28x28x1).
fn cnn_forward_macs() -> usize {
    let (m1, h, w) = conv_macs(28, 28, 1, 3, 32);
    let (h, w) = (h / 2, w / 2);
    let (m2, h, w) = conv_macs(h, w, 32, 3, 64);
    let (h, w) = (h / 2, w / 2);
    let (m3, h, w) = conv_macs(h, w, 64, 3, 64);
    let flat = h * w * 64;
    m1 + m2 + m3 + flat * 64 + 64 * CLASSES
}

/// FLOPs of one sample of `workload` (2 per multiply-add; training = 3 forward passes).
fn flops_per_sample(workload: &str) -> f64 {
    let forward_macs = match workload {
        "cnn-train" | "cnn-predict" => cnn_forward_macs(),
        "mlp-train" => MLP_INPUT * MLP_HIDDEN + MLP_HIDDEN * CLASSES,
        "lstm-train" => LSTM_STEPS * (LSTM_FEATURES + LSTM_UNITS) * 4 * LSTM_UNITS + LSTM_UNITS * CLASSES,
        "resnet-train" | "resnet-predict" => resnet::forward_macs(),
        w if text::is_text(w) => text::forward_macs(w),
        other => unreachable!("workload {other} was validated"),
    };
    let passes = if workload.ends_with("-train") { 3 } else { 1 };
    (2 * forward_macs * passes) as f64
}

/// The `mnist_cnn` model, compiled with Adam and sparse categorical cross-entropy.
fn cnn_model() -> neurite::Result<Sequential> {
    let mut model = Sequential::new()
        .seed(0)
        .add(
            Conv2D::new(32, (3, 3))
                .activation(Activation::Relu)
                .input_shape([28, 28, 1]),
        )
        .add(MaxPooling2D::new((2, 2)))
        .add(Conv2D::new(64, (3, 3)).activation(Activation::Relu))
        .add(MaxPooling2D::new((2, 2)))
        .add(Conv2D::new(64, (3, 3)).activation(Activation::Relu))
        .add(Flatten::new())
        .add(Dense::new(64).activation(Activation::Relu))
        .add(Dense::new(CLASSES).activation(Activation::Softmax));
    model.compile(Adam::default(), Loss::sparse_categorical_crossentropy(), &[])?;
    Ok(model)
}

/// Class ids `i*7 % 10` as f32 (sparse labels).
fn sparse_labels(n: usize) -> Tensor {
    Tensor::from_shape_fn(ndarray::IxDyn(&[n]), |i| ((i[0] * 7) % CLASSES) as f32)
}

/// The model of a workload: a stack, or the functional residual network.
enum Network {
    Stack(Sequential),
    Graph(Functional),
}

/// The model and the data (x, y) of one workload with `n` samples.
fn setup(workload: &str, n: usize) -> neurite::Result<(Network, Tensor, Tensor)> {
    let mut rng = rng_from_seed(42);
    Ok(match workload {
        "cnn-train" | "cnn-predict" => {
            let x = uniform(&[n, 28, 28, 1], 0.0, 1.0, &mut rng);
            (Network::Stack(cnn_model()?), x, sparse_labels(n))
        }
        "resnet-train" | "resnet-predict" => {
            let x = uniform(&[n, 28, 28, 1], 0.0, 1.0, &mut rng);
            (Network::Graph(resnet::model()?), x, sparse_labels(n))
        }
        "mlp-train" => {
            let mut model = Sequential::new()
                .seed(0)
                .add(
                    Dense::new(MLP_HIDDEN)
                        .activation(Activation::Relu)
                        .input_dim(MLP_INPUT),
                )
                .add(Dense::new(CLASSES).activation(Activation::Softmax));
            model.compile(
                Sgd::new(0.01).momentum(0.9).nesterov(true),
                Loss::categorical_crossentropy(),
                &[],
            )?;
            let x = normal(&[n, MLP_INPUT], 0.0, 1.0, &mut rng);
            let y = Tensor::from_shape_fn(ndarray::IxDyn(&[n, CLASSES]), |i| {
                if (i[0] * 7) % CLASSES == i[1] {
                    1.0
                } else {
                    0.0
                }
            });
            (Network::Stack(model), x, y)
        }
        "lstm-train" => {
            let mut model = Sequential::new()
                .seed(0)
                .add(LSTM::new(LSTM_UNITS).input_shape([LSTM_STEPS, LSTM_FEATURES]))
                .add(Dense::new(CLASSES).activation(Activation::Softmax));
            model.compile(Adam::default(), Loss::sparse_categorical_crossentropy(), &[])?;
            let x = normal(&[n, LSTM_STEPS, LSTM_FEATURES], 0.0, 1.0, &mut rng);
            (Network::Stack(model), x, sparse_labels(n))
        }
        w if text::is_text(w) => {
            let (x, y) = text::data(n);
            (Network::Stack(text::model(w)?), x, y)
        }
        other => unreachable!("workload {other} was validated"),
    })
}

/// The process' peak resident set in MiB (`VmHWM`), if the kernel reports it.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Median of a non-empty slice.
fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// One timed run: its samples per second and the seconds of its chunks.
#[derive(Debug, Clone, PartialEq)]
struct Run {
    rate: f64,
    chunk_secs: Vec<f64>,
}

/// Runs the workload: `warmup` discarded runs, then `repeats` timed runs.
fn measure(opts: &Options) -> neurite::Result<Vec<Run>> {
    let n = opts.steps * opts.batch;
    let (network, x, y) = setup(&opts.workload, n)?;
    match network {
        Network::Stack(mut model) => timed_runs(&mut model, &x, &y, opts),
        Network::Graph(mut model) => timed_runs(&mut model, &x, &y, opts),
    }
}

/// The rows of `x` cut at the chunk ends of a `steps`-batch run of `batch` rows each.
fn split_at_chunks(x: &Tensor, batch: usize, steps: usize) -> Vec<Tensor> {
    let rows = x.shape()[0];
    let mut first = 0;
    chunk_ends(steps)
        .into_iter()
        .map(|end| {
            let last = ((end + 1) * batch).min(rows);
            let part = x.slice_axis(ndarray::Axis(0), (first..last).into()).to_owned();
            first = last;
            part
        })
        .collect()
}

fn timed_runs<N: Layer>(
    model: &mut Model<N>,
    x: &Tensor,
    y: &Tensor,
    opts: &Options,
) -> neurite::Result<Vec<Run>> {
    model.set_dtype_policy(opts.dtype_policy);
    let n = opts.steps * opts.batch;
    let predict = opts.workload.ends_with("-predict");
    let parts = if predict {
        split_at_chunks(x, opts.batch, opts.steps)
    } else {
        Vec::new()
    };
    let ends = chunk_ends(opts.steps);
    let mut clock = ChunkClock::new(opts.steps);
    let mut runs = Vec::with_capacity(opts.repeats);
    for run in 0..opts.warmup + opts.repeats {
        let start = Instant::now();
        clock.begin();
        if predict {
            let mut outs = Vec::with_capacity(parts.len());
            for (part, &end) in parts.iter().zip(&ends) {
                outs.push(model.predict_batched(part, opts.batch)?);
                clock.batch_end(end);
            }
            let views: Vec<_> = outs.iter().map(|o| o.view()).collect();
            let out = ndarray::concatenate(ndarray::Axis(0), &views)
                .map_err(|e| neurite::Error::Model(format!("e2e: joining the chunks' predictions: {e}")))?;
            std::hint::black_box(&out);
        } else {
            let history = model.fit(
                x,
                y,
                FitOptions::new()
                    .epochs(1)
                    .batch_size(opts.batch)
                    .verbose(0)
                    .callback(&mut clock),
            )?;
            std::hint::black_box(&history);
        }
        let seconds = start.elapsed().as_secs_f64();
        if run >= opts.warmup {
            runs.push(Run {
                rate: n as f64 / seconds,
                chunk_secs: clock.seconds(),
            });
        }
    }
    Ok(runs)
}

/// `v` rounded to one decimal (rates and MiB are reported to 0.1).
fn one_decimal(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// The JSON line of a finished workload, as `cargo xtask bench --e2e` reads it (fields in
/// this order).
#[derive(Debug, serde::Serialize)]
struct ResultLine<'a> {
    /// `neurite`, or `neurite-bf16` under `--dtype-policy mixed_bfloat16`.
    framework: &'static str,
    model: &'a str,
    batch: usize,
    /// Median of `runs`.
    samples_per_sec: f64,
    /// Samples per second of every timed run.
    runs: Vec<f64>,
    /// Seconds of each consecutive chunk of batches of every timed run (5 decimals).
    chunk_secs: Vec<Vec<f64>>,
    /// `null` when the kernel does not report it.
    peak_rss_mb: Option<f64>,
    steps: usize,
    threads: usize,
    flops_per_sample: f64,
    gemm_backend: &'static str,
    /// Keras' name of the policy the model ran under.
    dtype_policy: &'static str,
}

fn json_line(opts: &Options, runs: &[Run], peak_mb: Option<f64>) -> String {
    let rates: Vec<f64> = runs.iter().map(|r| r.rate).collect();
    let line = ResultLine {
        framework: match opts.dtype_policy {
            DtypePolicy::Float32 => "neurite",
            DtypePolicy::MixedBfloat16 => "neurite-bf16",
        },
        model: &opts.workload,
        batch: opts.batch,
        samples_per_sec: one_decimal(median(&rates)),
        runs: rates.iter().copied().map(one_decimal).collect(),
        chunk_secs: runs
            .iter()
            .map(|r| r.chunk_secs.iter().map(|&s| (s * 1e5).round() / 1e5).collect())
            .collect(),
        peak_rss_mb: peak_mb.map(one_decimal),
        steps: opts.steps,
        threads: opts.threads,
        flops_per_sample: flops_per_sample(&opts.workload),
        gemm_backend: neurite::tensor::gemm::backend(),
        dtype_policy: opts.dtype_policy.name(),
    };
    serde_json::to_string(&line).expect("a struct of numbers and strings serialises")
}

/// Fixes the thread counts before any pool exists.
fn set_threads(threads: usize) {
    for var in ["RAYON_NUM_THREADS", "MATMUL_NUM_THREADS", "OPENBLAS_NUM_THREADS"] {
        if std::env::var_os(var).is_none() {
            // Called first thing in `main`, before any other thread exists.
            std::env::set_var(var, threads.to_string());
        }
    }
    neurite::tensor::threads::set_num_threads(threads);
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match parse_args(&args) {
        Ok(Command::Run(o)) => o,
        Ok(Command::List) => {
            for w in WORKLOADS {
                println!("{w}");
            }
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("e2e: {e}");
            return ExitCode::FAILURE;
        }
    };
    set_threads(opts.threads);
    match measure(&opts) {
        Ok(runs) => {
            println!("{}", json_line(&opts, &runs, peak_rss_mb()));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("e2e: {} batch {}: {e}", opts.workload, opts.batch);
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn run_options(args: &[&str]) -> Options {
        match parse_args(&s(args)).unwrap() {
            Command::Run(o) => o,
            Command::List => panic!("{args:?} parsed as --list"),
        }
    }

    #[test]
    fn parses_options_and_defaults() {
        let o = run_options(&["--workload", "cnn-train", "--batch", "32"]);
        assert_eq!(o.steps, 64);
        assert_eq!((o.warmup, o.repeats, o.threads), (1, 5, 2));
        let o = run_options(&["--workload", "lstm-train", "--batch=32", "--steps", "3"]);
        assert_eq!(o.steps, 3);
        assert_eq!(parse_args(&s(&["--list"])), Ok(Command::List));
        assert!(parse_args(&s(&["--workload", "cnn-train", "--batch", "32", "--gpu"])).is_err());
        assert!(parse_args(&s(&["--workload", "cnn-train", "--batch"])).is_err());
        assert!(parse_args(&s(&["--workload", "gan", "--batch", "32"])).is_err());
        assert!(parse_args(&s(&["--workload", "cnn-train"])).is_err());
        assert!(parse_args(&s(&["--workload", "cnn-train", "--batch", "0"])).is_err());
        assert!(parse_args(&s(&["--workload", "cnn-train", "--batch", "x"])).is_err());
        assert_eq!(o.dtype_policy, DtypePolicy::Float32);
        let o = run_options(&[
            "--workload",
            "cnn-train",
            "--batch",
            "8",
            "--dtype-policy",
            "mixed_bfloat16",
        ]);
        assert_eq!(o.dtype_policy, DtypePolicy::MixedBfloat16);
        let bad = [
            "--workload",
            "cnn-train",
            "--batch",
            "8",
            "--dtype-policy",
            "mixed_float16",
        ];
        assert!(parse_args(&s(&bad)).unwrap_err().contains("mixed_float16"));
    }

    #[test]
    fn flop_counts_follow_the_layer_shapes() {
        // conv1 26*26*32*9 + conv2 11*11*64*288 + conv3 3*3*64*576 + 576*64 + 64*10
        assert_eq!(cnn_forward_macs(), 194_688 + 2_230_272 + 331_776 + 36_864 + 640);
        assert_eq!(flops_per_sample("cnn-predict"), 2.0 * 2_794_240.0);
        assert_eq!(flops_per_sample("cnn-train"), 6.0 * 2_794_240.0);
        assert_eq!(flops_per_sample("mlp-train"), 6.0 * 7_040.0);
        assert_eq!(
            flops_per_sample("resnet-predict"),
            2.0 * resnet::forward_macs() as f64
        );
        assert_eq!(
            flops_per_sample("resnet-train"),
            6.0 * resnet::forward_macs() as f64
        );
        assert_eq!(
            flops_per_sample("lstm-train"),
            6.0 * (20.0 * 164.0 * 256.0 + 640.0)
        );
        for w in text::WORKLOADS {
            assert!(text::forward_macs(w) > 0, "{w}");
            assert_eq!(flops_per_sample(w), 6.0 * text::forward_macs(w) as f64, "{w}");
        }
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn tiny_runs_of_every_workload_produce_a_json_line() {
        for (w, policy) in WORKLOADS
            .into_iter()
            .flat_map(|w| DtypePolicy::ALL.map(|p| (w, p)))
        {
            let opts = Options {
                workload: w.to_string(),
                batch: 4,
                steps: 2,
                warmup: 0,
                repeats: 1,
                threads: 1,
                dtype_policy: policy,
            };
            let runs = measure(&opts).unwrap();
            assert_eq!(runs.len(), 1);
            assert!(runs[0].rate > 0.0);
            assert_eq!(runs[0].chunk_secs.len(), 2, "{w}: {runs:?}");
            let line = json_line(&opts, &runs, Some(12.04));
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            let framework = if policy == DtypePolicy::Float32 {
                "neurite"
            } else {
                "neurite-bf16"
            };
            assert!(
                line.starts_with(&format!("{{\"framework\":\"{framework}\",\"model\":\"")),
                "{line}"
            );
            assert_eq!(v["dtype_policy"], policy.name(), "{line}");
            assert_eq!(v["model"], w, "{line}");
            assert_eq!(v["batch"], 4, "{line}");
            assert_eq!(v["peak_rss_mb"], 12.0, "{line}");
            assert_eq!(v["runs"].as_array().map(Vec::len), Some(1), "{line}");
            assert_eq!(v["flops_per_sample"], flops_per_sample(w), "{line}");
            assert_eq!(v["steps"], 2, "{line}");
            assert_eq!(v["chunk_secs"].as_array().map(Vec::len), Some(1), "{line}");
            assert_eq!(v["chunk_secs"][0].as_array().map(Vec::len), Some(2), "{line}");
        }
        assert!(peak_rss_mb().unwrap() > 0.0);
    }
}
