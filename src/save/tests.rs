//! The states a save can be cut short in, made by hand, and what a load and
//! the next save make of each.

use super::atomic::PREVIOUS_DIR;
use crate::prelude::*;
use std::fs;
use std::path::Path;

fn model(seed: u64) -> Sequential {
    let mut m = Sequential::new().seed(seed).add(Dense::new(3).input_dim(2));
    m.compile(Sgd::new(0.1), Loss::MeanSquaredError, &[]).unwrap();
    m
}

/// The files `m` saves, by name.
fn files_of(m: &Sequential) -> Vec<(String, Vec<u8>)> {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    m.save(&dir).unwrap();
    ["config.json", "model.safetensors", "optimizer.safetensors"]
        .iter()
        .map(|n| (n.to_string(), fs::read(dir.join(n)).unwrap()))
        .collect()
}

fn put(dir: &Path, files: &[(String, Vec<u8>)], names: &[&str]) {
    for (n, b) in files.iter().filter(|(n, _)| names.contains(&n.as_str())) {
        fs::write(dir.join(n), b).unwrap();
    }
}

#[test]
fn cut_short_mid_swap_loads_the_backup_and_the_next_save_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ckpt");
    let (a, b, c) = (model(1), model(2), model(3));
    a.save(&dir).unwrap();
    let fb = files_of(&b);
    // Every point of the swap: the backup made, then 0, 1 or 2 of B's files renamed in
    // (config.json, renamed last, still A's).
    for renamed in [
        &[][..],
        &["optimizer.safetensors"],
        &["optimizer.safetensors", "model.safetensors"],
    ] {
        let previous = dir.join(PREVIOUS_DIR);
        fs::create_dir_all(&previous).unwrap();
        for n in ["config.json", "model.safetensors", "optimizer.safetensors"] {
            fs::copy(dir.join(n), previous.join(n)).unwrap();
        }
        put(&dir, &fb, renamed);
        assert_eq!(
            Sequential::load(&dir).unwrap().get_weights(),
            a.get_weights(),
            "{renamed:?}"
        );
        // Restore A for the next round.
        for n in ["config.json", "model.safetensors", "optimizer.safetensors"] {
            fs::copy(previous.join(n), dir.join(n)).unwrap();
        }
        fs::remove_dir_all(&previous).unwrap();
    }
    // Cut short with B's weights in place: the next save keeps the backup (A) as the
    // backup while it swaps, and completes.
    let previous = dir.join(PREVIOUS_DIR);
    fs::create_dir_all(&previous).unwrap();
    for n in ["config.json", "model.safetensors", "optimizer.safetensors"] {
        fs::copy(dir.join(n), previous.join(n)).unwrap();
    }
    put(&dir, &fb, &["model.safetensors"]);
    c.save(&dir).unwrap();
    assert!(!previous.exists());
    assert_eq!(Sequential::load(&dir).unwrap().get_weights(), c.get_weights());
}

#[test]
fn cut_short_after_the_swap_loads_the_new_model() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ckpt");
    let (a, b, c) = (model(4), model(5), model(6));
    a.save(&dir).unwrap();
    let previous = dir.join(PREVIOUS_DIR);
    fs::create_dir_all(&previous).unwrap();
    for n in ["config.json", "model.safetensors", "optimizer.safetensors"] {
        fs::copy(dir.join(n), previous.join(n)).unwrap();
    }
    put(
        &dir,
        &files_of(&b),
        &["config.json", "model.safetensors", "optimizer.safetensors"],
    );
    assert_eq!(Sequential::load(&dir).unwrap().get_weights(), b.get_weights());
    c.save(&dir).unwrap();
    assert!(!previous.exists());
    assert_eq!(Sequential::load(&dir).unwrap().get_weights(), c.get_weights());
}

#[test]
fn a_first_save_cut_short_is_no_model_and_the_next_save_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ckpt");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join(super::lock::LOCK_FILE), b"").unwrap();
    let a = model(7);
    put(
        &dir,
        &files_of(&a),
        &["model.safetensors", "optimizer.safetensors"],
    );
    // Weights without a config: loadable as bare weights only, not as a model.
    assert!(Sequential::load(&dir).is_err());
    a.save(&dir).unwrap();
    assert_eq!(Sequential::load(&dir).unwrap().get_weights(), a.get_weights());
}
