//! NumPy `.npy` and `.npz` files.
//!
//! Reads `.npy` versions 1.0, 2.0 and 3.0 with bool, int8..int64, uint8..uint64, float16,
//! float32 and float64 data, little- or big-endian, C or Fortran order; values are converted to
//! `f32` (optionally u8 / 255). `.npz` archives (`np.savez`, stored, and `np.savez_compressed`,
//! deflated) are read member by member. Writing produces `<f4` `.npy` 1.0 files and `.npz`
//! archives that NumPy reads. The `.npz` functions need the `npz` cargo feature (on by
//! default).

#[cfg(feature = "npz")]
use std::io::{Cursor, Write};
use std::path::Path;

use ndarray::{ArrayBase, ArrayD, Data, Dimension, IxDyn, ShapeBuilder};

#[cfg(feature = "npz")]
use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::io;

const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// The element type of an `.npy` file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Bool,
    Int,
    UInt,
    Float,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Dtype {
    pub(crate) kind: Kind,
    pub(crate) size: usize,
    pub(crate) big_endian: bool,
}

fn parse_descr(d: &str) -> Option<Dtype> {
    let b = d.as_bytes();
    if b.len() < 3 {
        return None;
    }
    let big_endian = match b[0] {
        b'<' | b'|' | b'=' => false,
        b'>' => true,
        _ => return None,
    };
    let size: usize = d[2..].parse().ok()?;
    let kind = match b[1] {
        b'b' if size == 1 => Kind::Bool,
        b'i' if matches!(size, 1 | 2 | 4 | 8) => Kind::Int,
        b'u' if matches!(size, 1 | 2 | 4 | 8) => Kind::UInt,
        b'f' if matches!(size, 2 | 4 | 8) => Kind::Float,
        _ => return None,
    };
    Some(Dtype {
        kind,
        size,
        big_endian,
    })
}

/// The text after `'key':` in a header dict.
fn value_after<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    for q in ['\'', '"'] {
        let pat = format!("{q}{key}{q}");
        if let Some(p) = header.find(&pat) {
            let rest = header[p + pat.len()..].trim_start();
            return rest.strip_prefix(':').map(str::trim_start);
        }
    }
    None
}

fn half_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0f32 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let frac = (h & 0x3ff) as f32;
    match exp {
        0 => sign * frac * 2f32.powi(-24),
        31 if frac == 0.0 => sign * f32::INFINITY,
        31 => f32::NAN,
        e => sign * (1.0 + frac / 1024.0) * 2f32.powi(e - 15),
    }
}

pub(crate) fn convert(body: &[u8], dt: Dtype, scale_u8: bool, path: &Path) -> Result<Vec<f32>> {
    let word = |c: &[u8]| -> u64 {
        let mut v = 0u64;
        if dt.big_endian {
            for &b in c {
                v = (v << 8) | b as u64;
            }
        } else {
            for &b in c.iter().rev() {
                v = (v << 8) | b as u64;
            }
        }
        v
    };
    let n = body.len() / dt.size;
    let mut out: Vec<f32> = Vec::new();
    out.try_reserve_exact(n)
        .map_err(|e| DataError::alloc(path, n as u64 * 4, "the values as f32", e))?;
    out.extend(body.chunks_exact(dt.size).map(|c| {
        let v = word(c);
        match (dt.kind, dt.size) {
            (Kind::Bool, _) => (v != 0) as u8 as f32,
            (Kind::UInt, 1) if scale_u8 => v as f32 / 255.0,
            (Kind::UInt, _) => v as f32,
            (Kind::Int, 1) => v as u8 as i8 as f32,
            (Kind::Int, 2) => v as u16 as i16 as f32,
            (Kind::Int, 4) => v as u32 as i32 as f32,
            (Kind::Int, _) => v as i64 as f32,
            (Kind::Float, 2) => half_to_f32(v as u16),
            (Kind::Float, 4) => f32::from_bits(v as u32),
            (Kind::Float, _) => f64::from_bits(v) as f32,
        }
    }));
    Ok(out)
}

/// The longest `.npy` header read, as NumPy's `max_header_size` default (10,000 bytes): a
/// longer one is refused before it is read.
pub const MAX_HEADER_SIZE: usize = 10_000;

