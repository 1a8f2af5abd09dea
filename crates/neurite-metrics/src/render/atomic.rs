//! Writing a file through a temporary file and a rename.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{MetricError, Result};

/// Writes `content` to `path` atomically: a temporary file in the same
/// directory, flushed to disk, then renamed over `path`.
pub(crate) fn write_atomic(what: &'static str, path: &Path, content: &str) -> Result<()> {
    let err = |e: std::io::Error| MetricError::Render {
        what,
        target: path.display().to_string(),
        message: e.to_string(),
    };
    let file_name = path.file_name().ok_or_else(|| MetricError::Render {
        what,
        target: path.display().to_string(),
        message: "the path has no file name".to_string(),
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    // Process id and a per-process counter: two threads writing the same
    // picture at once each get their own temporary file.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    tmp_name.push(format!(".tmp{}.{n}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(content.as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(err)
}
