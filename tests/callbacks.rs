//! Callbacks: early stopping, checkpoints, learning-rate changes, CSV log.

mod common;

use common::*;
use neurite::callbacks::{Logs, ModelHandle};
use neurite::prelude::*;

/// From the end of epoch 1 on, wrecks the weights so that later epochs' losses are much worse.
struct Sabotage;
impl Callback for Sabotage {
    fn on_epoch_end(
        &mut self,
        epoch: usize,
        _logs: &Logs,
        model: &mut dyn ModelHandle,
    ) -> neurite::Result<()> {
        if epoch >= 1 {
            let mut w = model.get_weights_by_name();
            for (_, t) in w.iter_mut() {
                t.mapv_inplace(|v| -3.0 * v + 0.7);
            }
            model.set_weights_by_name(&w)?;
        }
        Ok(())
    }
}

/// Keeps a copy of the weights at the end of every epoch (registered before Sabotage).
struct Snapshots(Vec<Vec<(String, Tensor)>>);
impl Callback for Snapshots {
    fn on_epoch_end(&mut self, _epoch: usize, _l: &Logs, m: &mut dyn ModelHandle) -> neurite::Result<()> {
        self.0.push(m.get_weights_by_name());
        Ok(())
    }
}

#[test]
fn early_stopping_stops_and_restores_the_best_weights() {
    let (x, y) = three_classes(120);
    let mut model = classifier(8);
    let mut snaps = Snapshots(Vec::new());
    let mut sabotage = Sabotage;
    let mut es = EarlyStopping::new("loss").patience(2).restore_best_weights(true);
    let h = model
        .fit(
            &x,
            &y,
            FitOptions::new()
                .epochs(20)
                .verbose(0)
                .callback(&mut snaps)
                .callback(&mut es)
                .callback(&mut sabotage),
        )
        .unwrap();
    let losses = h.get("loss").unwrap().to_vec();
    let best = es.best_epoch().unwrap();
    assert!(best <= 1, "best epoch {best}, losses {losses:?}");
    assert_eq!(es.stopped_epoch(), Some(best + 2), "losses {losses:?}");
    assert_eq!(h.epochs.len(), best + 3);
    assert_eq!(model.get_weights_by_name(), snaps.0[best]);
}

/// Keeps each epoch's monitored value and the weights the checkpoint sees at that epoch's end.
struct Recorder {
    key: &'static str,
    values: Vec<f64>,
    weights: Vec<Vec<(String, Tensor)>>,
}
impl Callback for Recorder {
    fn on_epoch_end(&mut self, _epoch: usize, logs: &Logs, m: &mut dyn ModelHandle) -> neurite::Result<()> {
        self.values.push(logs[self.key]);
        self.weights.push(m.get_weights_by_name());
        Ok(())
    }
}

#[test]
fn model_checkpoint_saves_best_only() {
    let (x, y) = three_classes(120);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("best");
    let mut model = classifier(9);
    let mut ckpt = ModelCheckpoint::new(path.to_string_lossy())
        .monitor("val_loss")
        .save_best_only(true);
    let mut rec = Recorder {
        key: "val_loss",
        values: Vec::new(),
        weights: Vec::new(),
    };
    // Sabotage (last in the list) wrecks the weights from the end of epoch 1 on, after the
    // checkpoint and the recorder have seen them, so the later epochs are worse.
    let mut sabotage = Sabotage;
    model
        .fit(
            &x,
            &y,
            FitOptions::new()
                .epochs(5)
                .validation_split(0.25)
                .verbose(0)
                .callback(&mut rec)
                .callback(&mut ckpt)
                .callback(&mut sabotage),
        )
        .unwrap();
    let losses = rec.values.clone();
    let best = (0..losses.len())
        .min_by(|&a, &b| losses[a].total_cmp(&losses[b]))
        .unwrap();
    // The run must contain a worse epoch after the best one, or the test proves nothing.
    assert!(
        best + 1 < losses.len() && losses[best + 1..].iter().all(|&v| v > losses[best]),
        "val_loss per epoch {losses:?}"
    );
    // One save per strict improvement (min_delta 0), all to the same folder.
    let improvements = (0..losses.len())
        .filter(|&e| losses[..e].iter().all(|&v| losses[e] < v))
        .count();
    assert_eq!(ckpt.saved().len(), improvements, "val_loss per epoch {losses:?}");
    assert!(ckpt.saved().iter().all(|p| p == &path));
    // The folder holds the best epoch's weights: the worse epochs did not overwrite them.
    let loaded = Sequential::load(&path).unwrap();
    assert_eq!(
        loaded.get_weights_by_name(),
        rec.weights[best],
        "best epoch {best}, val_loss per epoch {losses:?}"
    );
    assert_ne!(loaded.get_weights_by_name(), model.get_weights_by_name());
    // The checkpoint is a working model: its val_loss is the best epoch's.
    let n_train = 90;
    let idx: Vec<usize> = (n_train..120).collect();
    let vx = x.select(ndarray::Axis(0), &idx);
    let vy = y.select(ndarray::Axis(0), &idx);
    let scores = loaded.evaluate(&vx, &vy).unwrap();
    assert!(
        (scores["loss"] - losses[best]).abs() <= 1e-6 * losses[best].abs().max(1.0),
        "{} vs {}",
        scores["loss"],
        losses[best]
    );

    let every = dir.path().join("epoch-{epoch}");
    let mut ckpt = ModelCheckpoint::new(every.to_string_lossy()).period(2);
    let mut model = classifier(9);
    model
        .fit(&x, &y, FitOptions::new().epochs(4).verbose(0).callback(&mut ckpt))
        .unwrap();
    assert_eq!(ckpt.saved().len(), 2);
    assert!(dir.path().join("epoch-2").join("model.safetensors").exists());
    assert!(dir.path().join("epoch-4").join("model.safetensors").exists());
}