/// A checked `.npy` header.
pub(crate) struct Header {
    pub(crate) dt: Dtype,
    pub(crate) descr: String,
    pub(crate) fortran: bool,
    pub(crate) shape: Vec<usize>,
    /// Data bytes declared.
    pub(crate) need: usize,
    /// Offset of the data (magic, version, length and header text).
    pub(crate) start: usize,
}

/// Bytes before the header text: 10 for version 1.0, 12 for 2.0 / 3.0; `None` until enough
/// bytes are there to tell.
fn preamble(bytes: &[u8], path: &Path) -> Result<(usize, usize)> {
    let err = |m: String| DataError::format(path, m);
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(err(
            "not an .npy file: it must start with the magic string \\x93NUMPY".into(),
        ));
    }
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(err("truncated .npy header".into()));
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => return Err(err(format!("unsupported .npy format version {v}.{}", bytes[7]))),
    };
    if hlen > MAX_HEADER_SIZE {
        return Err(err(format!(
            "the header is {hlen} bytes, longer than the {MAX_HEADER_SIZE} NumPy reads \
             (max_header_size)"
        )));
    }
    Ok((hlen, start))
}

/// Checks the header at the start of `bytes` (which may hold more).
pub(crate) fn parse_header(bytes: &[u8], path: &Path) -> Result<Header> {
    let err = |m: String| DataError::format(path, m);
    let (hlen, start) = preamble(bytes, path)?;
    let end = start
        .checked_add(hlen)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| {
            err(format!(
                "truncated: the header is {hlen} bytes but the file has only {}",
                bytes.len()
            ))
        })?;
    let header =
        std::str::from_utf8(&bytes[start..end]).map_err(|_| err("the .npy header is not text".into()))?;
    let descr = value_after(header, "descr")
        .ok_or_else(|| err(format!("no 'descr' in the .npy header {header:?}")))?;
    let descr = match descr.chars().next() {
        Some(q @ ('\'' | '"')) => descr[1..]
            .split(q)
            .next()
            .ok_or_else(|| err("unterminated 'descr' string".into()))?,
        _ => {
            return Err(err(format!(
                "unsupported dtype {}: only plain numeric and bool arrays are read",
                descr.split('}').next().unwrap_or(descr).trim()
            )))
        }
    };
    let dt = parse_descr(descr).ok_or_else(|| {
        err(format!(
            "unsupported dtype {descr:?}: only bool, int, uint and float arrays are read"
        ))
    })?;
    let fortran = match value_after(header, "fortran_order") {
        Some(v) if v.starts_with("True") => true,
        Some(v) if v.starts_with("False") => false,
        _ => return Err(err(format!("no valid 'fortran_order' in the header {header:?}"))),
    };
    let shape_txt = value_after(header, "shape")
        .and_then(|v| v.strip_prefix('('))
        .and_then(|v| v.split(')').next())
        .ok_or_else(|| err(format!("no valid 'shape' in the header {header:?}")))?;
    let shape: Vec<usize> = shape_txt
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_end_matches('L')
                .parse::<usize>()
                .map_err(|_| err(format!("bad dimension {s:?} in shape ({shape_txt})")))
        })
        .collect::<Result<_>>()?;
    // The element count, and the product of the non-zero dimensions (ndarray's limit), must
    // both fit in isize bytes.
    let fits = |zero_ok: bool| {
        shape
            .iter()
            .filter(|&&d| zero_ok || d != 0)
            .try_fold(dt.size, |a, &d| a.checked_mul(d))
            .filter(|&b| b <= isize::MAX as usize)
    };
    let need = fits(true);
    let nonzero = fits(false);
    let (Some(need), Some(_)) = (need, nonzero) else {
        return Err(err(format!("shape {shape:?} is too large")));
    };
    Ok(Header {
        dt,
        descr: descr.to_string(),
        fortran,
        shape,
        need,
        start: end,
    })
}

/// The array from a checked header and exactly `need` data bytes.
fn build(h: &Header, body: &[u8], path: &Path, scale_u8: bool) -> Result<ArrayD<f32>> {
    let err = |m: String| DataError::format(path, m);
    let v = convert(body, h.dt, scale_u8, path)?;
    let arr = if h.fortran {
        ArrayD::from_shape_vec(IxDyn(&h.shape).f(), v)
            .map_err(|e| err(e.to_string()))?
            .as_standard_layout()
            .into_owned()
    } else {
        ArrayD::from_shape_vec(IxDyn(&h.shape), v).map_err(|e| err(e.to_string()))?
    };
    Ok(arr)
}

