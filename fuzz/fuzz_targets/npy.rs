//! .npy and .npz parsers: any bytes give Ok or Err, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neurite_data::npy;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = npy::parse(data, "fuzz.npy", true) {
        // What we read, we can write and read back.
        let again = npy::parse(&npy::to_bytes(&a), "again.npy", false).unwrap();
        assert_eq!(again.shape(), a.shape());
    }
    let _ = npy::parse_npz(data, "fuzz.npz", false);
});
