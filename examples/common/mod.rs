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
