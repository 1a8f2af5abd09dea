//! A 3×5 pixel font for the captions drawn into PNG pictures (digits,
//! letters shown upper-case, and a few signs; other characters are blank).

/// The glyph of `c`: five rows of three pixels, `true` where ink is.
pub(crate) fn glyph(c: char) -> [[bool; 3]; 5] {
    let rows: &str = match c.to_ascii_uppercase() {
        '0' => "111101101101111",
        '1' => "010110010010111",
        '2' => "111001111100111",
        '3' => "111001111001111",
        '4' => "101101111001001",
        '5' => "111100111001111",
        '6' => "111100111101111",
        '7' => "111001001010010",
        '8' => "111101111101111",
        '9' => "111101111001111",
        'A' => "010101111101101",
        'B' => "110101110101110",
        'C' => "011100100100011",
        'D' => "110101101101110",
        'E' => "111100110100111",
        'F' => "111100110100100",
        'G' => "011100101101011",
        'H' => "101101111101101",
        'I' => "111010010010111",
        'J' => "001001001101010",
        'K' => "101101110101101",
        'L' => "100100100100111",
        'M' => "101111111101101",
        'N' => "110101101101101",
        'O' => "010101101101010",
        'P' => "110101110100100",
        'Q' => "010101101110011",
        'R' => "110101110101101",
        'S' => "011100010001110",
        'T' => "111010010010010",
        'U' => "101101101101111",
        'V' => "101101101101010",
        'W' => "101101111111101",
        'X' => "101101010101101",
        'Y' => "101101010010010",
        'Z' => "111001010100111",
        ':' => "000010000010000",
        '.' => "000000000000010",
        ',' => "000000000010100",
        '-' => "000000111000000",
        '/' => "001001010100100",
        '=' => "000111000111000",
        '_' => "000000000000111",
        '(' => "010100100100010",
        ')' => "010001001001010",
        _ => "000000000000000",
    };
    let bits: Vec<bool> = rows.bytes().map(|b| b == b'1').collect();
    std::array::from_fn(|r| std::array::from_fn(|c| bits[r * 3 + c]))
}

/// Width in pixels of `text` drawn at `scale` (4 columns per character: 3 of ink, 1 of space).
pub(crate) fn text_width(text: &str, scale: u32) -> u32 {
    text.chars().count() as u32 * 4 * scale
}

/// Draws `text` with its top-left corner at `(x, y)`, each font pixel a
/// `scale`×`scale` square; pixels outside the image are skipped.
pub(crate) fn draw_text(img: &mut image::RgbImage, x: u32, y: u32, text: &str, scale: u32, color: [u8; 3]) {
    for (k, c) in text.chars().enumerate() {
        let g = glyph(c);
        for (r, row) in g.iter().enumerate() {
            for (col, &ink) in row.iter().enumerate() {
                if !ink {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let px = x + (k as u32 * 4 + col as u32) * scale + dx;
                        let py = y + r as u32 * scale + dy;
                        if px < img.width() && py < img.height() {
                            img.put_pixel(px, py, image::Rgb(color));
                        }
                    }
                }
            }
        }
    }
}
