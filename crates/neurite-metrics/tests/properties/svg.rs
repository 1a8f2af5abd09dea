//! The SVG pictures are well-formed and carry the class names; files are
//! written whole.

use neurite_metrics::*;
use proptest::prelude::*;

/// A small well-formedness check: tags nest and close in order, attribute
/// quotes balance, and text has no raw `<` or `&` other than entities.
fn check_well_formed(svg: &str) -> Result<(), String> {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        let text = &rest[..start];
        check_text(text)?;
        let end = rest[start..].find('>').ok_or("unclosed tag")? + start;
        let tag = &rest[start + 1..end];
        if !tag.matches('"').count().is_multiple_of(2) {
            return Err(format!("unbalanced quotes in <{tag}>"));
        }
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().ok_or(format!("</{name}> without an opening tag"))?;
            if open != name.trim() {
                return Err(format!("<{open}> closed by </{name}>"));
            }
        } else if !tag.ends_with('/') && !tag.starts_with('?') && !tag.starts_with('!') {
            stack.push(tag.split_whitespace().next().unwrap_or("").to_string());
        }
        rest = &rest[end + 1..];
    }
    check_text(rest)?;
    if stack.is_empty() {
        Ok(())
    } else {
        Err(format!("unclosed elements {stack:?}"))
    }
}

fn check_text(text: &str) -> Result<(), String> {
    for (i, _) in text.match_indices('&') {
        let entity = &text[i..text[i..].find(';').map_or(text.len(), |j| i + j + 1)];
        if !["&lt;", "&gt;", "&amp;", "&quot;", "&apos;"].contains(&entity) && !entity.starts_with("&#") {
            return Err(format!("bare & in text {text:?}"));
        }
    }
    Ok(())
}

#[test]
fn heatmap_is_valid_svg_with_class_names() {
    let cm = ConfusionMatrix::from_labels(&[0, 1, 2, 2, 1, 0], &[0, 2, 2, 2, 1, 1], 3).unwrap();
    let names = ["setosa", "versicolor", "virginica <&>"];
    for normalize in [false, true] {
        let svg = confusion_matrix_svg(&cm, Some(&names), normalize).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        assert!(svg.trim_end().ends_with("</svg>"));
        check_well_formed(&svg).unwrap();
        for name in [
            "setosa",
            "versicolor",
            "virginica &lt;&amp;&gt;",
            "Predicted label",
            "True label",
        ] {
            assert!(svg.contains(name), "missing {name}");
        }
        // 9 cells + background + 32 colour-bar bands
        assert_eq!(svg.matches("<rect").count(), 9 + 1 + 32);
    }
    let svg = confusion_matrix_svg(&cm, None, true).unwrap();
    assert!(svg.contains("\n0.50\n") && svg.contains("\n1.00\n"));
}

#[test]
fn roc_svg_is_valid() {
    let roc = roc_curve(&[0, 1, 0, 1, 1, 0], &[0.2, 0.7, 0.4, 0.9, 0.3, 0.1]).unwrap();
    let svg = roc_curve_svg(&roc).unwrap();
    check_well_formed(&svg).unwrap();
    assert!(svg.contains("False positive rate") && svg.contains("True positive rate"));
    assert!(svg.contains(&format!("AUC = {:.3}", roc.auc())));
    assert!(svg.contains("<polyline"));
}

#[test]
fn files_are_written_whole_and_leave_no_temporary() {
    let dir = std::env::temp_dir().join(format!("neurite-metrics-svg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cm = ConfusionMatrix::from_labels(&[0, 1], &[0, 1], 2).unwrap();
    let path = dir.join("cm.svg");
    write_confusion_matrix_svg(&cm, Some(&["no", "yes"]), false, &path).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        confusion_matrix_svg(&cm, Some(&["no", "yes"]), false).unwrap()
    );
    let roc = roc_curve(&[0, 1], &[0.2, 0.7]).unwrap();
    write_roc_curve_svg(&roc, dir.join("roc.svg")).unwrap();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["cm.svg", "roc.svg"]);
    // a missing directory is an error naming the file, not a panic
    let err = write_roc_curve_svg(&roc, dir.join("missing/roc.svg")).unwrap_err();
    assert!(
        matches!(
            err,
            MetricError::Render {
                what: "ROC curve",
                ..
            }
        ),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn heatmap_well_formed_for_any_matrix((k, t, p) in crate::util::labels(6, 50)) {
        let cm = ConfusionMatrix::from_labels(&t, &p, k)?;
        let svg = confusion_matrix_svg(&cm, None, false)?;
        prop_assert!(check_well_formed(&svg).is_ok());
        prop_assert_eq!(svg.matches("<rect").count(), k * k + 1 + 32);
    }
}
