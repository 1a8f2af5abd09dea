//! The fenced code blocks of a Markdown file, and what rustdoc makes of a Rust block.

/// One fenced code block.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeBlock {
    /// 1-based line of the opening fence.
    pub line: usize,
    /// The info string split at commas and spaces: `["rust", "no_run"]`.
    pub info: Vec<String>,
    /// The lines between the fences, joined with `\n`.
    pub text: String,
}

impl CodeBlock {
    /// The block's language: the first word of the info string (`""` when there is none).
    pub fn language(&self) -> &str {
        self.info.first().map_or("", String::as_str)
    }

    /// Whether the info string carries `attribute` (e.g. `ignore`, `no_run`).
    pub fn has(&self, attribute: &str) -> bool {
        self.info.iter().skip(1).any(|a| a == attribute)
    }

    /// A Rust block that rustdoc would compile: `ignore` and `compile_fail` blocks are not.
    pub fn is_compiled_rust(&self) -> bool {
        self.language() == "rust" && !self.has("ignore") && !self.has("compile_fail")
    }
}

/// Every block fenced by three or more backticks or tildes; an unclosed block runs to the end.
pub fn code_blocks(markdown: &str) -> Vec<CodeBlock> {
    let mut blocks = Vec::new();
    // The open block: its fence, first line, info string and lines so far.
    let mut open: Option<(String, usize, Vec<String>, Vec<&str>)> = None;
    for (i, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        match open.as_mut() {
            None => {
                if let Some(fence) = fence_of(trimmed) {
                    let info = trimmed[fence.len()..]
                        .split(|c: char| c == ',' || c.is_whitespace())
                        .filter(|w| !w.is_empty())
                        .map(str::to_string)
                        .collect();
                    open = Some((fence, i + 1, info, Vec::new()));
                }
            }
            Some((fence, _, _, lines)) => {
                if closes(trimmed, fence) {
                    let (_, line, info, lines) = open.take().expect("a block is open");
                    blocks.push(CodeBlock {
                        line,
                        info,
                        text: lines.join("\n"),
                    });
                } else {
                    lines.push(line);
                }
            }
        }
    }
    if let Some((_, line, info, lines)) = open {
        blocks.push(CodeBlock {
            line,
            info,
            text: lines.join("\n"),
        });
    }
    blocks
}

/// Whether `line` closes a block opened by `fence`: the same character, at least as many,
/// nothing else.
fn closes(line: &str, fence: &str) -> bool {
    let line = line.trim_end();
    let first = fence.as_bytes()[0] as char;
    line.len() >= fence.len() && line.chars().all(|c| c == first)
}

/// The opening fence of `line` (its run of backticks or tildes, at least three), if any.
fn fence_of(line: &str) -> Option<String> {
    let first = line.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let fence: String = line.chars().take_while(|c| *c == first).collect();
    (fence.len() >= 3).then_some(fence)
}

/// The source rustdoc compiles for a Rust block: hidden lines (`# code`) shown, `##`
/// unescaped, and the code wrapped in `fn main() { .. }` unless it has its own `fn main`
/// (crate attributes `#![..]` stay in front).
pub fn rustdoc_source(block: &str) -> String {
    let lines: Vec<String> = block.lines().map(unhide).collect();
    if lines.iter().any(|l| l.contains("fn main")) {
        return lines.join("\n") + "\n";
    }
    let (attributes, body): (Vec<&String>, Vec<&String>) =
        lines.iter().partition(|l| l.trim_start().starts_with("#!["));
    let mut out = String::new();
    for a in attributes {
        out.push_str(a);
        out.push('\n');
    }
    out.push_str("fn main() {\n");
    for l in body {
        out.push_str(l);
        out.push('\n');
    }
    out.push_str("}\n");
    out
}

/// A line as rustdoc compiles it: `# x` and a lone `#` are hidden code, `##x` is `#x`.
fn unhide(line: &str) -> String {
    let trimmed = line.trim_start();
    let indent = &line[..line.len() - trimmed.len()];
    if trimmed == "#" {
        String::new()
    } else if let Some(rest) = trimmed.strip_prefix("# ") {
        format!("{indent}{rest}")
    } else if let Some(rest) = trimmed.strip_prefix("##") {
        format!("{indent}#{rest}")
    } else {
        line.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_blocks_with_their_line_and_attributes() {
        let md = "text\n```rust,no_run\nlet a = 1;\n\nlet b = 2;\n```\n````toml\n[dependencies]\n````\n~~~\nplain\n~~~\n";
        let blocks = code_blocks(md);
        assert_eq!(blocks.len(), 3);
        assert_eq!(blocks[0].line, 2);
        assert_eq!(blocks[0].info, vec!["rust", "no_run"]);
        assert!(blocks[0].has("no_run") && blocks[0].is_compiled_rust());
        assert_eq!(blocks[0].text, "let a = 1;\n\nlet b = 2;");
        assert_eq!(blocks[1].language(), "toml");
        assert_eq!(blocks[1].text, "[dependencies]");
        assert_eq!(blocks[2].language(), "");
        assert_eq!(blocks[2].text, "plain");
    }

    #[test]
    fn a_leading_empty_line_is_kept() {
        let blocks = code_blocks("```rust\n\nx\n```\n");
        assert_eq!(blocks[0].text, "\nx");
    }

    #[test]
    fn a_shorter_fence_does_not_close_a_longer_one() {
        let blocks = code_blocks("````md\n```rust\nx\n```\n````\n");
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].text, "```rust\nx\n```");
    }

    #[test]
    fn ignored_and_compile_fail_blocks_are_not_compiled() {
        for info in ["rust,ignore", "rust compile_fail", "text", "toml"] {
            let md = format!("```{info}\nx\n```\n");
            assert!(!code_blocks(&md)[0].is_compiled_rust(), "{info}");
        }
    }

    #[test]
    fn hidden_lines_are_compiled_and_code_is_wrapped_in_main() {
        let src =
            rustdoc_source("#![allow(unused)]\n# let hidden = 1;\nlet shown = hidden;\n##[derive(Debug)]\n#");
        assert_eq!(
            src,
            "#![allow(unused)]\nfn main() {\nlet hidden = 1;\nlet shown = hidden;\n#[derive(Debug)]\n\n}\n"
        );
    }

    #[test]
    fn code_with_its_own_main_is_not_wrapped() {
        let src = rustdoc_source("# fn main() -> Result<(), String> {\nlet x = 1;\n# Ok(()) }");
        assert_eq!(src, "fn main() -> Result<(), String> {\nlet x = 1;\nOk(()) }\n");
    }
}
