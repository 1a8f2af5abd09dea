//! Training, evaluation and prediction from data streams (issue #18): the same weights as
//! from arrays, Keras' steps_per_epoch semantics, and errors for bad streams.

use neurite::data::augment::{Pipeline, RandomFlip};
use neurite::data::stream::{MmapNpyDataset, Shard, ShardStream};
use neurite::data::{npy, DataLoader, Dataset};
use neurite::prelude::*;
use neurite::DataStream;
use std::sync::{Arc, Mutex};

fn images(n: usize, seed: u64) -> (Tensor, Tensor) {
    let x = Tensor::from_shape_fn(ndarray::IxDyn(&[n, 6, 6, 1]), |i| {
        (((i[0] as u64 * 31 + i[1] as u64 * 7 + i[2] as u64 * 3 + seed) % 17) as f32) / 17.0
    });
    let y = Tensor::from_shape_fn(ndarray::IxDyn(&[n]), |i| ((i[0] as u64 + seed) % 3) as f32);
    (x, y)
}

fn cnn(seed: u64) -> Sequential {
    let mut m = Sequential::new()
        .add(
            Conv2D::new(4, (3, 3))
                .activation(Activation::Relu)
                .input_shape([6, 6, 1]),
        )
        .add(Flatten::new())
        .add(Dropout::new(0.3))
        .add(Dense::new(3).activation(Activation::Softmax))
        .seed(seed);
    m.compile(
        Adam::new(0.01),
        Loss::SparseCategoricalCrossentropy { from_logits: false },
        &[Metric::Accuracy],
    )
    .unwrap();
    m
}

fn bits(model: &Sequential) -> Vec<Vec<u32>> {
    model
        .get_weights()
        .iter()
        .map(|w| w.iter().map(|v| v.to_bits()).collect())
        .collect()
}

#[test]
fn an_indexed_stream_trains_bit_identically_to_arrays() {
    let (x, y) = images(70, 1);
    let (vx, vy) = images(20, 2);
    let flip = Pipeline::new().then(RandomFlip::horizontal());
    let opts = || {
        FitOptions::new()
            .epochs(3)
            .batch_size(16)
            .verbose(0)
            .validation_data(&vx, &vy)
            .augmentation(&flip)
    };
    let mut from_arrays = cnn(5);
    let h1 = from_arrays.fit(&x, &y, opts()).unwrap();

    let mut from_memory = cnn(5);
    let ds = Dataset::new(x.clone(), y.clone()).unwrap();
    let h2 = from_memory
        .fit_stream(DataStream::indexed(ds).prefetch(3), opts())
        .unwrap();

    // The same arrays written to .npy shards and memory-mapped, read without prefetch.
    let dir = tempfile::tempdir().unwrap();
    let mut pairs = Vec::new();
    for (s, range) in [(0, 0..33), (1, 33..70)] {
        let (xp, yp) = (
            dir.path().join(format!("x{s}.npy")),
            dir.path().join(format!("y{s}.npy")),
        );
        npy::write(
            &xp,
            &x.slice_axis(ndarray::Axis(0), range.clone().into()).to_owned(),
        )
        .unwrap();
        npy::write(&yp, &y.slice_axis(ndarray::Axis(0), range.into()).to_owned()).unwrap();
        pairs.push((xp, yp));
    }
    let mut from_disk = cnn(5);
    let mapped = MmapNpyDataset::open_shards(&pairs).unwrap();
    let h3 = from_disk
        .fit_stream(DataStream::indexed(mapped).prefetch(0), opts())
        .unwrap();

    assert_eq!(bits(&from_arrays), bits(&from_memory));
    assert_eq!(bits(&from_arrays), bits(&from_disk));
    for key in ["loss", "accuracy", "val_loss", "val_accuracy"] {
        assert_eq!(h1.get(key), h2.get(key), "{key}");
        assert_eq!(h1.get(key), h3.get(key), "{key}");
    }
    assert_eq!(from_disk.epochs_done(), 3);
}

#[test]
fn prefetching_changes_nothing_and_a_loader_keeps_its_own_order() {
    let (x, y) = images(50, 3);
    let loader = || {
        DataLoader::new(Dataset::new(x.clone(), y.clone()).unwrap(), 8)
            .unwrap()
            .shuffle(true)
            .seed(9)
            .augment(Pipeline::new().then(RandomFlip::horizontal()))
            .unwrap()
    };
    let train = |depth: usize| {
        let mut m = cnn(2);
        let h = m
            .fit_stream(
                DataStream::from(loader()).prefetch(depth),
                FitOptions::new().epochs(2).verbose(0),
            )
            .unwrap();
        (bits(&m), h.get("loss").unwrap().to_vec())
    };
    let (a, b) = (train(0), train(4));
    assert_eq!(a, b);
    // The loader's own prefetch thread off as well: still the same.
    let mut m = cnn(2);
    m.fit_stream(
        DataStream::from(loader().prefetch(0)),
        FitOptions::new().epochs(2).verbose(0),
    )
    .unwrap();
    assert_eq!(bits(&m), a.0);
}

