//! IDX parser (MNIST format): any bytes must give Ok or Err, never a panic; a parsed array must
//! convert to f32 and re-serialise to the same bytes, and the MNIST layer must accept or reject
//! it cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neurite_data::{idx, mnist};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let p = Path::new("fuzz.idx");
    if let Ok(a) = idx::parse(data, p) {
        let f = a.to_f32(true);
        assert_eq!(f.len(), a.len());
        assert_eq!(f.shape(), &a.shape[..]);
        assert_eq!(a.to_bytes().unwrap(), data);
        // Treat it as both images and labels of an MNIST split.
        let _ = mnist::from_idx(&a, p, &a, p, Default::default());
        if a.shape.len() == 3 {
            let labels = idx::IdxArray {
                shape: vec![a.shape[0]],
                data: idx::IdxData::U8(vec![0; a.shape[0].min(1 << 16)]),
            };
            let _ = mnist::from_idx(&a, p, &labels, p, Default::default());
        }
    }
});
