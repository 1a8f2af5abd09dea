//! Keras 3 `.keras` import on hostile bytes: Ok or Err, never a panic, abort or runaway
//! allocation. Each input is tried twice: as a whole `.keras` file (the zip reader, then
//! config.json and the HDF5 reader on whatever the zip holds), and as the `model.weights.h5`
//! of a zip whose `config.json` is the valid `mlp` fixture's (the HDF5 reader and the weight
//! mapping on arbitrary bytes). Seed corpus: the files in `tests/fixtures/keras/`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Write;
use std::path::Path;

const CONFIG: &[u8] = include_bytes!("../../tests/fixtures/keras/mlp.config.json");

fn zip_with_weights(weights: &[u8]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let stored =
            zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        zip.start_file("config.json", stored).unwrap();
        zip.write_all(CONFIG).unwrap();
        zip.start_file("model.weights.h5", stored).unwrap();
        zip.write_all(weights).unwrap();
        zip.finish().unwrap();
    }
    out.into_inner()
}

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.keras");
    if let Ok(model) = neurite::interop::keras::load_model_from_bytes(data, path) {
        // What loads is a usable model.
        let _ = model.summary();
    }
    let _ = neurite::interop::keras::load_model_from_bytes(&zip_with_weights(data), path);
});