#[test]
fn shard_files_train_and_a_mismatched_shard_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut shards = Vec::new();
    for s in 0..3 {
        let (x, y) = images(12, s);
        let (xp, yp) = (
            dir.path().join(format!("x{s}.npy")),
            dir.path().join(format!("y{s}.npy")),
        );
        npy::write(&xp, &x).unwrap();
        npy::write(&yp, &y).unwrap();
        shards.push(Shard::npy(xp, yp));
    }
    let stream = || {
        ShardStream::new(shards.clone(), 8)
            .unwrap()
            .shuffle(true)
            .buffer_size(10)
            .seed(4)
    };
    let mut a = cnn(1);
    let h = a
        .fit_stream(stream(), FitOptions::new().epochs(2).verbose(0))
        .unwrap();
    assert_eq!(h.get("loss").unwrap().len(), 2);
    let mut b = cnn(1);
    b.fit_stream(stream(), FitOptions::new().epochs(2).verbose(0))
        .unwrap();
    assert_eq!(bits(&a), bits(&b), "same seed, same weights");

    let odd = dir.path().join("odd.npy");
    npy::write(&odd, &Tensor::zeros(ndarray::IxDyn(&[12, 5, 5, 1]))).unwrap();
    let mut bad = shards.clone();
    bad.push(Shard::npy(&odd, dir.path().join("y0.npy")));
    let e = cnn(1)
        .fit_stream(ShardStream::new(bad, 8).unwrap(), FitOptions::new().verbose(0))
        .unwrap_err()
        .to_string();
    assert!(e.contains("odd.npy") && e.contains("[5, 5, 1]"), "{e}");
}

/// Counts the training batches of each epoch.
#[derive(Default)]
struct StepsPerEpoch(Vec<usize>);

impl neurite::callbacks::Callback for StepsPerEpoch {
    fn on_batch_end(
        &mut self,
        epoch: usize,
        _batch: usize,
        _logs: &neurite::callbacks::Logs,
        _model: &mut dyn neurite::callbacks::ModelHandle,
    ) -> neurite::Result<()> {
        if self.0.len() <= epoch {
            self.0.resize(epoch + 1, 0);
        }
        self.0[epoch] += 1;
        Ok(())
    }
}

fn batch(v: f32) -> (Tensor, Tensor) {
    (
        Tensor::from_elem(ndarray::IxDyn(&[4, 6, 6, 1]), v),
        Tensor::zeros(ndarray::IxDyn(&[4])),
    )
}

#[test]
fn steps_per_epoch_follows_keras() {
    // A restartable generator of 3 batches, 2 steps per epoch: passes run on across epochs,
    // a pass that runs out mid-epoch ends the epoch, the next epoch starts a new pass.
    let passes = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&passes);
    let stream = DataStream::generator(move |pass| {
        seen.lock().unwrap().push(pass);
        (0..3).map(|i| batch(i as f32))
    });
    let mut steps = StepsPerEpoch::default();
    let h = cnn(0)
        .fit_stream(
            stream,
            FitOptions::new()
                .epochs(4)
                .steps_per_epoch(2)
                .verbose(0)
                .callback(&mut steps),
        )
        .unwrap();
    assert_eq!(steps.0, vec![2, 1, 2, 1]);
    assert_eq!(*passes.lock().unwrap(), vec![0, 1]);
    assert_eq!(h.get("loss").unwrap().len(), 4);

    // A pass used up exactly at an epoch's end starts over at the next epoch.
    let mut steps = StepsPerEpoch::default();
    let ds = Dataset::new(images(16, 0).0, images(16, 0).1).unwrap();
    cnn(0)
        .fit_stream(
            DataStream::indexed(ds),
            FitOptions::new()
                .epochs(3)
                .batch_size(4)
                .steps_per_epoch(2)
                .verbose(0)
                .callback(&mut steps),
        )
        .unwrap();
    assert_eq!(steps.0, vec![2, 2, 2]);

    // A read-once iterator of 5 batches: 2, 2, 1, then nothing left stops training.
    let mut steps = StepsPerEpoch::default();
    let mut model = cnn(0);
    let h = model
        .fit_stream(
            DataStream::from_iter((0..5).map(|i| batch(i as f32))),
            FitOptions::new()
                .epochs(6)
                .steps_per_epoch(2)
                .verbose(0)
                .callback(&mut steps),
        )
        .unwrap();
    assert_eq!(steps.0, vec![2, 2, 1]);
    assert_eq!((h.get("loss").unwrap().len(), model.epochs_done()), (3, 3));

    // Without steps_per_epoch, a read-once iterator is one epoch.
    let h = cnn(0)
        .fit_stream(
            DataStream::from_iter((0..3).map(|i| batch(i as f32))),
            FitOptions::new().epochs(3).verbose(0),
        )
        .unwrap();
    assert_eq!(h.get("loss").unwrap().len(), 1);
}

