//! The manifest in `config.json`: the size and CRC-32 of every other file of
//! the checkpoint. A save renames `config.json` into place last, so a
//! directory whose files all match its `config.json` is a complete
//! checkpoint, and one that does not is either a save cut short (the
//! loader then uses the backup) or a damaged file (an error naming it).

use serde_json::{json, Map, Value};

/// The manifest entry of one file.
pub(crate) fn entry(bytes: &[u8]) -> Value {
    json!({ "bytes": bytes.len(), "crc32": crc32fast::hash(bytes) })
}

/// The manifest of `files` (name, bytes), as stored under `"files"`.
pub(crate) fn of(files: &[(&str, Vec<u8>)]) -> Value {
    let map: Map<String, Value> = files
        .iter()
        .map(|(name, bytes)| (name.to_string(), entry(bytes)))
        .collect();
    Value::Object(map)
}

/// Why `bytes` does not match the manifest entry `expected`, if it does not.
pub(crate) fn mismatch(name: &str, expected: &Value, bytes: &[u8]) -> Option<String> {
    let want_len = expected.get("bytes").and_then(Value::as_u64);
    let want_crc = expected.get("crc32").and_then(Value::as_u64);
    match (want_len, want_crc) {
        (Some(len), Some(crc)) => {
            if len != bytes.len() as u64 {
                Some(format!(
                    "{name} has {} bytes but config.json records {len} (truncated, or from another save)",
                    bytes.len()
                ))
            } else if crc != crc32fast::hash(bytes) as u64 {
                Some(format!(
                    "{name} does not match the checksum config.json records (damaged, or from another save)"
                ))
            } else {
                None
            }
        }
        _ => Some(format!(
            "config.json's manifest entry for {name} is malformed: {expected}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_file_matches_its_own_entry_and_no_changed_copy(bytes in proptest::collection::vec(any::<u8>(), 0..300), flip in any::<usize>()) {
            let e = entry(&bytes);
            prop_assert!(mismatch("f", &e, &bytes).is_none());
            let mut longer = bytes.clone();
            longer.push(0);
            prop_assert!(mismatch("f", &e, &longer).is_some());
            if !bytes.is_empty() {
                let mut changed = bytes.clone();
                let i = flip % changed.len();
                changed[i] ^= 1;
                prop_assert!(mismatch("f", &e, &changed).is_some());
                prop_assert!(mismatch("f", &e, &bytes[..bytes.len() - 1]).is_some());
            }
        }
    }
}
