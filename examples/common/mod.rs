//! Small helpers shared by the examples: command-line flags, the closing
//! JSON line, predicted classes and a confusion matrix.
#![allow(dead_code)]

use neurite::prelude::*;
use std::collections::BTreeMap;

/// `--name value` flags of an example.
pub struct Args {
    values: BTreeMap<String, String>,
}

impl Args {
    /// Parses `--name value` pairs; `--help` prints `usage` and exits.
    pub fn parse(usage: &str) -> Args {
        let mut values = BTreeMap::new();
        let mut it = std::env::args().skip(1);
        while let Some(arg) = it.next() {
            if arg == "--help" || arg == "-h" {
                println!("{usage}");
                std::process::exit(0);
            }
            let Some(name) = arg.strip_prefix("--") else {
                eprintln!("unexpected argument {arg:?}\n{usage}");
                std::process::exit(2);
            };
            let (name, value) = match name.split_once('=') {
                Some((n, v)) => (n.to_string(), v.to_string()),
                None => match it.next() {
                    Some(v) => (name.to_string(), v),
                    None => {
                        eprintln!("--{name} needs a value\n{usage}");
                        std::process::exit(2);
                    }
                },
            };
            values.insert(name, value);
        }
        Args { values }
    }

    /// A string flag with a default.
    pub fn string(&self, name: &str, default: &str) -> String {
        self.values
            .get(name)
            .cloned()
            .unwrap_or_else(|| default.to_string())
    }

    /// A number flag with a default; exits with a message when it does not parse.
    pub fn number<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        match self.values.get(name) {
            None => default,
            Some(v) => v.parse().unwrap_or_else(|_| {
                eprintln!("--{name}: {v:?} is not a valid number");
                std::process::exit(2);
            }),
        }
    }
}

/// Prints the closing line of an example: one JSON object.
pub fn print_json(fields: serde_json::Value) {
    println!("{fields}");
}

/// Class with the highest score in each row of `(n, classes)` predictions.
pub fn predicted_classes(pred: &Tensor) -> Vec<usize> {
    pred.outer_iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |b, (i, &v)| if v > b.1 { (i, v) } else { b },
                )
                .0
        })
        .collect()
}

/// Class indices stored as f32 labels.
pub fn label_classes(y: &Tensor) -> Vec<usize> {
    y.iter().map(|&v| v as usize).collect()
}

/// The confusion matrix of predictions against labels, as a text table.
pub fn confusion_table(
    y: &Tensor,
    pred: &Tensor,
    n_classes: usize,
    names: Option<&[&str]>,
) -> neurite::Result<String> {
    let cm = neurite::metrics::ConfusionMatrix::from_labels(
        &label_classes(y),
        &predicted_classes(pred),
        n_classes,
    )?;
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

fn round_to(v: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (v * p).round() / p
}

/// Prints the test scores and, last, the example's JSON line: `example`,
/// `epochs`, `seconds`, `train_samples_per_sec`, `test_accuracy` (when the
/// model reports accuracy), `test_loss`, plus the `extra` fields.
pub fn finish(
    example: &str,
    history: &History,
    seconds: f64,
    train_samples: usize,
    scores: &neurite::callbacks::Logs,
    extra: serde_json::Value,
) {
    let epochs = history.epochs.len();
    let mut line = serde_json::json!({
        "example": example,
        "epochs": epochs,
        "seconds": round_to(seconds, 2),
        "train_samples_per_sec": round_to((train_samples * epochs) as f64 / seconds, 1),
        "test_loss": round_to(scores["loss"], 4),
    });
    if let Some(acc) = scores.get("accuracy") {
        println!("test loss {:.4}, test accuracy {acc:.4}", scores["loss"]);
        line["test_accuracy"] = serde_json::json!(round_to(*acc, 4));
    }
    if let (Some(obj), serde_json::Value::Object(more)) = (line.as_object_mut(), extra) {
        obj.extend(more);
    }
    print_json(line);
}