#[test]
fn validation_streams_evaluate_and_predict_match_the_array_paths() {
    let (x, y) = images(40, 6);
    let (vx, vy) = images(24, 7);
    let mut a = cnn(3);
    let mut b = cnn(3);
    let ha = a
        .fit(
            &x,
            &y,
            FitOptions::new()
                .epochs(2)
                .batch_size(8)
                .verbose(0)
                .validation_data(&vx, &vy),
        )
        .unwrap();
    let val = DataStream::indexed(Dataset::new(vx.clone(), vy.clone()).unwrap()).batch_size(8);
    let hb = b
        .fit_stream(
            DataStream::indexed(Dataset::new(x.clone(), y.clone()).unwrap()),
            FitOptions::new()
                .epochs(2)
                .batch_size(8)
                .verbose(0)
                .validation_stream(val),
        )
        .unwrap();
    assert_eq!(ha.get("val_loss"), hb.get("val_loss"));
    assert_eq!(ha.get("val_accuracy"), hb.get("val_accuracy"));

    // validation_steps: only the first 2 batches of 8.
    let val = DataStream::indexed(Dataset::new(vx.clone(), vy.clone()).unwrap()).batch_size(8);
    let first16 = b
        .evaluate_batched(
            vx.slice_axis(ndarray::Axis(0), (0..16).into()).to_owned(),
            vy.slice_axis(ndarray::Axis(0), (0..16).into()).to_owned(),
            8,
        )
        .unwrap();
    assert_eq!(b.evaluate_stream(val, Some(2)).unwrap(), first16);

    let chunks: Vec<(Tensor, Tensor)> = (0..3)
        .map(|c| {
            let r = c * 8..(c + 1) * 8;
            (
                vx.slice_axis(ndarray::Axis(0), r.clone().into()).to_owned(),
                vy.slice_axis(ndarray::Axis(0), r.into()).to_owned(),
            )
        })
        .collect();
    assert_eq!(
        b.evaluate_stream(DataStream::from_iter(chunks.clone()), None)
            .unwrap(),
        b.evaluate_batched(&vx, &vy, 8).unwrap()
    );
    assert_eq!(
        b.predict_stream(DataStream::from_iter(chunks), None).unwrap(),
        b.predict_batched(&vx, 8).unwrap()
    );
}

#[test]
fn functional_models_with_several_inputs_and_outputs_stream() {
    let (a, bb) = (Input::named("a", [3]), Input::named("b", [2]));
    let h = Concatenate::new().call_many(&[&a, &bb]).unwrap();
    let p = Dense::new(1).with_name("p").call(&h).unwrap();
    let q = Dense::new(2).with_name("q").call(&h).unwrap();
    let mut model = Model::functional_many(&[&a, &bb], &[&p, &q]).unwrap();
    model
        .compile(Sgd::new(0.05), Loss::MeanSquaredError, &[])
        .unwrap();
    let make = |i: usize| {
        let f = |shape: &[usize]| {
            Tensor::from_shape_fn(ndarray::IxDyn(shape), |j| {
                ((i + j[0] * 3 + j[1]) % 5) as f32 / 5.0
            })
        };
        (vec![f(&[4, 3]), f(&[4, 2])], vec![f(&[4, 1]), f(&[4, 2])])
    };
    let hist = model
        .fit_stream(
            DataStream::generator(move |_| (0..4).map(make)),
            FitOptions::new().epochs(2).verbose(0),
        )
        .unwrap();
    assert!(hist.get("p_loss").is_some() && hist.get("q_loss").is_some());
    let out = model
        .predict_many_stream(DataStream::generator(move |_| (0..2).map(make)), None)
        .unwrap();
    assert_eq!((out[0].shape(), out[1].shape()), (&[8, 1][..], &[8, 2][..]));
    // One target array too few.
    let e = model
        .fit_stream(
            DataStream::from_iter(vec![(
                vec![make(0).0[0].clone(), make(0).0[1].clone()],
                vec![make(0).1[0].clone()],
            )]),
            FitOptions::new().verbose(0),
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("1 target array(s)") && e.contains("2 output(s)"),
        "{e}"
    );
}