/// Parses `.npy` bytes to `f32` (u8 data divided by 255 when `scale_u8`); `path` names the
/// source in errors.
pub fn parse(bytes: &[u8], path: impl AsRef<Path>, scale_u8: bool) -> Result<ArrayD<f32>> {
    let path = path.as_ref();
    let err = |m: String| DataError::format(path, m);
    let h = parse_header(bytes, path)?;
    let body = &bytes[h.start..];
    let (shape, need, descr) = (&h.shape, h.need, &h.descr);
    if body.len() < need {
        return Err(err(format!(
            "truncated: shape {shape:?} of {descr} needs {need} data bytes but only {} follow the header",
            body.len()
        )));
    }
    if body.len() > need {
        return Err(err(format!(
            "{} unexpected bytes after the data of shape {shape:?}",
            body.len() - need
        )));
    }
    build(&h, body, path, scale_u8)
}

/// Reads one `.npy` stream header first: the preamble, a header of at most
/// [`MAX_HEADER_SIZE`] bytes, then exactly the data the header declares (bounded read).
fn read_stream(input: &mut io::Input<'_>, scale_u8: bool) -> Result<ArrayD<f32>> {
    let path = input.path().to_path_buf();
    let mut head = input.read_up_to(10)?;
    if head.len() == 10 && &head[..6] == MAGIC && matches!(head[6], 2 | 3) {
        let more = input.read_up_to(2)?;
        head.extend_from_slice(&more);
    }
    let (hlen, _) = preamble(&head, &path)?;
    let text = input.read_up_to(hlen)?;
    head.extend_from_slice(&text);
    let h = parse_header(&head, &path)?;
    let what = format!("shape {:?} of {}", h.shape, h.descr);
    match input.read_payload(h.need as u64, &what)? {
        io::Payload::Complete(body) => build(&h, &body, &path, scale_u8),
        io::Payload::Short(body) => {
            head.extend_from_slice(&body);
            parse(&head, &path, scale_u8)
        }
    }
}

/// Reads an `.npy` file as `f32` (values unchanged).
pub fn read(path: impl AsRef<Path>) -> Result<ArrayD<f32>> {
    read_with(path, false)
}

/// Reads an `.npy` file as `f32`; u8 data divided by 255 when `scale_u8`.
pub fn read_with(path: impl AsRef<Path>, scale_u8: bool) -> Result<ArrayD<f32>> {
    let path = path.as_ref();
    let mut input = io::open(path)?;
    if matches!(input.origin(), io::Origin::Gzip { .. }) {
        return Err(DataError::format(
            path,
            "is gzip-compressed: .npy files are read uncompressed (use .npz for compression)",
        ));
    }
    read_stream(&mut input, scale_u8)
}

