//! Behaviour of `ReduceLrOnPlateau`, `EarlyStopping` and `cross_validate`, traced by hand.
//!
//! The callbacks are driven directly through a small [`ModelHandle`] harness with hand-made
//! logs, so the monitored values (and therefore the expected learning rates and stops) are
//! exact; Keras 3's `ReduceLROnPlateau` and `EarlyStopping` are the reference for the traces.
//! `cross_validate` is compared with an independent loop that fits a fresh model per split.
//!
//! Each test was seen to fail on a deliberately broken line (issue #23): `cooldown_left = 0`
//! instead of `= self.cooldown` and `lr * factor` without `.max(min_lr)` in `callbacks/lr.rs`;
//! `min_delta` dropped from `Monitor::improved` and `Mode::Max => true` in
//! `callbacks/monitor.rs`; `cross_validate` evaluating on the training rows.

mod common;

use common::*;
use neurite::callbacks::{Logs, Mode, ModelHandle};
use neurite::prelude::*;
use std::path::Path;

/// A model stand-in: a learning rate, one weight tensor, and whether training was stopped.
struct Harness {
    lr: f32,
    weights: Vec<(String, Tensor)>,
    stopped_at: Option<usize>,
    epoch: usize,
}

impl Harness {
    fn new(lr: f32) -> Self {
        Harness {
            lr,
            weights: vec![("w".into(), ndarray::arr1(&[0.0f32]).into_dyn())],
            stopped_at: None,
            epoch: 0,
        }
    }
}

impl ModelHandle for Harness {
    fn get_weights_by_name(&self) -> Vec<(String, Tensor)> {
        self.weights.clone()
    }
    fn set_weights_by_name(&mut self, weights: &[(String, Tensor)]) -> neurite::Result<()> {
        self.weights = weights.to_vec();
        Ok(())
    }
    fn learning_rate(&self) -> Option<f32> {
        Some(self.lr)
    }
    fn set_learning_rate(&mut self, lr: f32) {
        self.lr = lr;
    }
    fn stop_training(&mut self) {
        self.stopped_at.get_or_insert(self.epoch);
    }
    fn save(&self, _dir: &Path) -> neurite::Result<()> {
        Ok(())
    }
}

fn logs(key: &str, value: f64) -> Logs {
    [(key.to_string(), value)].into_iter().collect()
}

/// Runs `cb` over one epoch per value of `key` (as `fit` would, stopping when asked) and
/// returns the learning rate after each epoch.
fn drive(cb: &mut dyn Callback, h: &mut Harness, key: &str, values: &[f64]) -> Vec<f32> {
    cb.prepare().unwrap();
    cb.on_train_begin(h).unwrap();
    let mut rates = Vec::new();
    for (epoch, &v) in values.iter().enumerate() {
        h.epoch = epoch;
        // The weights at the end of epoch e are [e], so a restore names its epoch.
        h.weights[0].1 = ndarray::arr1(&[epoch as f32]).into_dyn();
        cb.on_epoch_begin(epoch, h).unwrap();
        cb.on_epoch_end(epoch, &logs(key, v), h).unwrap();
        rates.push(h.lr);
        if h.stopped_at.is_some() {
            break;
        }
    }
    cb.on_train_end(h).unwrap();
    rates
}

#[test]
fn reduce_lr_on_plateau_cooldown_skips_epochs_and_min_lr_bounds_the_rate() {
    // factor 0.5, patience 1, cooldown 2, min_lr 0.01, a value that never improves after epoch 0.
    // Keras: epoch 0 sets best; epoch 1 waits 1 >= 1 -> 0.05, cooldown 2; epoch 2 is in
    // cooldown (counter 2 -> 1); epoch 3: counter 1 -> 0, not in cooldown, wait 1 -> 0.025; ...
    // until 0.00625 is clamped to min_lr 0.01, which then stays.
    let mut cb = ReduceLrOnPlateau::new("val_loss")
        .factor(0.5)
        .patience(1)
        .cooldown(2)
        .min_lr(0.01)
        .min_delta(0.0);
    let mut h = Harness::new(0.1);
    let rates = drive(&mut cb, &mut h, "val_loss", &[1.0; 11]);
    let (a, b, c, d) = (0.1f32, 0.1f32 * 0.5, 0.1f32 * 0.5 * 0.5, 0.1f32 * 0.5 * 0.5 * 0.5);
    assert_eq!(rates, vec![a, b, b, c, c, d, d, 0.01, 0.01, 0.01, 0.01]);

    // Without cooldown the same values halve the rate every epoch down to min_lr.
    let mut cb = ReduceLrOnPlateau::new("val_loss")
        .factor(0.5)
        .patience(1)
        .min_lr(0.01)
        .min_delta(0.0);
    let mut h = Harness::new(0.1);
    let rates = drive(&mut cb, &mut h, "val_loss", &[1.0; 6]);
    assert_eq!(rates, vec![a, b, c, d, 0.01, 0.01]);
}

