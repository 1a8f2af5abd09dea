//! HDF5 access for Keras weights files, through the pure-Rust `hdf5-pure`
//! crate (see `docs/interop.md` for why that crate): every float dataset of
//! a file read into a map from its path to a tensor, and a tree of groups
//! and float datasets written as h5py lays out Keras' `model.weights.h5`.
//!
//! Hostile bytes give errors, never a panic: sizes are checked against the
//! file before anything is read, and a panic inside the parser (a bug of
//! the crate on a malformed file) is caught and reported as a corrupt file.

use crate::error::{Error, Result};
use hdf5_pure::{AttrValue, DType, File, FileBuilder};
use neurite_tensor::Tensor;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

/// At most this many elements in one dataset (16 GiB of f32); more is refused before reading.
const MAX_ELEMENTS: u64 = 1 << 32;
/// Groups nest at most this deep (a Keras file nests a handful).
const MAX_DEPTH: usize = 64;
/// At most this many datasets and groups in one file.
const MAX_OBJECTS: usize = 1 << 20;

/// The float datasets of an HDF5 file, by path without the leading `/`
/// (`layers/dense/vars/0`), as `f32` tensors. `path` names the file in errors.
pub(crate) fn read_datasets(bytes: Vec<u8>, path: &Path) -> Result<BTreeMap<String, Tensor>> {
    if !hdf5_pure::is_hdf5_bytes(&bytes) {
        return Err(corrupt(path, "not an HDF5 file (no HDF5 signature)"));
    }
    match catch_unwind(AssertUnwindSafe(|| read_all(bytes, path))) {
        Ok(result) => result,
        Err(_) => Err(corrupt(
            path,
            "the HDF5 structure is malformed (the reader gave up)",
        )),
    }
}

fn corrupt(path: &Path, message: impl std::fmt::Display) -> Error {
    Error::format(path, format!("corrupt HDF5 file: {message}"))
}

fn read_all(bytes: Vec<u8>, path: &Path) -> Result<BTreeMap<String, Tensor>> {
    let file_len = bytes.len() as u64;
    let file = File::from_bytes(bytes).map_err(|e| corrupt(path, e))?;
    let mut out = BTreeMap::new();
    let mut stack = vec![(file.root(), String::new(), 0usize)];
    let mut objects = 0usize;
    while let Some((group, prefix, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(corrupt(
                path,
                format!("groups nest deeper than {MAX_DEPTH} at {prefix:?}"),
            ));
        }
        let names = group
            .datasets()
            .map_err(|e| corrupt(path, format!("{prefix:?}: {e}")))?;
        for name in names {
            objects += 1;
            if objects > MAX_OBJECTS {
                return Err(corrupt(path, format!("more than {MAX_OBJECTS} objects")));
            }
            let full = join(&prefix, &name);
            let ds = group
                .dataset(&name)
                .map_err(|e| corrupt(path, format!("dataset {full}: {e}")))?;
            let shape = ds
                .shape()
                .map_err(|e| corrupt(path, format!("dataset {full}: {e}")))?;
            let count = shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
            let count = match count {
                Some(c) if c <= MAX_ELEMENTS => c,
                _ => {
                    return Err(corrupt(
                        path,
                        format!("dataset {full}: shape {shape:?} is too large"),
                    ))
                }
            };
            // Uncompressed data must fit in the file; compressed chunks are checked by the reader.
            if ds.chunk_shape().ok().flatten().is_none() && count > file_len.saturating_mul(2) {
                return Err(corrupt(
                    path,
                    format!("dataset {full}: shape {shape:?} needs more bytes than the file's {file_len}"),
                ));
            }
            let values = match ds.read_f32() {
                Ok(v) => v,
                // Not a number array (a string list, a compound): not a weight, skipped.
                Err(_) if !ds.dtype().map(|t| is_number(&t)).unwrap_or(false) => continue,
                Err(e) => return Err(corrupt(path, format!("dataset {full}: {e}"))),
            };
            let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
            let tensor = Tensor::from_shape_vec(ndarray::IxDyn(&dims), values).map_err(|_| {
                corrupt(
                    path,
                    format!("dataset {full}: its data does not fill its shape {shape:?}"),
                )
            })?;
            out.insert(full, tensor);
        }
        let groups = group
            .groups()
            .map_err(|e| corrupt(path, format!("{prefix:?}: {e}")))?;
        for name in groups {
            objects += 1;
            if objects > MAX_OBJECTS {
                return Err(corrupt(path, format!("more than {MAX_OBJECTS} objects")));
            }
            let full = join(&prefix, &name);
            let sub = group
                .group(&name)
                .map_err(|e| corrupt(path, format!("group {full}: {e}")))?;
            stack.push((sub, full, depth + 1));
        }
    }
    Ok(out)
}

fn is_number(t: &DType) -> bool {
    use DType::*;
    matches!(t, F32 | F64 | I8 | I16 | I32 | I64 | U8 | U16 | U32 | U64)
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

/// A group to write: its `name` attribute (Keras sets one on every `vars`
/// group), its float datasets and its sub-groups, each by name.
#[derive(Default, Debug)]
pub(crate) struct GroupTree {
    /// The group's `name` attribute.
    pub(crate) name_attr: Option<String>,
    /// Datasets by name.
    pub(crate) datasets: BTreeMap<String, Tensor>,
    /// Sub-groups by name.
    pub(crate) groups: BTreeMap<String, GroupTree>,
}

impl GroupTree {
    /// The group at `path` (`a/b/c`), created with its parents if missing.
    pub(crate) fn group_mut(&mut self, path: &str) -> &mut GroupTree {
        let mut g = self;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            g = g.groups.entry(part.to_string()).or_default();
        }
        g
    }
}

/// The bytes of an HDF5 file holding `tree` (the root group's datasets and sub-groups).
pub(crate) fn write_tree(tree: &GroupTree, path: &Path) -> Result<Vec<u8>> {
    let mut builder = FileBuilder::new();
    if let Some(n) = &tree.name_attr {
        builder.set_attr("name", AttrValue::VarLenString(n.clone()));
    }
    for (name, t) in &tree.datasets {
        let shape: Vec<u64> = t.shape().iter().map(|&d| d as u64).collect();
        let data: Vec<f32> = t.iter().copied().collect();
        builder
            .create_dataset(name)
            .with_f32_data(&data)
            .with_shape(&shape);
    }
    for (name, sub) in &tree.groups {
        let mut g = builder.create_group(name);
        fill_group(&mut g, sub);
        builder.add_group(g.finish());
    }
    builder
        .finish()
        .map_err(|e| Error::format(path, format!("writing HDF5: {e}")))
}

fn fill_group(g: &mut hdf5_pure::GroupBuilder, tree: &GroupTree) {
    if let Some(n) = &tree.name_attr {
        g.set_attr("name", AttrValue::VarLenString(n.clone()));
    }
    for (name, t) in &tree.datasets {
        let shape: Vec<u64> = t.shape().iter().map(|&d| d as u64).collect();
        let data: Vec<f32> = t.iter().copied().collect();
        g.create_dataset(name).with_f32_data(&data).with_shape(&shape);
    }
    for (name, sub) in &tree.groups {
        let mut child = g.create_group(name);
        fill_group(&mut child, sub);
        g.add_group(child.finish());
    }
}
