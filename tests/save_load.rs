//! Saving and loading: identical predictions, atomic checkpoints, resuming,
//! corrupt files.

mod common;

use common::*;
use neurite::prelude::*;

#[test]
fn save_then_load_predicts_identically() {
    let (x, y) = three_classes(120);
    let mut model = classifier(11);
    model.fit(&x, &y, FitOptions::new().epochs(2).verbose(0)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model");
    model.save(&path).unwrap();
    for f in ["config.json", "model.safetensors", "optimizer.safetensors"] {
        assert!(path.join(f).exists(), "{f} missing");
    }
    let loaded = Sequential::load(&path).unwrap();
    assert_eq!(model.predict(&x).unwrap(), loaded.predict(&x).unwrap());
    assert_eq!(loaded.epochs_done(), 2);
    assert_eq!(model.evaluate(&x, &y).unwrap(), loaded.evaluate(&x, &y).unwrap());
}

#[test]
fn resumed_training_equals_uninterrupted_training() {
    let (x, y) = three_classes(150);
    let mut straight = classifier(21);
    straight
        .fit(&x, &y, FitOptions::new().epochs(4).verbose(0))
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ckpt");
    let mut first = classifier(21);
    first.fit(&x, &y, FitOptions::new().epochs(2).verbose(0)).unwrap();
    first.save(&path).unwrap();
    drop(first);
    let mut resumed = Sequential::load(&path).unwrap();
    let done = resumed.epochs_done();
    let h = resumed
        .fit(&x, &y, FitOptions::new().epochs(4).initial_epoch(done).verbose(0))
        .unwrap();
    assert_eq!(h.epochs, vec![2, 3]);
    let (a, b) = (straight.get_weights_by_name(), resumed.get_weights_by_name());
    for ((na, ta), (nb, tb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        let same_bits = ta.iter().zip(tb.iter()).all(|(p, q)| p.to_bits() == q.to_bits());
        assert!(same_bits, "{na} differs after resuming");
    }
}

#[test]
fn a_checkpoint_interrupted_mid_write_leaves_the_old_one_loadable() {
    let (x, y) = three_classes(60);
    let mut model = classifier(4);
    model.fit(&x, &y, FitOptions::new().verbose(0)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ckpt");
    model.save(&path).unwrap();
    let expected = model.predict(&x).unwrap();
    // A crash while writing the next checkpoint: a partial directory with a
    // truncated weight file beside the complete one.
    let partial = dir.path().join(".ckpt.partial-99999-0");
    std::fs::create_dir(&partial).unwrap();
    std::fs::write(partial.join("model.safetensors"), b"\x10\x00\x00").unwrap();
    assert_eq!(Sequential::load(&path).unwrap().predict(&x).unwrap(), expected);
    // A crash between moving the old checkpoint aside and renaming the new one in.
    std::fs::rename(&path, dir.path().join("ckpt.previous")).unwrap();
    assert_eq!(Sequential::load(&path).unwrap().predict(&x).unwrap(), expected);
}

#[test]
fn corrupt_or_mismatched_files_give_errors_naming_file_and_parameter() {
    let (x, y) = three_classes(60);
    let mut model = classifier(4);
    model.fit(&x, &y, FitOptions::new().verbose(0)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m");
    model.save(&path).unwrap();

    // Another architecture: dense_1 has 8 units instead of 16.
    let mut other = Sequential::new()
        .add(Dense::new(8).activation(Activation::Relu).input_dim(2))
        .add(Dense::new(3).activation(Activation::Softmax));
    let err = other.load_weights(&path).unwrap_err().to_string();
    assert!(
        err.contains("model.safetensors") && err.contains("dense_1.kernel"),
        "{err}"
    );

    // Truncated weights.
    let bytes = std::fs::read(path.join("model.safetensors")).unwrap();
    std::fs::write(path.join("model.safetensors"), &bytes[..bytes.len() / 2]).unwrap();
    let err = Sequential::load(&path).unwrap_err().to_string();
    assert!(err.contains("model.safetensors"), "{err}");

    // Corrupt config.
    std::fs::write(path.join("config.json"), b"{not json").unwrap();
    let err = Sequential::load(&path).unwrap_err().to_string();
    assert!(err.contains("config.json"), "{err}");

    let err = Sequential::load(dir.path().join("nothing-here"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("nothing-here"), "{err}");
}

#[test]
fn a_model_saved_unbuilt_loads_unbuilt_and_builds_to_the_same_weights() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("unbuilt");
    let fresh = || {
        Sequential::new()
            .seed(5)
            .add(Dense::new(4).activation(Activation::Relu).input_dim(3))
            .add(Dense::new(2))
    };
    fresh().save(&path).unwrap();
    let mut loaded = Sequential::load(&path).unwrap();
    assert!(!loaded.is_built());
    let mut original = fresh();
    original.build(&[3]).unwrap();
    loaded.build(&[3]).unwrap();
    assert_eq!(loaded.get_weights_by_name(), original.get_weights_by_name());
}
