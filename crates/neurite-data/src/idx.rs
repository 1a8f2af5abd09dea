//! The IDX format of MNIST, Fashion-MNIST, EMNIST, ...: any IDX file, raw or gzip-compressed.
//!
//! Layout: two zero bytes, a type code (`0x08` u8, `0x09` i8, `0x0B` i16, `0x0C` i32,
//! `0x0D` f32, `0x0E` f64), the number of dimensions, each dimension as a big-endian `u32`,
//! then the values, big-endian, row-major. The reader checks every part: a wrong magic number,
//! an unknown type, a truncated header or body, or bytes after the declared data are errors
//! naming the file (never a panic, never a silently short array).

use std::path::Path;

use ndarray::{ArrayD, IxDyn};

use crate::error::{DataError, Result};
use crate::io;

/// The values of an IDX file in their stored type.
#[derive(Clone, Debug, PartialEq)]
pub enum IdxData {
    /// Type code `0x08`.
    U8(Vec<u8>),
    /// Type code `0x09`.
    I8(Vec<i8>),
    /// Type code `0x0B`.
    I16(Vec<i16>),
    /// Type code `0x0C`.
    I32(Vec<i32>),
    /// Type code `0x0D`.
    F32(Vec<f32>),
    /// Type code `0x0E`.
    F64(Vec<f64>),
}

/// A parsed IDX file.
#[derive(Clone, Debug, PartialEq)]
pub struct IdxArray {
    /// The dimensions from the header.
    pub shape: Vec<usize>,
    /// The values, row-major.
    pub data: IdxData,
}

fn type_info(code: u8) -> Option<(&'static str, usize)> {
    Some(match code {
        0x08 => ("u8", 1),
        0x09 => ("i8", 1),
        0x0B => ("i16", 2),
        0x0C => ("i32", 4),
        0x0D => ("f32", 4),
        0x0E => ("f64", 8),
        _ => return None,
    })
}

impl IdxArray {
    /// Name of the stored type (`"u8"`, `"f32"`, ...).
    pub fn dtype(&self) -> &'static str {
        match self.data {
            IdxData::U8(_) => "u8",
            IdxData::I8(_) => "i8",
            IdxData::I16(_) => "i16",
            IdxData::I32(_) => "i32",
            IdxData::F32(_) => "f32",
            IdxData::F64(_) => "f64",
        }
    }

    /// Number of values the shape declares (`usize::MAX` if the product overflows, which a
    /// parsed array never does).
    pub fn len(&self) -> usize {
        self.shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .unwrap_or(usize::MAX)
    }

    /// `true` when the array holds no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values as `f32`; u8 data divided by 255 when `scale_u8`. Errors when the shape does
    /// not match the number of values (possible only for an `IdxArray` built by hand).
    ///
    /// ```
    /// use neurite_data::idx::{IdxArray, IdxData};
    /// let a = IdxArray { shape: vec![1, 2], data: IdxData::U8(vec![0, 255]) };
    /// assert_eq!(a.to_f32(true).unwrap().as_slice().unwrap(), &[0.0, 1.0]);
    /// let bad = IdxArray { shape: vec![3], data: IdxData::U8(vec![0, 255]) };
    /// assert!(bad.to_f32(true).is_err());
    /// ```
    pub fn to_f32(&self, scale_u8: bool) -> Result<ArrayD<f32>> {
        let n = self.value_count();
        if n != self.len() {
            return Err(DataError::shape(format!(
                "IDX shape {:?} needs {} values, data has {n}",
                self.shape,
                self.len()
            )));
        }
        let v: Vec<f32> = match &self.data {
            IdxData::U8(d) => io::u8_to_f32(d, scale_u8, Path::new("IdxArray"))?,
            IdxData::I8(d) => d.iter().map(|&x| x as f32).collect(),
            IdxData::I16(d) => d.iter().map(|&x| x as f32).collect(),
            IdxData::I32(d) => d.iter().map(|&x| x as f32).collect(),
            IdxData::F32(d) => d.clone(),
            IdxData::F64(d) => d.iter().map(|&x| x as f32).collect(),
        };
        ArrayD::from_shape_vec(IxDyn(&self.shape), v)
            .map_err(|e| DataError::shape(format!("IDX shape {:?}: {e}", self.shape)))
    }

    fn value_count(&self) -> usize {
        match &self.data {
            IdxData::U8(d) => d.len(),
            IdxData::I8(d) => d.len(),
            IdxData::I16(d) => d.len(),
            IdxData::I32(d) => d.len(),
            IdxData::F32(d) => d.len(),
            IdxData::F64(d) => d.len(),
        }
    }

    /// The raw bytes of a u8 array, `None` for other types.
    pub fn as_u8(&self) -> Option<&[u8]> {
        match &self.data {
            IdxData::U8(d) => Some(d),
            _ => None,
        }
    }

    /// Serialises to IDX bytes. Errors when a dimension does not fit in `u32`, there are more
    /// than 255 dimensions, or the shape does not match the number of values.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        if self.shape.len() > 255 {
            return Err(DataError::arg("IDX allows at most 255 dimensions"));
        }
        let n = self.value_count();
        if n != self.len() {
            return Err(DataError::shape(format!(
                "IDX shape {:?} needs {} values, data has {n}",
                self.shape,
                self.len()
            )));
        }
        let code = match self.data {
            IdxData::U8(_) => 0x08,
            IdxData::I8(_) => 0x09,
            IdxData::I16(_) => 0x0B,
            IdxData::I32(_) => 0x0C,
            IdxData::F32(_) => 0x0D,
            IdxData::F64(_) => 0x0E,
        };
        let mut out = vec![0, 0, code, self.shape.len() as u8];
        for &d in &self.shape {
            let d = u32::try_from(d)
                .map_err(|_| DataError::arg(format!("IDX dimension {d} does not fit in u32")))?;
            out.extend_from_slice(&d.to_be_bytes());
        }
        match &self.data {
            IdxData::U8(d) => out.extend_from_slice(d),
            IdxData::I8(d) => out.extend(d.iter().map(|&v| v as u8)),
            IdxData::I16(d) => d.iter().for_each(|v| out.extend_from_slice(&v.to_be_bytes())),
            IdxData::I32(d) => d.iter().for_each(|v| out.extend_from_slice(&v.to_be_bytes())),
            IdxData::F32(d) => d.iter().for_each(|v| out.extend_from_slice(&v.to_be_bytes())),
            IdxData::F64(d) => d.iter().for_each(|v| out.extend_from_slice(&v.to_be_bytes())),
        }
        Ok(out)
    }
}

