//! Progress display while training: an indicatif bar per epoch (verbose 1)
//! or one line per epoch (verbose 2), on standard error so that standard
//! output stays free for a program's results.

use crate::callbacks::Logs;
use indicatif::{ProgressBar, ProgressStyle};
use std::time::Instant;

pub(crate) struct Progress {
    verbose: u8,
    bar: Option<ProgressBar>,
    started: Instant,
}

/// `loss: 0.1234 - accuracy: 0.9876`, in the order Keras prints.
pub(crate) fn format_logs(logs: &Logs) -> String {
    let mut keys: Vec<&String> = logs.keys().collect();
    keys.sort_by_key(|k| {
        (
            k.starts_with("val_"),
            k.as_str() != "loss" && k.as_str() != "val_loss",
            k.as_str() == "lr",
            k.to_string(),
        )
    });
    keys.iter()
        .map(|k| format!("{k}: {:.4}", logs[*k]))
        .collect::<Vec<_>>()
        .join(" - ")
}

impl Progress {
    pub(crate) fn new(verbose: u8) -> Self {
        Progress {
            verbose,
            bar: None,
            started: Instant::now(),
        }
    }

    pub(crate) fn start_epoch(&mut self, epoch: usize, epochs: usize, batches: usize) {
        self.started = Instant::now();
        if self.verbose == 1 {
            let bar = ProgressBar::new(batches as u64);
            let style = ProgressStyle::with_template(
                "Epoch {prefix} {bar:30.cyan/blue} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(format!("{}/{}", epoch + 1, epochs));
            self.bar = Some(bar);
        }
    }

    pub(crate) fn update(&mut self, batch: usize, logs: &Logs) {
        if let Some(bar) = &self.bar {
            bar.set_position(batch as u64 + 1);
            if batch.is_multiple_of(8) {
                bar.set_message(format_logs(logs));
            }
        }
    }

    pub(crate) fn end_epoch(&mut self, epoch: usize, epochs: usize, logs: &Logs) {
        let secs = self.started.elapsed().as_secs_f64();
        match self.bar.take() {
            Some(bar) => {
                bar.set_message(format_logs(logs));
                bar.finish();
                if bar.is_hidden() {
                    eprintln!(
                        "Epoch {}/{} - {secs:.1}s - {}",
                        epoch + 1,
                        epochs,
                        format_logs(logs)
                    );
                }
            }
            None if self.verbose >= 2 => {
                eprintln!(
                    "Epoch {}/{} - {secs:.1}s - {}",
                    epoch + 1,
                    epochs,
                    format_logs(logs)
                );
            }
            None => {}
        }
    }
}
