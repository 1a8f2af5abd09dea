//! CSV parser: any bytes under any options give Ok or Err, never a panic; an accepted table has
//! as many labels as rows and one name per feature column.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neurite_data::csv::{self, Column, CsvOptions, LabelEncoding};

fuzz_target!(|input: &[u8]| {
    let Some((&sel, data)) = input.split_first() else {
        return;
    };
    let mut o = CsvOptions::new().header(sel & 1 == 1);
    o = match (sel >> 1) & 3 {
        0 => o,
        1 => o.delimiter(b';'),
        // Any byte as the delimiter, quote and newline included.
        2 => o.delimiter(data.first().copied().unwrap_or(b'\t')),
        _ => o.whitespace(),
    };
    o = o.skip_rows(((sel >> 3) & 1) as usize);
    o = match (sel >> 4) & 3 {
        0 => o,
        1 => o.label(Column::Index(0)),
        2 => o.no_label(),
        _ => o.label_encoding(LabelEncoding::Classes),
    };
    if sel & 0x40 != 0 {
        o = o.features([Column::Index(1), Column::Last]);
    }
    if let Ok(t) = csv::parse(data, "fuzz.csv", &o) {
        let n = t.dataset.x.shape()[0];
        assert_eq!(t.dataset.y.shape()[0], n);
        assert_eq!(t.feature_names.len(), t.dataset.x.shape()[1]);
        if let Some(classes) = &t.classes {
            assert!(t.dataset.y.iter().all(|&c| (c as usize) < classes.len()));
        }
    }
});