/// Reads an IDX file, raw or gzip-compressed (detected from the content).
///
/// The header is read first and the data size it declares is computed with checked
/// arithmetic; the data is then read through `Read::take` with at most that many bytes plus
/// one, so a `.gz` file that inflates past its header (a decompression bomb) is refused after
/// one extra byte, never inflated whole. A plain file's length is checked against the header
/// before anything is allocated, and memory is reserved fallibly ([`DataError::Alloc`]).
///
/// Reading a gzip file needs the `gzip` cargo feature (on by default); without it, it is a
/// [`DataError::FeatureDisabled`].
///
/// ```
/// # #[cfg(feature = "gzip")] {
/// use neurite_data::idx::{self, IdxArray, IdxData};
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("labels.idx1-ubyte.gz");
/// idx::write(&p, &IdxArray { shape: vec![3], data: IdxData::U8(vec![7, 8, 9]) }).unwrap();
/// assert_eq!(idx::read(&p).unwrap().as_u8(), Some(&[7u8, 8, 9][..]));
/// # }
/// ```
pub fn read(path: impl AsRef<Path>) -> Result<IdxArray> {
    let path = path.as_ref();
    let mut input = io::open(path)?;
    let mut head = input.read_up_to(4)?;
    if head.len() == 4 {
        // The magic and type are checked before the dimensions, so a wrong magic number is
        // reported as such whatever follows.
        let dims = input.read_up_to(4 * head[3] as usize)?;
        head.extend_from_slice(&dims);
    }
    let h = parse_header(&head, path)?;
    let what = format!("{:?} {} values", h.shape, h.tname);
    match input.read_payload(h.need as u64, &what)? {
        io::Payload::Complete(body) => Ok(IdxArray {
            data: decode(h.code, body),
            shape: h.shape,
        }),
        io::Payload::Short(body) => {
            // Let the parser say which record is cut.
            head.extend_from_slice(&body);
            parse(&head, path)
        }
    }
}

/// Writes an IDX file, gzip-compressed when the name ends in `.gz` (which needs the `gzip`
/// cargo feature, on by default; without it a `.gz` name is a
/// [`DataError::FeatureDisabled`]).
pub fn write(path: impl AsRef<Path>, array: &IdxArray) -> Result<()> {
    let path = path.as_ref();
    io::write_maybe_gz(path, &array.to_bytes()?)
}

