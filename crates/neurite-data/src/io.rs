//! File reading shared by the format modules: whole-file reads with gzip detection.

use std::io::Read;
use std::path::Path;

use crate::error::{DataError, Result};

/// The gzip magic bytes.
pub(crate) const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Reads a whole file.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| DataError::io(path, e))
}

/// `true` when `bytes` start with the gzip magic number.
pub(crate) fn is_gzip(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[..2] == GZIP_MAGIC
}

/// Decompresses a (multi-member) gzip stream; a corrupt or truncated stream is a format error
/// naming `path`.
pub(crate) fn gunzip(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| {
            DataError::format(
                path,
                format!(
                    "corrupt or truncated gzip data after {} decompressed bytes: {e}",
                    out.len()
                ),
            )
        })?;
    Ok(out)
}

/// Reads a file, decompressing it if it is gzip (detected by content, not by name).
pub(crate) fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = read_file(path)?;
    if is_gzip(&raw) {
        gunzip(&raw, path)
    } else {
        Ok(raw)
    }
}

/// Writes `bytes` to `path`, gzip-compressed when the name ends in `.gz`.
pub(crate) fn write_maybe_gz(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let gz = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    let data = if gz {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(bytes).map_err(|e| DataError::io(path, e))?;
        enc.finish().map_err(|e| DataError::io(path, e))?
    } else {
        bytes.to_vec()
    };
    std::fs::write(path, data).map_err(|e| DataError::io(path, e))
}

/// u8 pixels to f32, divided by 255 when `scale`.
pub(crate) fn u8_to_f32(data: &[u8], scale: bool) -> Vec<f32> {
    if scale {
        data.iter().map(|&v| v as f32 / 255.0).collect()
    } else {
        data.iter().map(|&v| v as f32).collect()
    }
}
