//! An I/O error is reported once: the message names the file, `source()`
//! carries the operating system's error, and the message does not repeat it.

use neurite_data::DataError;
use std::error::Error as _;

#[test]
fn an_io_error_names_the_file_and_leaves_the_os_error_to_source() {
    let dir = std::env::temp_dir().join(format!("neurite-data-missing-{}", std::process::id()));
    let path = dir.join("no-such-file.npy");
    let err = neurite_data::npy::read(&path).unwrap_err();
    assert!(matches!(err, DataError::Io { .. }), "{err:?}");
    let message = err.to_string();
    let source = err.source().expect("the OS error is the source").to_string();
    assert!(message.contains("no-such-file.npy"), "{message}");
    assert!(
        !message.contains(&source),
        "{message} repeats its source {source}"
    );
    let io = err
        .source()
        .unwrap()
        .downcast_ref::<std::io::Error>()
        .expect("an io::Error");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
}