/// A checked IDX header.
struct Header {
    code: u8,
    tname: &'static str,
    shape: Vec<usize>,
    count: usize,
    /// Data bytes declared.
    need: usize,
    /// Header bytes.
    len: usize,
}

/// Checks the header at the start of `bytes` (which may hold more).
fn parse_header(bytes: &[u8], path: &Path) -> Result<Header> {
    let err = |m: String| DataError::format(path, m);
    if bytes.len() < 4 {
        return Err(err(format!(
            "truncated: {} bytes, shorter than the 4-byte IDX magic number",
            bytes.len()
        )));
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(err(format!(
            "wrong magic number 0x{magic:08X}: not an IDX file (it must start with two zero bytes, \
             e.g. 0x00000803 for images, 0x00000801 for labels)"
        )));
    }
    let Some((tname, tsize)) = type_info(bytes[2]) else {
        return Err(err(format!(
            "wrong magic number 0x{magic:08X}: unknown IDX data type code 0x{:02X}",
            bytes[2]
        )));
    };
    let nd = bytes[3] as usize;
    let header = 4 + 4 * nd;
    if bytes.len() < header {
        return Err(err(format!(
            "truncated header: {nd} dimensions need {header} header bytes but the file has {}",
            bytes.len()
        )));
    }
    let shape: Vec<usize> = (0..nd)
        .map(|i| {
            let o = 4 + 4 * i;
            u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) as usize
        })
        .collect();
    let count = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .and_then(|c| c.checked_mul(tsize).map(|b| (c, b)));
    // ndarray also needs the product of the non-zero dimensions to fit in isize (found by
    // cargo-fuzz: `[0x7777F501, 0, 242, 0x03000104]` holds no value but cannot be an array).
    let nonzero = shape
        .iter()
        .filter(|&&d| d != 0)
        .try_fold(tsize, |a, &d| a.checked_mul(d))
        .filter(|&b| b <= isize::MAX as usize);
    let (Some((count, need)), Some(_)) = (count, nonzero) else {
        return Err(err(format!(
            "header dimensions {shape:?} describe more data than can exist"
        )));
    };
    Ok(Header {
        code: bytes[2],
        tname,
        shape,
        count,
        need,
        len: header,
    })
}

/// The values of type `code` from their big-endian bytes (a whole number of values).
fn decode(code: u8, body: Vec<u8>) -> IdxData {
    match code {
        0x08 => IdxData::U8(body),
        0x09 => IdxData::I8(body.iter().map(|&b| b as i8).collect()),
        0x0B => IdxData::I16(
            body.chunks_exact(2)
                .map(|c| i16::from_be_bytes([c[0], c[1]]))
                .collect(),
        ),
        0x0C => IdxData::I32(
            body.chunks_exact(4)
                .map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        0x0D => IdxData::F32(
            body.chunks_exact(4)
                .map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        _ => IdxData::F64(
            body.chunks_exact(8)
                .map(|c| f64::from_be_bytes(c.try_into().expect("8 bytes")))
                .collect(),
        ),
    }
}

/// Parses IDX bytes (already decompressed); `path` names the source in errors.
pub fn parse(bytes: &[u8], path: impl AsRef<Path>) -> Result<IdxArray> {
    let path = path.as_ref();
    let err = |m: String| DataError::format(path, m);
    let Header {
        code,
        tname,
        shape,
        count,
        need,
        len: header,
    } = parse_header(bytes, path)?;
    let body = &bytes[header..];
    if body.len() < need {
        let mut msg = format!(
            "truncated: the header declares {shape:?} {tname} values ({need} bytes) but only {} \
             bytes follow it",
            body.len()
        );
        if let Some(&n0) = shape.first() {
            if n0 > 0 && need / n0 > 0 {
                let rec = need / n0;
                msg.push_str(&format!(
                    "; {} of {n0} records are complete, record {} (0-based) is cut short or missing",
                    body.len() / rec,
                    body.len() / rec
                ));
            }
        }
        return Err(err(msg));
    }
    if body.len() > need {
        return Err(err(format!(
            "{} unexpected bytes after the {count} {tname} values declared by the header {shape:?}",
            body.len() - need
        )));
    }
    Ok(IdxArray {
        shape,
        data: decode(code, body.to_vec()),
    })
}