/// `.npy` bytes of an `f32` array (`<f4`, C order): version 1.0, or 2.0 when the header is too
/// long for 1.0's 16-bit length field (thousands of dimensions), as NumPy does.
pub fn to_bytes<S: Data<Elem = f32>, D: Dimension>(a: &ArrayBase<S, D>) -> Vec<u8> {
    let dims: Vec<String> = a.shape().iter().map(|d| d.to_string()).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    // Version 1.0 stores the header length in a u16; a longer header (thousands of
    // dimensions) needs version 2.0 and its u32, as NumPy does.
    let padded = |pre: usize| {
        let total = pre + header.len() + 1;
        header.len() + 1 + (64 - total % 64) % 64
    };
    let v1 = padded(10) <= u16::MAX as usize;
    let pre = if v1 { 10 } else { 12 };
    let total = pre + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(pre + header.len() + a.len() * 4);
    out.extend_from_slice(MAGIC);
    if v1 {
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&[2, 0]);
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(header.as_bytes());
    for v in a.as_standard_layout().iter() {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Writes an `f32` array as `.npy`.
pub fn write<S: Data<Elem = f32>, D: Dimension>(path: impl AsRef<Path>, a: &ArrayBase<S, D>) -> Result<()> {
    let path = path.as_ref();
    crate::io::write_atomic(path, &to_bytes(a))
}

/// Parses `.npz` bytes: `(name, array)` for every member, in archive order, names without
/// the `.npy` suffix.
///
/// Each member is read header first and its data through `Read::take` with the size its
/// header declares plus one byte: a member that inflates past its header is an error after one
/// extra byte, and a header declaring more than the member's compressed size can inflate to
/// (deflate expands at most 1032:1) is refused before anything is allocated.
#[cfg(feature = "npz")]
#[cfg_attr(docsrs, doc(cfg(feature = "npz")))]
pub fn parse_npz(bytes: &[u8], path: impl AsRef<Path>, scale_u8: bool) -> Result<Vec<(String, ArrayD<f32>)>> {
    parse_npz_members(bytes, path.as_ref(), scale_u8, |_| true)
}

/// The members of an `.npz` archive that `keep` accepts (by name, without `.npy`).
#[cfg(feature = "npz")]
fn parse_npz_members(
    bytes: &[u8],
    path: &Path,
    scale_u8: bool,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<(String, ArrayD<f32>)>> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| DataError::format(path, format!("not a valid .npz (zip) archive: {e}")))?;
    let mut out = Vec::new();
    for i in 0..zip.len() {
        let f = zip
            .by_index(i)
            .map_err(|e| DataError::format(path, format!("archive member {i}: {e}")))?;
        let name = f.name().to_string();
        let key = name.strip_suffix(".npy").unwrap_or(&name).to_string();
        if !keep(&key) {
            continue;
        }
        let origin = match f.compression() {
            zip::CompressionMethod::Stored => io::Origin::ZipMember {
                compressed: f.compressed_size(),
                deflated: false,
            },
            _ => io::Origin::ZipMember {
                compressed: f.compressed_size(),
                deflated: true,
            },
        };
        let member = path.join(&name);
        let mut input = io::Input::from_reader(f, &member, origin);
        let arr = read_stream(&mut input, scale_u8)?;
        out.push((key, arr));
    }
    Ok(out)
}

/// Reads every array of an `.npz` file (values unchanged).
#[cfg(feature = "npz")]
#[cfg_attr(docsrs, doc(cfg(feature = "npz")))]
pub fn read_npz(path: impl AsRef<Path>) -> Result<Vec<(String, ArrayD<f32>)>> {
    let path = path.as_ref();
    parse_npz(&io::read_file(path)?, path, false)
}

/// Writes `.npz` (deflated when `compressed`, as `np.savez_compressed`).
#[cfg(feature = "npz")]
#[cfg_attr(docsrs, doc(cfg(feature = "npz")))]
pub fn write_npz(path: impl AsRef<Path>, arrays: &[(&str, &ArrayD<f32>)], compressed: bool) -> Result<()> {
    let path = path.as_ref();
    let method = if compressed {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(method)
        .large_file(true);
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let zerr = |e: zip::result::ZipError| DataError::io(path, std::io::Error::other(e));
    for (name, a) in arrays {
        w.start_file(format!("{name}.npy"), opts).map_err(zerr)?;
        w.write_all(&to_bytes(*a)).map_err(|e| DataError::io(path, e))?;
    }
    let bytes = w.finish().map_err(zerr)?.into_inner();
    crate::io::write_atomic(path, &bytes)
}

/// A [`Dataset`] from two arrays of an `.npz` file, e.g. Keras' `mnist.npz` with
/// `("x_train", "y_train")`. u8 features are divided by 255 when `scale_u8`; labels are kept.
#[cfg(feature = "npz")]
#[cfg_attr(docsrs, doc(cfg(feature = "npz")))]
pub fn load_npz_dataset(path: impl AsRef<Path>, x_key: &str, y_key: &str, scale_u8: bool) -> Result<Dataset> {
    let path = path.as_ref();
    let bytes = io::read_file(path)?;
    let x = parse_npz_members(&bytes, path, scale_u8, |k| k == x_key)?;
    let y = parse_npz_members(&bytes, path, false, |k| k == y_key)?;
    let names: Vec<String> = zip::ZipArchive::new(Cursor::new(&bytes[..]))
        .map(|z| {
            z.file_names()
                .map(|n| n.strip_suffix(".npy").unwrap_or(n).to_string())
                .collect()
        })
        .unwrap_or_default();
    let pick = |v: &[(String, ArrayD<f32>)], k: &str| {
        v.iter()
            .find(|(n, _)| n == k)
            .map(|(_, a)| a.clone())
            .ok_or_else(|| {
                DataError::format(path, format!("no array {k:?} in the archive; it has {names:?}"))
            })
    };
    let xa = pick(&x, x_key)?;
    let ya = pick(&y, y_key)?;
    Dataset::new(xa, ya).map_err(|e| DataError::format(path, e.to_string()))
}
