//! File reading shared by the format modules: gzip detection, header-first reads whose payload
//! is bounded by what the header declares, and fallible allocation.
//!
//! Every compressed payload is read through [`Read::take`] with the size its header declares
//! plus one byte, so a stream that inflates past its header is stopped after that one byte
//! (never inflated whole), and buffers are reserved with `try_reserve*` so that a size that
//! cannot be allocated is a [`DataError::Alloc`] naming the file, not an abort.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};

/// The gzip magic bytes.
pub(crate) const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The largest factor by which deflate (gzip, zip) can expand its input: 258 bytes per
/// 2 bits at best, 1032:1. A header declaring more than `compressed * 1032` bytes cannot be
/// honest.
pub(crate) const MAX_DEFLATE_RATIO: u64 = 1032;

/// Bytes read per step when no header bounds the size (CSV, CIFAR).
const CHUNK: usize = 1 << 16;

/// `true` when `bytes` start with the gzip magic number.
pub(crate) fn is_gzip(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[..2] == GZIP_MAGIC
}

/// Where the bytes of an [`Input`] come from; decides how a size is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A plain file of this many bytes.
    Raw { file_len: u64 },
    /// A gzip file of this many (compressed) bytes.
    Gzip { file_len: u64 },
    /// A zip archive member: `compressed` bytes, deflated or stored.
    #[cfg_attr(not(feature = "npz"), allow(dead_code))]
    ZipMember { compressed: u64, deflated: bool },
}

/// What [`Input::read_payload`] found.
pub(crate) enum Payload {
    /// Exactly the declared number of bytes, and nothing after them.
    Complete(Vec<u8>),
    /// Fewer bytes than declared (the stream ended): what there was.
    Short(Vec<u8>),
}

/// A byte stream read header first: small header reads, then one payload read bounded by the
/// size the header declares.
pub(crate) struct Input<'a> {
    reader: Box<dyn Read + 'a>,
    path: PathBuf,
    origin: Origin,
    /// Bytes handed out so far (decompressed bytes for gzip and deflated members).
    consumed: u64,
}

