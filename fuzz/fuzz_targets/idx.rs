//! IDX parser: any bytes must give Ok or Err, never a panic; a parsed array must convert to
//! f32 and re-serialise to the same bytes, and the MNIST layer must accept or reject it
//! cleanly. Differential check of the file reader (header first, data through `Read::take`,
//! raw and gzip) against the in-memory parser: same array, or an error exactly when the parser
//! errs.
#![no_main]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use neurite_data::{idx, mnist};

/// One scratch file per fuzzing process (in /dev/shm when there is one).
fn scratch() -> &'static (PathBuf, PathBuf) {
    static S: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    S.get_or_init(|| {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let id = std::process::id();
        (
            base.join(format!("neurite-fuzz-{id}.idx")),
            base.join(format!("neurite-fuzz-{id}.idx.gz")),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let p = Path::new("fuzz.idx");
    let parsed = idx::parse(data, p);
    if let Ok(a) = &parsed {
        let f = a.to_f32(true).unwrap();
        assert_eq!(f.len(), a.len());
        assert_eq!(f.shape(), &a.shape[..]);
        assert_eq!(a.to_bytes().unwrap(), data);
        // Treat it as both images and labels of an MNIST split.
        let _ = mnist::from_idx(a, p, a, p, Default::default());
        if a.shape.len() == 3 {
            let labels = idx::IdxArray {
                shape: vec![a.shape[0]],
                data: idx::IdxData::U8(vec![0; a.shape[0].min(1 << 16)]),
            };
            let _ = mnist::from_idx(a, p, &labels, p, Default::default());
        }
    }
    // The same bytes through the file reader, raw (unless they look like gzip) and gzipped.
    let (raw, gz) = scratch();
    let mut files = Vec::new();
    if !data.starts_with(&[0x1f, 0x8b]) {
        std::fs::write(raw, data).unwrap();
        files.push(raw);
    }
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    std::fs::write(gz, e.finish().unwrap()).unwrap();
    files.push(gz);
    for f in files {
        match (&parsed, idx::read(f)) {
            (Ok(a), Ok(b)) => assert_eq!(a, &b),
            (Err(_), Err(_)) => {}
            (a, b) => panic!(
                "parse {:?} but read {:?}",
                a.as_ref().map(|a| a.shape.clone()).map_err(|e| e.to_string()),
                b.map(|b| b.shape).map_err(|e| e.to_string())
            ),
        }
    }
});
