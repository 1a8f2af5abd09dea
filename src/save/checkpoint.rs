//! Reading a checkpoint directory: the complete checkpoint in it, or the
//! backup a save cut short left, with every file checked against the
//! manifest in `config.json` before it is used.

use super::atomic::{CHECKPOINT_FILES, PREVIOUS_DIR};
use super::lock::DirLock;
use super::{manifest, FORMAT};
use crate::error::{Error, Result};
use serde_json::Value;
use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest `config.json` a load reads (a model's config is kilobytes).
pub(crate) const MAX_CONFIG_BYTES: u64 = 64 << 20;

/// A checkpoint read from disk: its directory, its parsed `config.json`
/// (`None` for a bare weights directory without one) and the bytes of its
/// other files, each verified against the manifest.
pub(crate) struct Checkpoint {
    pub(crate) dir: PathBuf,
    pub(crate) config: Option<Value>,
    files: HashMap<&'static str, Vec<u8>>,
    _lock: Option<DirLock>,
}

impl Checkpoint {
    /// Reads the checkpoint saved in `dir`: the files in place when they are
    /// complete; otherwise the backup of a save that was cut short
    /// (`.neurite-previous`, or `<dir>.previous` from neurite 0.1). Holds the
    /// directory's shared lock while reading, so a concurrent save is not seen
    /// half done.
    pub(crate) fn open(dir: &Path) -> Result<Checkpoint> {
        match fs::metadata(dir) {
            Ok(m) if !m.is_dir() => return Err(Error::format(
                dir,
                "this is a file; a neurite model is a directory holding config.json and model.safetensors",
            )),
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(dir, e)),
            _ => {}
        }
        let lock = DirLock::shared(dir);
        let first = read_verified(dir);
        let mut checkpoint = match first {
            Ok(c) => c,
            Err(e) => {
                let legacy = dir
                    .file_name()
                    .map(|n| dir.with_file_name(format!("{}.previous", n.to_string_lossy())));
                let fallback = [Some(dir.join(PREVIOUS_DIR)), legacy]
                    .into_iter()
                    .flatten()
                    .filter(|d| d.join("config.json").is_file())
                    .find_map(|d| read_verified(&d).ok());
                fallback.ok_or(e)?
            }
        };
        checkpoint._lock = lock;
        Ok(checkpoint)
    }

    /// The verified bytes of `name`, if the checkpoint has that file.
    pub(crate) fn file(&self, name: &str) -> Option<&[u8]> {
        self.files.get(name).map(Vec::as_slice)
    }

    /// The path of `name` in the directory the checkpoint was read from (for errors).
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The parsed `config.json`, or an error naming it when the directory has none.
    pub(crate) fn config(&self) -> Result<&Value> {
        self.config.as_ref().ok_or_else(|| {
            Error::format(
                self.path("config.json"),
                "missing: this directory holds weights only, not a whole model",
            )
        })
    }
}

/// Whether `dir` holds a complete checkpoint (all files match its config).
pub(crate) fn is_complete(dir: &Path) -> bool {
    read_verified(dir).is_ok_and(|c| c.config.is_some())
}

/// Reads `path` whole, refusing files over `limit` bytes.
pub(crate) fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let file = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(Error::format(
            path,
            format!("larger than {limit} bytes: not a neurite config"),
        ));
    }
    Ok(bytes)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| Error::io(path, e))
}

/// Parses and checks `config.json` (format marker).
pub(crate) fn parse_config(path: &Path, bytes: &[u8]) -> Result<Value> {
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| Error::format(path, format!("invalid JSON: {e}")))?;
    if v.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(Error::format(
            path,
            format!("not a neurite model config (\"format\" must be \"{FORMAT}\")"),
        ));
    }
    Ok(v)
}

fn read_verified(dir: &Path) -> Result<Checkpoint> {
    let config_path = dir.join("config.json");
    let mut files = HashMap::new();
    if !config_path.exists() {
        // A bare weights directory (no config): the weights alone, unverified.
        let weights = dir.join("model.safetensors");
        if !weights.is_file() {
            return Err(Error::io(
                dir,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no saved model here (config.json and model.safetensors are missing)",
                ),
            ));
        }
        files.insert("model.safetensors", read(&weights)?);
        return Ok(Checkpoint {
            dir: dir.to_path_buf(),
            config: None,
            files,
            _lock: None,
        });
    }
    let config = parse_config(&config_path, &read_limited(&config_path, MAX_CONFIG_BYTES)?)?;
    let manifest = config.get("files").filter(|m| !m.is_null());
    if let Some(m) = manifest {
        let Some(entries) = m.as_object() else {
            return Err(Error::format(&config_path, "\"files\" must be an object"));
        };
        if let Some(unknown) = entries.keys().find(|k| !CHECKPOINT_FILES.contains(&k.as_str())) {
            return Err(Error::format(
                &config_path,
                format!("\"files\" lists {unknown:?}, which is not a checkpoint file"),
            ));
        }
    }
    for name in &CHECKPOINT_FILES[1..] {
        let path = dir.join(name);
        match manifest {
            Some(m) => {
                if let Some(expected) = m.get(*name) {
                    let bytes = read(&path)?;
                    if let Some(why) = manifest::mismatch(name, expected, &bytes) {
                        return Err(Error::format(&path, why));
                    }
                    files.insert(*name, bytes);
                }
            }
            // Saved before manifests existed: take the files as they are.
            None => {
                if path.is_file() {
                    files.insert(*name, read(&path)?);
                }
            }
        }
    }
    Ok(Checkpoint {
        dir: dir.to_path_buf(),
        config: Some(config),
        files,
        _lock: None,
    })
}