#[test]
fn bad_streams_and_options_are_errors() {
    let msg = |r: neurite::Result<History>| r.unwrap_err().to_string();
    // Zero steps.
    let e = msg(cnn(0).fit_stream(
        DataStream::from_iter(Vec::<(Tensor, Tensor)>::new()),
        FitOptions::new().verbose(0),
    ));
    assert!(e.contains("no batches"), "{e}");
    let e = msg(cnn(0).fit_stream(
        DataStream::from_iter(vec![batch(0.0)]),
        FitOptions::new().steps_per_epoch(0).verbose(0),
    ));
    assert!(e.contains("zero steps"), "{e}");
    // A batch whose sample shape changes.
    let odd = (
        Tensor::zeros(ndarray::IxDyn(&[4, 5, 6, 1])),
        Tensor::zeros(ndarray::IxDyn(&[4])),
    );
    let e = msg(cnn(0).fit_stream(
        DataStream::from_iter(vec![batch(0.0), odd]),
        FitOptions::new().verbose(0),
    ));
    assert!(e.contains("batch 1 of epoch 0") && e.contains("[5, 6, 1]"), "{e}");
    // x and y of different lengths in one batch.
    let short = (
        Tensor::zeros(ndarray::IxDyn(&[4, 6, 6, 1])),
        Tensor::zeros(ndarray::IxDyn(&[3])),
    );
    let e = msg(cnn(0).fit_stream(DataStream::from_iter(vec![short]), FitOptions::new().verbose(0)));
    assert!(e.contains("shape [3]") && e.contains("4 samples"), "{e}");
    // The source's own error.
    let failing = vec![Ok(batch(0.0)), Err("shard 7 unreadable")];
    let e = msg(cnn(0).fit_stream(DataStream::from_iter(failing), FitOptions::new().verbose(0)));
    assert!(e.contains("shard 7 unreadable"), "{e}");
    // Options that need arrays, and stream options given to the array fit.
    let (x, y) = images(8, 0);
    let e = msg(cnn(0).fit_stream(
        DataStream::from_iter(vec![batch(0.0)]),
        FitOptions::new().validation_split(0.2).verbose(0),
    ));
    assert!(e.contains("validation_split"), "{e}");
    let e = msg(cnn(0).fit(&x, &y, FitOptions::new().steps_per_epoch(3).verbose(0)));
    assert!(e.contains("steps_per_epoch") && e.contains("fit_stream"), "{e}");
    // A read-once validation stream cannot validate a second epoch.
    let e = msg(cnn(0).fit_stream(
        DataStream::generator(|_| vec![batch(0.0)]),
        FitOptions::new()
            .epochs(2)
            .verbose(0)
            .validation_stream(DataStream::from_iter(vec![batch(1.0)])),
    ));
    assert!(e.contains("validation stream") && e.contains("epoch 2"), "{e}");
}

/// A text folder read and vectorized batch by batch trains the same weights as its eagerly
/// loaded, vectorized texts as arrays.
#[test]
fn a_lazy_text_folder_trains_bit_identically_to_arrays() {
    use neurite::data::stream::LazyTextFolder;
    use neurite::data::text::{TextFolder, TextVectorization};
    let dir = tempfile::tempdir().unwrap();
    let words = ["good", "fine", "bad", "dull", "film", "plot", "a", "very"];
    for i in 0..30usize {
        let class = ["neg", "pos"][i % 2];
        std::fs::create_dir_all(dir.path().join(class)).unwrap();
        let text: Vec<&str> = (0..(3 + i % 5))
            .map(|j| words[(i * 7 + j * 3) % words.len()])
            .collect();
        std::fs::write(dir.path().join(class).join(format!("{i:02}.txt")), text.join(" ")).unwrap();
    }
    let eager = TextFolder::new(dir.path()).load().unwrap();
    let mut vectorizer = TextVectorization::new().output_sequence_length(6);
    vectorizer.adapt(&eager.texts).unwrap();
    let x = vectorizer.call(&eager.texts).unwrap().into_dyn();
    let y = eager.labels_f32().into_dyn();
    let model = || {
        let mut m = Sequential::new()
            .add(Embedding::new(vectorizer.vocabulary_size(), 4).input_shape([6]))
            .add(GlobalAveragePooling1D::new())
            .add(Dense::new(2).activation(Activation::Softmax))
            .seed(9);
        m.compile(
            Adam::new(0.05),
            Loss::SparseCategoricalCrossentropy { from_logits: false },
            &[Metric::Accuracy],
        )
        .unwrap();
        m
    };
    let opts = || FitOptions::new().epochs(2).batch_size(8).verbose(0);
    let mut from_arrays = model();
    from_arrays.fit(&x, &y, opts()).unwrap();
    let lazy = LazyTextFolder::open(TextFolder::new(dir.path()))
        .unwrap()
        .vectorizer(vectorizer.clone())
        .unwrap();
    let mut from_files = model();
    from_files.fit_stream(DataStream::indexed(lazy), opts()).unwrap();
    assert_eq!(bits(&from_arrays), bits(&from_files));
}
