//! The SVG text of a model picture: plain SVG 1.1 elements, one `<g
//! class="node">` (holding one `<rect class="box">`) per box and one
//! `<path class="edge">` per edge, every name XML-escaped, coordinates
//! with one decimal.

use super::layout::{Layout, Rect, BOX_H};
use super::Diagram;
use std::fmt::Write;

/// Font size of the text in pixels.
const FONT_PX: f64 = 13.0;
/// Advance of one character of a monospace font at [`FONT_PX`] (0.6 em).
const CHAR_W: f64 = 7.8;
/// Padding left and right of a box's text.
const PAD: f64 = 12.0;
/// The narrowest box.
const MIN_BOX_W: f64 = 110.0;
/// Longer names are cut to this many characters in the box (the whole
/// name is in the box's `<title>`, shown as a tooltip).
pub(super) const MAX_LABEL_CHARS: usize = 60;

/// `text` safe inside an XML element or a quoted attribute: `&<>"'`
/// escaped, and control characters (which XML 1.0 forbids or a label
/// cannot show) replaced by U+FFFD.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// `text` cut to [`MAX_LABEL_CHARS`] characters, the last one `…` when cut.
pub(super) fn shorten(text: &str) -> String {
    if text.chars().count() <= MAX_LABEL_CHARS {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(MAX_LABEL_CHARS - 1).collect();
        s.push('…');
        s
    }
}

/// The width of a box showing these two lines.
pub(super) fn box_width(label: &str, shape: &str) -> f64 {
    let chars = shorten(label).chars().count().max(shape.chars().count());
    (chars as f64 * CHAR_W + 2.0 * PAD).max(MIN_BOX_W)
}

/// The path of an edge through its points: a vertical S-curve between
/// consecutive points, which is a straight line when they are one above
/// the other (an edge passing a level).
fn path_data(points: &[(f64, f64)]) -> String {
    let mut d = String::new();
    let (x0, y0) = points[0];
    let _ = write!(d, "M{x0:.1},{y0:.1}");
    for pair in points.windows(2) {
        let ((xa, ya), (xb, yb)) = (pair[0], pair[1]);
        if (xa - xb).abs() < 0.05 {
            let _ = write!(d, " L{xb:.1},{yb:.1}");
        } else {
            let ym = (ya + yb) / 2.0;
            let _ = write!(d, " C{xa:.1},{ym:.1} {xb:.1},{ym:.1} {xb:.1},{yb:.1}");
        }
    }
    d
}

/// Fill and stroke of a box: inputs green, outputs orange, other layers blue.
fn colors(is_input: bool, is_output: bool) -> (&'static str, &'static str) {
    match (is_input, is_output) {
        (_, true) => ("#fdebd3", "#c0650f"),
        (true, false) => ("#e3f3e0", "#3f8f3a"),
        (false, false) => ("#e4ecf8", "#3a6db0"),
    }
}

/// The SVG document of `diagram` drawn as `layout` places it.
pub(super) fn render(diagram: &Diagram, layout: &Layout) -> String {
    let (w, h) = (layout.width, layout.height);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.1}\" height=\"{h:.1}\" viewBox=\"0 0 {w:.1} {h:.1}\" font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" font-size=\"{FONT_PX}\">"
    );
    let _ = writeln!(out, "<title>{}</title>", escape(&diagram.title));
    out.push_str(
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#444\"/></marker></defs>\n",
    );
    let _ = writeln!(out, "<rect width=\"{w:.1}\" height=\"{h:.1}\" fill=\"white\"/>");
    for (points, &(from, to)) in layout.edges.iter().zip(&diagram.edges) {
        let _ = writeln!(
            out,
            "<path class=\"edge\" data-from=\"{from}\" data-to=\"{to}\" d=\"{}\" fill=\"none\" stroke=\"#444\" stroke-width=\"1.3\" marker-end=\"url(#arrow)\"/>",
            path_data(points)
        );
    }
    for (index, (b, r)) in diagram.boxes.iter().zip(&layout.boxes).enumerate() {
        let Rect { x, y, w, h } = *r;
        let (fill, stroke) = colors(b.is_input, b.is_output);
        let cx = x + w / 2.0;
        let _ = writeln!(
            out,
            "<g class=\"node\" data-index=\"{index}\"><title>{} {}</title><rect class=\"box\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"5\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{}\"/><text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text><text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#333\">{}</text></g>",
            escape(&b.label),
            escape(&b.shape),
            if b.is_output { 2.0 } else { 1.2 },
            y + BOX_H * 0.42,
            escape(&shorten(&b.label)),
            y + BOX_H * 0.80,
            escape(&b.shape),
        );
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn markup_and_control_characters_are_escaped() {
        assert_eq!(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(escape("x\u{0}y\nz"), "x\u{FFFD}y\u{FFFD}z");
        assert_eq!(escape("dense_1 (Dense)"), "dense_1 (Dense)");
    }

    #[test]
    fn long_labels_are_cut_and_boxes_fit_their_text() {
        let long = "n".repeat(200);
        assert_eq!(shorten(&long).chars().count(), MAX_LABEL_CHARS);
        assert!(shorten(&long).ends_with('…'));
        assert_eq!(shorten("dense_1 (Dense)"), "dense_1 (Dense)");
        assert_eq!(box_width("a", "(None, 2)"), MIN_BOX_W);
        let w = box_width(&long, "(None, 2)");
        assert!((w - (MAX_LABEL_CHARS as f64 * CHAR_W + 2.0 * PAD)).abs() < 1e-9);
    }

    #[test]
    fn vertical_steps_are_lines_and_others_curves() {
        assert_eq!(path_data(&[(10.0, 0.0), (10.0, 5.0)]), "M10.0,0.0 L10.0,5.0");
        assert_eq!(
            path_data(&[(0.0, 0.0), (10.0, 20.0)]),
            "M0.0,0.0 C0.0,10.0 10.0,10.0 10.0,20.0"
        );
    }

    proptest! {
        /// Escaped text has no markup character left bare and no control
        /// character, and unescaping it gives back the text (controls aside).
        #[test]
        fn escaping_round_trips(text in any::<String>()) {
            let e = escape(&text);
            prop_assert!(!e.contains('<') && !e.contains('>') && !e.contains('"') && !e.contains('\''));
            prop_assert!(!e.chars().any(char::is_control));
            let back = e
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&");
            let expected: String = text
                .chars()
                .map(|c| if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' { '\u{FFFD}' } else { c })
                .collect();
            prop_assert_eq!(back, expected);
        }
    }
}