#[test]
fn reduce_lr_on_plateau_min_delta_and_improvement_during_cooldown() {
    // patience 2, cooldown 1, min_delta 0.01: an improvement smaller than 0.01 is no improvement.
    // e0 1.0 best; e1 0.995 (< 0.99? no) wait 1; e2 0.992 (no) wait 2 -> 0.05, cooldown 1;
    // e3 0.98: counter 1 -> 0, improves (0.98 < 0.99), best 0.98; e4 0.975 wait 1;
    // e5 0.972 wait 2 -> 0.025, cooldown 1; e6 0.5: counter -> 0, improves; e7 0.495 wait 1;
    // e8 0.495 wait 2 -> 0.0125.
    let mut cb = ReduceLrOnPlateau::new("val_loss")
        .factor(0.5)
        .patience(2)
        .cooldown(1)
        .min_delta(0.01);
    let mut h = Harness::new(0.1);
    let values = [1.0, 0.995, 0.992, 0.98, 0.975, 0.972, 0.5, 0.495, 0.495];
    let rates = drive(&mut cb, &mut h, "val_loss", &values);
    let (a, b, c, d) = (0.1f32, 0.05f32, 0.025f32, 0.0125f32);
    assert_eq!(rates, vec![a, a, b, b, b, c, c, c, d]);
}

#[test]
fn reduce_lr_on_plateau_mode_decides_the_direction() {
    // "val_accuracy" is maximised in Auto mode: a falling accuracy is a plateau.
    let falling = [0.9, 0.8, 0.7, 0.6];
    let mut cb = ReduceLrOnPlateau::new("val_accuracy").factor(0.5).patience(1);
    let mut h = Harness::new(0.1);
    assert_eq!(
        drive(&mut cb, &mut h, "val_accuracy", &falling),
        vec![0.1, 0.05, 0.025, 0.0125]
    );
    // The same values in Min mode improve every epoch: the rate is kept.
    let mut cb = ReduceLrOnPlateau::new("val_accuracy")
        .factor(0.5)
        .patience(1)
        .mode(Mode::Min);
    let mut h = Harness::new(0.1);
    assert_eq!(drive(&mut cb, &mut h, "val_accuracy", &falling), vec![0.1; 4]);
    // Max mode on a loss: a falling loss is a plateau.
    let mut cb = ReduceLrOnPlateau::new("val_loss")
        .factor(0.5)
        .patience(1)
        .mode(Mode::Max);
    let mut h = Harness::new(0.1);
    assert_eq!(
        drive(&mut cb, &mut h, "val_loss", &falling),
        vec![0.1, 0.05, 0.025, 0.0125]
    );
}

#[test]
fn reduce_lr_on_plateau_in_fit_follows_the_trace() {
    // Through `fit`: monitoring "lr" in Max mode never improves after epoch 0 (the rate only
    // falls), so with patience 1, cooldown 2 the rate logged at epoch e (before that epoch's
    // reduction) is 0.01, 0.01, 0.005, 0.005, 0.0025 (epochs 2 and 4 are in cooldown).
    let (x, y) = three_classes(40);
    let mut model = classifier(4);
    let mut cb = ReduceLrOnPlateau::new("lr")
        .factor(0.5)
        .patience(1)
        .cooldown(2)
        .mode(Mode::Max);
    let h = model
        .fit(&x, &y, FitOptions::new().epochs(5).verbose(0).callback(&mut cb))
        .unwrap();
    let lr: Vec<f32> = h.get("lr").unwrap().iter().map(|&v| v as f32).collect();
    assert_eq!(lr, vec![0.01, 0.01, 0.005, 0.005, 0.0025]);
    assert_eq!(model.learning_rate(), Some(0.0025));
}

#[test]
fn early_stopping_min_delta_counts_small_gains_as_no_improvement() {
    // min_delta 0.1, patience 2: 0.95 and 0.92 are within 0.1 of 1.0, so epochs 1 and 2 wait,
    // and training stops at epoch 2; the best epoch is 0.
    let values = [1.0, 0.95, 0.92, 0.5, 0.4];
    let mut es = EarlyStopping::new("val_loss")
        .patience(2)
        .min_delta(0.1)
        .restore_best_weights(true);
    let mut h = Harness::new(0.1);
    drive(&mut es, &mut h, "val_loss", &values);
    assert_eq!(h.stopped_at, Some(2));
    assert_eq!(es.stopped_epoch(), Some(2));
    assert_eq!(es.best_epoch(), Some(0));
    // The weights of epoch 0 are restored.
    assert_eq!(h.weights[0].1, ndarray::arr1(&[0.0f32]).into_dyn());

    // Without min_delta every value improves: no stop, best epoch 4, its weights kept.
    let mut es = EarlyStopping::new("val_loss")
        .patience(2)
        .restore_best_weights(true);
    let mut h = Harness::new(0.1);
    drive(&mut es, &mut h, "val_loss", &values);
    assert_eq!((h.stopped_at, es.stopped_epoch()), (None, None));
    assert_eq!(es.best_epoch(), Some(4));
    assert_eq!(h.weights[0].1, ndarray::arr1(&[4.0f32]).into_dyn());

    // A gain of exactly min_delta is not enough (Keras: `current < best - min_delta`);
    // a larger one is. 1.0 -> 0.75 (= 1.0 - 0.25) waits, 0.7 improves, then 0.7, 0.7 stop.
    let mut es = EarlyStopping::new("val_loss").patience(2).min_delta(0.25);
    let mut h = Harness::new(0.1);
    drive(&mut es, &mut h, "val_loss", &[1.0, 0.75, 0.7, 0.7, 0.7, 0.1]);
    assert_eq!(es.best_epoch(), Some(2));
    assert_eq!(h.stopped_at, Some(4));
}