/// Refuses what is not a data file: a directory, or a device (`/dev/zero` would be read
/// forever). Regular files and pipes (`<(zcat ...)`) are read.
fn check_kind(path: &Path, meta: &std::fs::Metadata) -> Result<()> {
    if meta.is_dir() {
        return Err(DataError::format(path, "is a directory, expected a data file"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_char_device() || t.is_block_device() || t.is_socket() {
            return Err(DataError::format(
                path,
                "is a device or socket, expected a data file",
            ));
        }
    }
    Ok(())
}

/// Opens a file for reading, refusing directories and devices, and looks at its first two bytes to
/// decide whether it is gzip (by content, not by name).
pub(crate) fn open(path: &Path) -> Result<Input<'static>> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let meta = file.metadata().map_err(|e| DataError::io(path, e))?;
    check_kind(path, &meta)?;
    let file_len = meta.len();
    let mut buf = BufReader::with_capacity(CHUNK, file);
    let head = buf.fill_buf().map_err(|e| DataError::io(path, e))?;
    let gz = is_gzip(head);
    let (reader, origin): (Box<dyn Read>, Origin) = if gz {
        (gzip_reader(buf, path)?, Origin::Gzip { file_len })
    } else {
        (Box::new(buf), Origin::Raw { file_len })
    };
    Ok(Input {
        reader,
        path: path.to_path_buf(),
        origin,
        consumed: 0,
    })
}

/// The decompressing reader of a gzip file.
#[cfg(feature = "gzip")]
fn gzip_reader(buf: BufReader<File>, _path: &Path) -> Result<Box<dyn Read>> {
    Ok(Box::new(flate2::bufread::MultiGzDecoder::new(buf)))
}

/// Without the `gzip` feature a gzip file is an error naming the feature.
#[cfg(not(feature = "gzip"))]
fn gzip_reader(_buf: BufReader<File>, path: &Path) -> Result<Box<dyn Read>> {
    Err(DataError::feature_disabled(path, "gzip decompression", "gzip"))
}

impl<'a> Input<'a> {
    /// A stream from any reader (e.g. a zip member); `path` names it in errors.
    #[cfg(any(feature = "npz", feature = "image", all(feature = "gzip", feature = "csv")))]
    pub(crate) fn from_reader(reader: impl Read + 'a, path: &Path, origin: Origin) -> Self {
        Input {
            reader: Box::new(reader),
            path: path.to_path_buf(),
            origin,
            consumed: 0,
        }
    }

    /// The name used in errors.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Where the bytes come from.
    pub(crate) fn origin(&self) -> Origin {
        self.origin
    }

    fn compressed(&self) -> bool {
        !matches!(
            self.origin,
            Origin::Raw { .. } | Origin::ZipMember { deflated: false, .. }
        )
    }

    fn read_error(&self, e: std::io::Error, got: u64) -> DataError {
        if self.compressed() || matches!(e.kind(), std::io::ErrorKind::InvalidData) {
            let what = match self.origin {
                Origin::Gzip { .. } => "gzip data",
                _ => "compressed data",
            };
            DataError::format(
                &self.path,
                format!("corrupt or truncated {what} after {got} decompressed bytes: {e}"),
            )
        } else {
            DataError::io(&self.path, e)
        }
    }

    /// Reads up to `n` bytes (a header part: `n` is small); fewer only at the end of the
    /// stream.
    pub(crate) fn read_up_to(&mut self, n: usize) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        out.try_reserve_exact(n)
            .map_err(|e| DataError::alloc(&self.path, n as u64, "a header", e))?;
        let start = self.consumed;
        (&mut self.reader)
            .take(n as u64)
            .read_to_end(&mut out)
            .map_err(|e| self.read_error(e, start))?;
        self.consumed += out.len() as u64;
        Ok(out)
    }

    /// The most payload bytes that can still follow, when it can be known: the rest of a plain
    /// file or a stored member exactly, `1032 x` the compressed size for deflate.
    fn plausible_max(&self) -> u64 {
        match self.origin {
            Origin::Raw { file_len } => file_len.saturating_sub(self.consumed),
            Origin::ZipMember {
                compressed,
                deflated: false,
            } => compressed.saturating_sub(self.consumed),
            Origin::Gzip { file_len: compressed }
            | Origin::ZipMember {
                compressed,
                deflated: true,
            } => compressed.saturating_mul(MAX_DEFLATE_RATIO),
        }
    }

    /// Reads the payload of `need` bytes that the header declares (`what` describes it in
    /// messages). A plain file's length is checked against `need` before anything is
    /// allocated; a compressed stream is read through `take(need + 1)`, so it is never
    /// inflated past the declared size plus one byte. Excess data is an error; a short stream
    /// gives [`Payload::Short`] so the format can say which record is cut.
    pub(crate) fn read_payload(&mut self, need: u64, what: &str) -> Result<Payload> {
        let header = self.consumed;
        if need > isize::MAX as u64 - header.min(isize::MAX as u64) {
            return Err(DataError::format(
                &self.path,
                format!("the header declares {what} of {need} bytes, more than can exist in memory"),
            ));
        }
        let max = self.plausible_max();
        if let Origin::Raw { file_len } = self.origin {
            if max > need {
                return Err(DataError::format(
                    &self.path,
                    format!(
                        "{} unexpected bytes after the {need} bytes of {what} declared by the header \
                         (the file has {file_len} bytes, the header and data {})",
                        max - need,
                        header + need
                    ),
                ));
            }
            let mut out = Vec::new();
            out.try_reserve_exact(max as usize)
                .map_err(|e| DataError::alloc(&self.path, max, what, e))?;
            self.fill(&mut out, max)?;
            return Ok(if out.len() as u64 == need {
                Payload::Complete(out)
            } else {
                Payload::Short(out)
            });
        }
        if need > max {
            let detail = match self.origin {
                Origin::ZipMember {
                    compressed,
                    deflated: false,
                } => format!("the stored member has only {compressed} bytes"),
                Origin::Gzip { file_len: c } | Origin::ZipMember { compressed: c, .. } => format!(
                    "{c} compressed bytes cannot inflate to more than {max} (deflate expands at most \
                     {MAX_DEFLATE_RATIO}:1)"
                ),
                Origin::Raw { .. } => unreachable!("handled above"),
            };
            return Err(DataError::format(
                &self.path,
                format!("the header declares {what} of {need} bytes but {detail}"),
            ));
        }
        let mut out = Vec::new();
        out.try_reserve_exact(need as usize + 1)
            .map_err(|e| DataError::alloc(&self.path, need, what, e))?;
        self.fill(&mut out, need + 1)?;
        let got = out.len() as u64;
        if got > need {
            let decompressed = self.consumed;
            return Err(DataError::format(
                &self.path,
                format!(
                    "inflates past the {need} bytes its header declares for {what}: reading stopped \
                     after {decompressed} decompressed bytes"
                ),
            ));
        }
        Ok(if got == need {
            Payload::Complete(out)
        } else {
            Payload::Short(out)
        })
    }

    /// Appends at most `limit` bytes to `out` (whose capacity is already reserved).
    fn fill(&mut self, out: &mut Vec<u8>, limit: u64) -> Result<()> {
        let start = self.consumed;
        let before = out.len();
        let r = (&mut self.reader).take(limit).read_to_end(out);
        self.consumed += (out.len() - before) as u64;
        r.map_err(|e| self.read_error(e, start + (out.len() - before) as u64))?;
        Ok(())
    }

    /// Reads the whole rest of the stream, growing the buffer fallibly (for formats without a
    /// size header: CSV, CIFAR).
    pub(crate) fn read_rest(&mut self, what: &str) -> Result<Vec<u8>> {
        let mut out: Vec<u8> = Vec::new();
        if let Origin::Raw { file_len } = self.origin {
            let rest = file_len.saturating_sub(self.consumed);
            out.try_reserve_exact(rest as usize)
                .map_err(|e| DataError::alloc(&self.path, rest, what, e))?;
        }
        let mut chunk = vec![0u8; CHUNK];
        loop {
            let n = match self.reader.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.read_error(e, self.consumed)),
            };
            out.try_reserve(n)
                .map_err(|e| DataError::alloc(&self.path, out.len() as u64 + n as u64, what, e))?;
            out.extend_from_slice(&chunk[..n]);
            self.consumed += n as u64;
        }
        Ok(out)
    }
}

