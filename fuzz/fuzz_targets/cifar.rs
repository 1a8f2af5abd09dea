//! CIFAR-10 / CIFAR-100 binary parsers: any bytes give Ok or Err, never a panic; a parsed batch
//! has exactly size / record_size samples of shape 32x32x3 and in-range labels.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neurite_data::{cifar10, cifar100};

fuzz_target!(|data: &[u8]| {
    if let Ok(ds) = cifar10::parse_batch(data, "fuzz.bin", true) {
        assert_eq!(data.len() % cifar10::RECORD_BYTES, 0);
        assert_eq!(ds.x.shape(), &[data.len() / cifar10::RECORD_BYTES, 32, 32, 3]);
        assert!(ds.y.iter().all(|&l| (0.0..10.0).contains(&l)));
        assert!(ds.x.iter().all(|&v| (0.0..=1.0).contains(&v)));
    }
    for kind in [cifar100::LabelKind::Fine, cifar100::LabelKind::Coarse] {
        if let Ok(ds) = cifar100::parse_batch(data, "fuzz.bin", kind, false) {
            assert_eq!(ds.x.shape(), &[data.len() / cifar100::RECORD_BYTES, 32, 32, 3]);
            assert!(ds.y.iter().all(|&l| (0.0..100.0).contains(&l)));
        }
    }
});