#[test]
fn early_stopping_mode_decides_the_direction() {
    let rising = [0.1, 0.2, 0.3, 0.4, 0.5];
    // Auto on an accuracy: higher is better, a rising accuracy never stops.
    let mut es = EarlyStopping::new("val_accuracy").patience(1);
    let mut h = Harness::new(0.1);
    drive(&mut es, &mut h, "val_accuracy", &rising);
    assert_eq!((h.stopped_at, es.best_epoch()), (None, Some(4)));
    // Min on the same values: epoch 1 is worse, patience 1 stops there.
    let mut es = EarlyStopping::new("val_accuracy").patience(1).mode(Mode::Min);
    let mut h = Harness::new(0.1);
    drive(&mut es, &mut h, "val_accuracy", &rising);
    assert_eq!((h.stopped_at, es.best_epoch()), (Some(1), Some(0)));
    // Auto on a loss: lower is better, so a rising loss stops at epoch 1 ...
    let mut es = EarlyStopping::new("val_loss").patience(1);
    let mut h = Harness::new(0.1);
    drive(&mut es, &mut h, "val_loss", &rising);
    assert_eq!((h.stopped_at, es.best_epoch()), (Some(1), Some(0)));
    // ... and Max on a loss does not stop.
    let mut es = EarlyStopping::new("val_loss").patience(1).mode(Mode::Max);
    let mut h = Harness::new(0.1);
    drive(&mut es, &mut h, "val_loss", &rising);
    assert_eq!((h.stopped_at, es.best_epoch()), (None, Some(4)));
    // Max with min_delta 0.25: 0.2 and 0.3 are within 0.25 of 0.1; patience 2 stops at epoch 2.
    let mut es = EarlyStopping::new("val_accuracy")
        .patience(2)
        .mode(Mode::Max)
        .min_delta(0.25);
    let mut h = Harness::new(0.1);
    drive(&mut es, &mut h, "val_accuracy", &rising);
    assert_eq!((h.stopped_at, es.best_epoch()), (Some(2), Some(0)));
}

/// Rows `idx` of `t`, gathered independently of the library.
fn rows(t: &Tensor, idx: &[usize]) -> Tensor {
    t.select(ndarray::Axis(0), idx)
}

#[test]
fn cross_validate_scores_equal_an_independent_loop() {
    let (x, y) = three_classes(90);
    let labels: Vec<usize> = y.iter().map(|&v| v as usize).collect();
    let splits = neurite::data::StratifiedKFold::new(3)
        .shuffle(11)
        .split(&labels)
        .unwrap();
    let options = |fold: usize| FitOptions::new().epochs(2 + fold).batch_size(16).verbose(0);
    let cv =
        neurite::cross_validate(|fold| Ok(classifier(100 + fold as u64)), &x, &y, &splits, options).unwrap();

    assert_eq!(cv.folds.len(), splits.len());
    for (fold, (train, test)) in splits.iter().enumerate() {
        let mut model = classifier(100 + fold as u64);
        model
            .fit(rows(&x, train), rows(&y, train), options(fold))
            .unwrap();
        let scores = model.evaluate(rows(&x, test), rows(&y, test)).unwrap();
        assert_eq!(cv.folds[fold], scores, "fold {fold}");
    }
    for key in ["loss", "accuracy"] {
        let v: Vec<f64> = cv.folds.iter().map(|f| f[key]).collect();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let std = (v.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
        assert!(
            (cv.mean[key] - mean).abs() <= 1e-12,
            "{key}: {} vs {mean}",
            cv.mean[key]
        );
        assert!(
            (cv.std[key] - std).abs() <= 1e-12,
            "{key}: {} vs {std}",
            cv.std[key]
        );
    }
    // The folds really differ (different test rows), so equal scores are not trivially equal.
    assert_ne!(cv.folds[0], cv.folds[1]);
}