/// Reads a whole file, decompressing it if it is gzip (detected by content, not by name);
/// memory is taken fallibly.
#[cfg(feature = "csv")]
pub(crate) fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    open(path)?.read_rest("the file's content")
}

/// Reads a whole file (no decompression), fallibly.
#[cfg(any(feature = "npz", feature = "image"))]
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let meta = file.metadata().map_err(|e| DataError::io(path, e))?;
    check_kind(path, &meta)?;
    let mut input = Input::from_reader(
        BufReader::with_capacity(CHUNK, file),
        path,
        Origin::Raw { file_len: meta.len() },
    );
    input.read_rest("the file's content")
}

#[cfg(all(feature = "gzip", feature = "csv"))]
/// Decompresses an in-memory (multi-member) gzip stream, fallibly; a corrupt or truncated
/// stream is a format error naming `path`.
pub(crate) fn gunzip(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    let mut input = Input::from_reader(
        flate2::read::MultiGzDecoder::new(bytes),
        path,
        Origin::Gzip {
            file_len: bytes.len() as u64,
        },
    );
    input.read_rest("the decompressed data")
}

/// `n` zeroed values, allocated fallibly (`what` names them in the error).
pub(crate) fn try_zeroed<T: Clone + Default>(n: usize, path: &Path, what: &str) -> Result<Vec<T>> {
    let bytes = (n as u64).saturating_mul(std::mem::size_of::<T>() as u64);
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|e| DataError::alloc(path, bytes, what, e))?;
    v.resize(n, T::default());
    Ok(v)
}

