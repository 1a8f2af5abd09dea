//! Built without the `gzip` feature, gzip content is a `FeatureDisabled` error naming the file
//! and the feature, when read (by content, whatever the name) and when a `.gz` name is written.
//! (With the feature on, `formats.rs` covers gzip.)
#![cfg(not(feature = "gzip"))]

use neurite_data::idx::{self, IdxArray, IdxData};
use neurite_data::DataError;

/// A gzip stream (the magic bytes and one empty deflate block), as any `.gz` file starts.
const EMPTY_GZIP: [u8; 20] = [
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00,
];

fn assert_names_gzip_feature(err: DataError, file: &str) {
    let text = err.to_string();
    assert!(
        matches!(err, DataError::FeatureDisabled { feature: "gzip", .. }),
        "expected FeatureDisabled for gzip, got {text}"
    );
    assert!(text.contains(file), "error does not name {file}: {text}");
    assert!(
        text.contains("`gzip` cargo feature"),
        "error does not name the feature: {text}"
    );
}

#[test]
fn reading_gzip_content_names_the_missing_feature() {
    let dir = tempfile::tempdir().unwrap();
    // Detected by content: the name has no `.gz`.
    let path = dir.path().join("labels.idx1-ubyte");
    std::fs::write(&path, EMPTY_GZIP).unwrap();
    assert_names_gzip_feature(idx::read(&path).unwrap_err(), "labels.idx1-ubyte");
}

#[test]
fn writing_a_gz_name_names_the_missing_feature_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labels.idx1-ubyte.gz");
    let labels = IdxArray {
        shape: vec![3],
        data: IdxData::U8(vec![7, 8, 9]),
    };
    assert_names_gzip_feature(idx::write(&path, &labels).unwrap_err(), "labels.idx1-ubyte.gz");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    // The plain name still works.
    let plain = dir.path().join("labels.idx1-ubyte");
    idx::write(&plain, &labels).unwrap();
    assert_eq!(idx::read(&plain).unwrap(), labels);
}
