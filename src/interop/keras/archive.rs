//! The `.keras` container: a zip holding `config.json`, `metadata.json`
//! and `model.weights.h5` (Keras 3's `saving_lib`). Reading bounds every
//! entry's size before inflating it; writing stores the three files and
//! replaces the target atomically.

use crate::error::{Error, Result};
use std::io::{Cursor, Read, Write};
use std::path::Path;

/// At most this many bytes in one inflated entry (4 GiB).
const MAX_ENTRY: u64 = 4 << 30;

/// The entries of a `.keras` file neurite reads.
pub(crate) struct KerasArchive {
    pub(crate) config: Vec<u8>,
    pub(crate) weights: Vec<u8>,
}

fn corrupt(path: &Path, message: impl std::fmt::Display) -> Error {
    Error::format(path, format!("not a readable .keras file: {message}"))
}

/// Reads `config.json` and `model.weights.h5` out of the zip `bytes` (`path` names it in errors).
pub(crate) fn read(bytes: &[u8], path: &Path) -> Result<KerasArchive> {
    let mut zip =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| corrupt(path, format!("corrupt zip: {e}")))?;
    let mut entry = |name: &str| -> Result<Vec<u8>> {
        let mut f = zip.by_name(name).map_err(|e| match e {
            zip::result::ZipError::FileNotFound => corrupt(path, format!("the archive has no {name}")),
            e => corrupt(path, format!("corrupt zip entry {name}: {e}")),
        })?;
        if f.size() > MAX_ENTRY {
            return Err(corrupt(
                path,
                format!(
                    "{name} claims {} bytes, more than the {MAX_ENTRY} allowed",
                    f.size()
                ),
            ));
        }
        let mut out = Vec::new();
        (&mut f)
            .take(MAX_ENTRY + 1)
            .read_to_end(&mut out)
            .map_err(|e| corrupt(path, format!("corrupt zip entry {name}: {e}")))?;
        if out.len() as u64 > MAX_ENTRY {
            return Err(corrupt(
                path,
                format!("{name} inflates to more than {MAX_ENTRY} bytes"),
            ));
        }
        Ok(out)
    };
    Ok(KerasArchive {
        config: entry("config.json")?,
        weights: entry("model.weights.h5")?,
    })
}

/// The bytes of a `.keras` zip holding `metadata.json`, `config.json` and `model.weights.h5`.
pub(crate) fn write(metadata: &[u8], config: &[u8], weights: &[u8], path: &Path) -> Result<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let options =
            zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in [
            ("metadata.json", metadata),
            ("config.json", config),
            ("model.weights.h5", weights),
        ] {
            zip.start_file(name, options)
                .map_err(|e| Error::format(path, format!("zip: {e}")))?;
            zip.write_all(bytes)
                .map_err(|e| Error::format(path, format!("zip: {e}")))?;
        }
        zip.finish()
            .map_err(|e| Error::format(path, format!("zip: {e}")))?;
    }
    Ok(out.into_inner())
}