/// Writes `bytes` to `path`, gzip-compressed when the name ends in `.gz`.
pub(crate) fn write_maybe_gz(path: &Path, bytes: &[u8]) -> Result<()> {
    let gz = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    if gz {
        write_atomic(path, &gzip(path, bytes)?)
    } else {
        write_atomic(path, bytes)
    }
}

/// `bytes` gzip-compressed (`path` names the file in errors).
#[cfg(feature = "gzip")]
fn gzip(path: &Path, bytes: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).map_err(|e| DataError::io(path, e))?;
    enc.finish().map_err(|e| DataError::io(path, e))
}

/// Without the `gzip` feature, writing a `.gz` file is an error naming the feature.
#[cfg(not(feature = "gzip"))]
fn gzip(path: &Path, _bytes: &[u8]) -> Result<Vec<u8>> {
    Err(DataError::feature_disabled(path, "gzip compression", "gzip"))
}

/// Writes `bytes` to `path` as a whole or not at all: into a temporary file
/// beside it (unique name, removed on failure), synced, then renamed over
/// `path`. A crash never leaves `path` half-written. Every file neurite
/// writes on request (arrays, plots) goes through it.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("out.bin");
/// neurite_data::write_atomic(&path, b"whole")?;
/// assert_eq!(std::fs::read(&path)?, b"whole");
/// // A directory in the way: an error, and no temporary file is left.
/// assert!(neurite_data::write_atomic(dir.path(), b"x").is_err());
/// assert_eq!(std::fs::read_dir(dir.path())?.count(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let (tmp_path, mut tmp) = create_partial_file(dir)?;
    let written = tmp.write_all(bytes).and_then(|_| tmp.sync_all()).and_then(|_| {
        drop(tmp);
        std::fs::rename(&tmp_path, path)
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp_path);
        return Err(DataError::io(path, e));
    }
    Ok(())
}

/// Creates a new, empty `.neurite-<pid>-<n>.partial` file in `dir` (never an existing one:
/// `create_new`), trying the next `n` when the name is taken.
fn create_partial_file(dir: &Path) -> Result<(PathBuf, File)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    // Process id and a per-process counter: threads and processes writing beside each other
    // each get their own file.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    const ATTEMPTS: u32 = 64;
    let mut last_error = None;
    for _ in 0..ATTEMPTS {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tmp_path = dir.join(format!(".neurite-{}-{n}.partial", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp_path)
        {
            Ok(file) => return Ok((tmp_path, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last_error = Some(e),
            Err(e) => return Err(DataError::io(dir, e)),
        }
    }
    let e = last_error.unwrap_or_else(|| std::io::Error::other("no free temporary file name"));
    Err(DataError::io(dir, e))
}

/// u8 pixels to f32, divided by 255 when `scale`; the output (4 bytes per value) is allocated
/// fallibly, an allocation failure naming `path`.
pub(crate) fn u8_to_f32(data: &[u8], scale: bool, path: &Path) -> Result<Vec<f32>> {
    let mut out: Vec<f32> = Vec::new();
    out.try_reserve_exact(data.len())
        .map_err(|e| DataError::alloc(path, data.len() as u64 * 4, "the values as f32", e))?;
    if scale {
        out.extend(data.iter().map(|&v| v as f32 / 255.0));
    } else {
        out.extend(data.iter().map(|&v| v as f32));
    }
    Ok(out)
}
