//! `.npz` reader: any archive bytes give Ok or Err, never a panic or an unbounded inflate. And
//! a differential check of the streaming member reader (header first, data through
//! `Read::take`) against the in-memory `.npy` parser: the fuzz input stored as an archive
//! member, deflated or stored, must give the same array, or an error exactly when the
//! in-memory parser errs.
#![no_main]

use std::io::{Cursor, Write};

use libfuzzer_sys::fuzz_target;
use neurite_data::npy;

fn archive(member: &[u8], deflate: bool) -> Vec<u8> {
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let opts = zip::write::SimpleFileOptions::default().compression_method(method);
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file("m.npy", opts).unwrap();
    w.write_all(member).unwrap();
    w.finish().unwrap().into_inner()
}

fuzz_target!(|data: &[u8]| {
    // The input as an archive.
    if let Ok(members) = npy::parse_npz(data, "fuzz.npz", false) {
        for (_, a) in &members {
            assert!(a.len() <= data.len().saturating_mul(1032) + 1);
        }
    }
    // The input as a member.
    let direct = npy::parse(data, "m.npy", false);
    for deflate in [false, true] {
        let z = archive(data, deflate);
        let streamed = npy::parse_npz(&z, "fuzz.npz", false);
        match (&direct, streamed) {
            (Ok(a), Ok(v)) => {
                assert_eq!(v.len(), 1);
                assert_eq!(v[0].1.shape(), a.shape());
                let same = v[0]
                    .1
                    .iter()
                    .zip(a.iter())
                    .all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(same, "streamed and in-memory values differ");
            }
            (Err(_), Err(_)) => {}
            (d, s) => panic!(
                "in-memory {:?} but streamed {:?}",
                d.as_ref().map(|a| a.shape().to_vec()).map_err(|e| e.to_string()),
                s.map(|v| v.len()).map_err(|e| e.to_string())
            ),
        }
    }
});
