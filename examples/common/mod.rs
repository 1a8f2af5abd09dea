//! The one place for what the examples share: command-line flags (parsed by
//! `lexopt`), checking a `--data` folder, class indices of labels and
//! predictions, a confusion matrix, timing `fit`, and the closing JSON line.
#![allow(dead_code)]

use neurite::prelude::*;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Exit status of an example given bad flags or a missing data folder.
const USAGE_ERROR: i32 = 2;

/// The flags of an example, each `--name VALUE` (or `--name=VALUE`).
pub struct Args {
    values: BTreeMap<&'static str, String>,
}

impl Args {
    /// Parses the process' arguments against `flags` (name and value placeholder, e.g.
    /// `("epochs", "N")`). `--help` prints the usage and exits 0; an unknown flag, a flag
    /// without its value or a stray argument prints the error and the usage and exits 2.
    pub fn parse(example: &str, flags: &[(&'static str, &str)]) -> Args {
        let usage = usage(example, flags);
        match Args::from_args(std::env::args_os().skip(1), flags) {
            Ok(Some(args)) => args,
            Ok(None) => {
                println!("{usage}");
                std::process::exit(0);
            }
            Err(e) => exit_with_usage(example, &e.to_string(), &usage),
        }
    }

    /// Parses `args` (without the program name); `Ok(None)` when help was asked for.
    fn from_args(
        args: impl IntoIterator<Item = std::ffi::OsString>,
        flags: &[(&'static str, &str)],
    ) -> Result<Option<Args>, lexopt::Error> {
        use lexopt::prelude::*;
        let mut values = BTreeMap::new();
        let mut parser = lexopt::Parser::from_args(args);
        while let Some(arg) = parser.next()? {
            match arg {
                Short('h') | Long("help") => return Ok(None),
                Long(name) => {
                    let Some(&(known, _)) = flags.iter().find(|(flag, _)| *flag == name) else {
                        return Err(arg.unexpected());
                    };
                    values.insert(known, parser.value()?.string()?);
                }
                _ => return Err(arg.unexpected()),
            }
        }
        Ok(Some(Args { values }))
    }

    /// A string flag, or `default` when it was not given.
    pub fn string(&self, name: &str, default: &str) -> String {
        self.values
            .get(name)
            .cloned()
            .unwrap_or_else(|| default.to_string())
    }

    /// A number flag, or `default` when it was not given; exits with status 2 when the
    /// value does not parse.
    pub fn number<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        match self.values.get(name) {
            None => default,
            Some(v) => v.parse().unwrap_or_else(|_| {
                eprintln!("--{name}: {v:?} is not a valid number");
                std::process::exit(USAGE_ERROR);
            }),
        }
    }
}

fn usage(example: &str, flags: &[(&str, &str)]) -> String {
    let shown: Vec<String> = flags
        .iter()
        .map(|(name, value)| format!("[--{name} {value}]"))
        .collect();
    format!("usage: {example} {}", shown.join(" "))
}

fn exit_with_usage(example: &str, message: &str, usage: &str) -> ! {
    eprintln!("{example}: {message}\n{usage}");
    std::process::exit(USAGE_ERROR);
}

/// The `--data` folder of an example, checked to hold one of the files `any_of`; when it
/// does not, prints where to get the data set (`how_to_get`) and exits with status 2.
pub fn data_dir(example: &str, dir: &str, any_of: &[&str], how_to_get: &str) -> PathBuf {
    let dir = PathBuf::from(dir);
    if !any_of.iter().any(|name| dir.join(name).is_file()) {
        eprintln!(
            "{example}: no {} in {}. Pass --data DIR. {how_to_get}",
            any_of[0],
            dir.display()
        );
        std::process::exit(USAGE_ERROR);
    }
    dir
}

/// Where the MNIST files come from, for messages.
pub const MNIST_HOW_TO_GET: &str = "Download the four IDX files (train-images-idx3-ubyte.gz, \
train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) from \
https://ossci-datasets.s3.amazonaws.com/mnist/ into one folder (gzipped or not); see docs/data.md.";

/// Where the CIFAR-10 files come from, for messages.
pub const CIFAR10_HOW_TO_GET: &str = "Download the binary version \
https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz and unpack it \
(tar xzf); the folder cifar-10-batches-bin holds the batches; see docs/data.md.";

/// Class indices of `(n,)` / `(n, 1)` labels or of `(n, classes)` scores (arg-max).
pub fn classes(y: &Tensor) -> neurite::Result<Vec<usize>> {
    Ok(neurite::data::preprocessing::class_indices(y)?)
}

/// The confusion matrix of predictions against labels, as a text table.
pub fn confusion_table(
    y: &Tensor,
    pred: &Tensor,
    n_classes: usize,
    names: Option<&[&str]>,
) -> neurite::Result<String> {
    let cm = neurite::metrics::ConfusionMatrix::from_labels(&classes(y)?, &classes(pred)?, n_classes)?;
    Ok(cm.to_table(names)?)
}

/// Runs `fit` and returns its history with the wall-clock seconds it took.
pub fn timed_fit(
    model: &mut Sequential,
    x: &Tensor,
    y: &Tensor,
    options: FitOptions<'_>,
) -> neurite::Result<(History, f64)> {
    let start = std::time::Instant::now();
    let history = model.fit(x, y, options)?;
    Ok((history, start.elapsed().as_secs_f64()))
}

/// `v` rounded to `digits` decimals (for the JSON line).
pub fn round_to(v: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (v * p).round() / p
}

/// Prints the closing line of an example: one JSON object.
pub fn print_json(fields: serde_json::Value) {
    println!("{fields}");
}

/// The fields every example's JSON line starts with: `example`, `epochs`, `seconds` and
/// `train_samples_per_sec` (over all `epochs`).
pub fn timing_fields(
    example: &str,
    epochs: usize,
    seconds: f64,
    train_samples: usize,
) -> serde_json::Map<String, serde_json::Value> {
    let json = serde_json::json!({
        "example": example,
        "epochs": epochs,
        "seconds": round_to(seconds, 2),
        "train_samples_per_sec": round_to((train_samples * epochs) as f64 / seconds, 1),
    });
    match json {
        serde_json::Value::Object(map) => map,
        _ => unreachable!("json! of an object literal is an object"),
    }
}

/// Prints the test scores and, last, the example's JSON line: the [`timing_fields`],
/// `test_accuracy` (when the model reports accuracy), `test_loss`, plus the `extra` fields.
pub fn finish(
    example: &str,
    history: &History,
    seconds: f64,
    train_samples: usize,
    scores: &neurite::callbacks::Logs,
    extra: serde_json::Value,
) {
    let mut line = timing_fields(example, history.epochs.len(), seconds, train_samples);
    line.insert("test_loss".into(), round_to(scores["loss"], 4).into());
    if let Some(acc) = scores.get("accuracy") {
        println!("test loss {:.4}, test accuracy {acc:.4}", scores["loss"]);
        line.insert("test_accuracy".into(), round_to(*acc, 4).into());
    }
    if let serde_json::Value::Object(more) = extra {
        line.extend(more);
    }
    print_json(serde_json::Value::Object(line));
}

/// The seed programs' MNIST CNN (Keras' example: Conv2D 32 → pool → Conv2D 64 → pool →
/// Conv2D 64 → Dense 64 → Dense 10 softmax), compiled with Adam, sparse categorical
/// cross-entropy and accuracy, under the dtype `policy`.
pub fn mnist_cnn(seed: u64, policy: DtypePolicy) -> neurite::Result<Sequential> {
    let mut model = Sequential::new()
        .seed(seed)
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
        .add(Dense::new(10).activation(Activation::Softmax))
        .dtype_policy(policy);
    model.compile(
        Adam::default(),
        Loss::SparseCategoricalCrossentropy { from_logits: false },
        &[Metric::Accuracy],
    )?;
    Ok(model)
}
