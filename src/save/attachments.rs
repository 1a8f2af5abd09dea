//! Attachments: files saved beside a model in its checkpoint directory and
//! swapped in with it (a `TextModel`'s `vectorizer.json`).
//!
//! The model's own files stay exactly as [`Model::save`] writes them, so
//! `Sequential::load` / `Functional::load` read such a directory as a plain
//! model. `config.json` gains one key, `"attachments"`, holding the size and
//! CRC-32 of each attachment (the model's own manifest, `"files"`, lists only
//! the model's files). The attachments are renamed into place before
//! `config.json` and backed up with the model's files ([`super::atomic`]), so
//! a save cut short leaves the previous model and its attachments together.

use super::atomic::{self, CHECKPOINT_FILES, PREVIOUS_DIR};
use super::checkpoint::Checkpoint;
use super::manifest;
use crate::error::{Error, Result};
use crate::model::Model;
use neurite_nn::Layer;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The `config.json` key listing the attachments (name -> size and CRC-32).
const ATTACHMENTS_KEY: &str = "attachments";
/// The largest attachment a load reads: 1 GiB.
const MAX_ATTACHMENT_BYTES: u64 = 1 << 30;

impl<N: Layer> Model<N> {
    /// [`Model::save`] with `attachments` (name, bytes) written beside the
    /// model, in the same atomic swap.
    pub(crate) fn save_with_attachments(
        &self,
        dir: &Path,
        attachments: Vec<(&'static str, Vec<u8>)>,
    ) -> Result<()> {
        if let Some((name, _)) = attachments
            .iter()
            .find(|(n, _)| CHECKPOINT_FILES.contains(n) || n.contains(['/', '\\']) || n.starts_with('.'))
        {
            return Err(Error::Model(format!(
                "save: {name:?} cannot be saved beside a model (a model file's name, a path or a hidden name)"
            )));
        }
        let (mut files, mut config) = self.checkpoint_files()?;
        config[ATTACHMENTS_KEY] = manifest::of(&attachments);
        let names: Vec<&'static str> = attachments.iter().map(|(n, _)| *n).collect();
        let config = serde_json::to_vec_pretty(&config).map_err(|e| Error::Model(format!("save: {e}")))?;
        files.extend(attachments);
        files.push(("config.json", config));
        atomic::write_dir_with(dir, &files, &names)
    }
}

/// An attachment read from a checkpoint directory.
pub(crate) struct Attachment {
    /// The directory to load the model from: the checkpoint itself, or its
    /// backup when the last save was cut short (the attachment's own).
    pub(crate) model_dir: PathBuf,
    /// Where the attachment was read from (for errors).
    pub(crate) path: PathBuf,
    /// Its bytes, checked against `config.json` when it lists them.
    pub(crate) bytes: Vec<u8>,
    /// Holds the directory's shared lock until the model is loaded too.
    _checkpoint: Checkpoint,
}

/// Reads the attachment `name` of the checkpoint in `dir`, with the
/// directory its model belongs to. A file `config.json` does not list (a
/// model saved alone, a file put beside it by hand) is read as it is.
/// Errors name the file.
pub(crate) fn read_attachment(dir: &Path, name: &str) -> Result<Attachment> {
    let checkpoint = Checkpoint::open(dir)?;
    let first = read_from(&checkpoint, name);
    let error = match first {
        Ok(bytes) => {
            return Ok(Attachment {
                model_dir: checkpoint.dir.clone(),
                path: checkpoint.path(name),
                bytes,
                _checkpoint: checkpoint,
            })
        }
        Err(e) => e,
    };
    // A save cut short between the attachment's rename and config.json's
    // leaves the model in place complete but the attachment newer: the backup
    // holds the pair as it was.
    let previous = dir.join(PREVIOUS_DIR);
    if checkpoint.dir != previous && previous.join("config.json").is_file() {
        if let Ok(backup) = Checkpoint::open(&previous) {
            if let Ok(bytes) = read_from(&backup, name) {
                return Ok(Attachment {
                    model_dir: previous,
                    path: backup.path(name),
                    bytes,
                    _checkpoint: checkpoint,
                });
            }
        }
    }
    Err(error)
}

fn read_from(checkpoint: &Checkpoint, name: &str) -> Result<Vec<u8>> {
    let path = checkpoint.path(name);
    let cpath = checkpoint.path("config.json");
    let config = checkpoint.config()?;
    let expected = match config.get(ATTACHMENTS_KEY) {
        None | Some(Value::Null) => None,
        Some(Value::Object(entries)) => entries.get(name),
        Some(_) => return Err(Error::format(&cpath, "\"attachments\" must be an object")),
    };
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::format(
                &path,
                if expected.is_some() {
                    "missing: config.json says it was saved with the model, but the directory does not have it"
                } else {
                    "missing: the directory holds a model but not this file"
                },
            ))
        }
        Err(e) => return Err(Error::io(&path, e)),
    };
    if !meta.is_file() {
        return Err(Error::format(&path, "not a regular file"));
    }
    if meta.len() > MAX_ATTACHMENT_BYTES {
        return Err(Error::format(
            &path,
            format!(
                "{} bytes is more than the {MAX_ATTACHMENT_BYTES} a load reads",
                meta.len()
            ),
        ));
    }
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    if let Some(expected) = expected {
        if let Some(why) = manifest::mismatch(name, expected, &bytes) {
            return Err(Error::format(&path, why));
        }
    }
    Ok(bytes)
}