#[test]
fn learning_rate_callbacks_change_the_rate() {
    let (x, y) = three_classes(60);
    let mut model = classifier(1);
    let mut sched = LearningRateScheduler::new(|epoch, _lr| 0.1 / (epoch as f32 + 1.0));
    let h = model
        .fit(
            &x,
            &y,
            FitOptions::new().epochs(3).verbose(0).callback(&mut sched),
        )
        .unwrap();
    let lr = h.get("lr").unwrap();
    assert!(
        (lr[0] - 0.1).abs() < 1e-6 && (lr[2] - 0.1 / 3.0).abs() < 1e-6,
        "{lr:?}"
    );

    // A monitored value that never improves: the rate is cut every `patience` epochs.
    let mut model = classifier(1);
    let mut plateau = ReduceLrOnPlateau::new("never_improves").factor(0.5).patience(1);
    // A value that is never logged: Keras warns and leaves the rate alone.
    let h = model
        .fit(
            &x,
            &y,
            FitOptions::new().epochs(3).verbose(0).callback(&mut plateau),
        )
        .unwrap();
    let lr = h.get("lr").unwrap();
    assert!(
        lr.len() == 3 && lr.iter().all(|&v| (v - 0.01).abs() < 1e-6),
        "{lr:?}"
    );
    let mut model = classifier(1);
    let mut plateau = ReduceLrOnPlateau::new("lr")
        .factor(0.5)
        .patience(1)
        .mode(neurite::callbacks::Mode::Max);
    let h = model
        .fit(
            &x,
            &y,
            FitOptions::new().epochs(4).verbose(0).callback(&mut plateau),
        )
        .unwrap();
    let lr = h.get("lr").unwrap();
    assert!(lr[3] < lr[0], "{lr:?}");
}

#[test]
fn csv_logger_writes_one_line_per_epoch() {
    let (x, y) = three_classes(60);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.csv");
    let mut logger = CsvLogger::new(&path);
    let mut model = classifier(1);
    model
        .fit(
            &x,
            &y,
            FitOptions::new().epochs(3).verbose(0).callback(&mut logger),
        )
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].starts_with("epoch,") && lines[0].contains("accuracy") && lines[0].contains("loss"));
    assert!(lines[3].starts_with("2,"));
}

#[test]
fn custom_layers_train_through_the_same_loop() {
    // A user-written network: y = x·w (no bias), trained on y = 2*x0 - x1.
    struct Linear {
        w: Option<Var>,
        name: String,
    }
    impl Layer for Linear {
        fn class_name(&self) -> &'static str {
            "Linear"
        }
        fn name(&self) -> &str {
            &self.name
        }
        fn set_name(&mut self, name: String) {
            self.name = name;
        }
        fn build(
            &mut self,
            input_shape: &[usize],
            _rng: &mut neurite_rand::Generator,
        ) -> neurite::nn::Result<()> {
            self.w = Some(Var::parameter(
                ndarray::Array2::<f32>::zeros((input_shape[0], 1)).into_dyn(),
            ));
            Ok(())
        }
        fn is_built(&self) -> bool {
            self.w.is_some()
        }
        fn output_shape(&self, _input_shape: &[usize]) -> neurite::nn::Result<Vec<usize>> {
            Ok(vec![1])
        }
        fn forward(&self, x: &Var, _ctx: &mut ForwardContext) -> neurite::nn::Result<Var> {
            let w = self
                .w
                .as_ref()
                .ok_or_else(|| neurite::nn::NnError::NotBuilt(self.name.clone()))?;
            Ok(ops::matmul(x, w)?)
        }
        fn parameters(&self) -> Vec<Parameter> {
            self.w
                .iter()
                .map(|w| Parameter {
                    name: format!("{}.w", self.name),
                    var: w.clone(),
                    trainable: true,
                })
                .collect()
        }
        fn trainable(&self) -> bool {
            true
        }
        fn set_trainable(&mut self, _t: bool) {}
        fn config(&self) -> serde_json::Value {
            serde_json::json!({"name": self.name})
        }
    }
    let x =
        ndarray::Array2::<f32>::from_shape_fn((64, 2), |(i, j)| ((i * 5 + j * 3) % 17) as f32 / 17.0 - 0.5);
    let y = x
        .map_axis(ndarray::Axis(1), |r| 2.0 * r[0] - r[1])
        .insert_axis(ndarray::Axis(1));
    let mut model = Model::from_network(Linear {
        w: None,
        name: "linear".into(),
    });
    model
        .compile(Sgd::new(0.5), Loss::MeanSquaredError, &[Metric::Mae])
        .unwrap();
    model
        .fit(
            x.into_dyn(),
            y.into_dyn(),
            FitOptions::new().epochs(60).batch_size(16).verbose(0),
        )
        .unwrap();
    let w = model.get_weights_by_name().remove(0).1;
    assert!(
        (w[[0, 0]] - 2.0).abs() < 0.05 && (w[[1, 0]] + 1.0).abs() < 0.05,
        "{w}"
    );
}
