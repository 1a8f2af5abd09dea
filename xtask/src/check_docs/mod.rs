//! `cargo xtask check-docs [DOC.md ...]`: every Rust block of `README.md` and `docs/*.md`
//! (or of the docs named) must compile with exactly the dependencies the doc tells its
//! reader to add.
//!
//! For each doc with Rust blocks that rustdoc would compile (not `ignore`, not
//! `compile_fail`):
//!
//! 1. its first TOML block with a `[dependencies]` table is the reader's dependencies
//!    (a doc with Rust blocks and no such table fails: it does not say what to add);
//!    this workspace's crates (`neurite`, `neurite-*`) become path dependencies, every
//!    other crate stays as the doc writes it;
//! 2. a scratch package `target/check-docs/docs/<doc>/` gets those dependencies, this
//!    workspace's `Cargo.lock` (so versions match the tested ones), and one example per
//!    block, `examples/line_<N>.rs`, as rustdoc would compile it (hidden `# ` lines
//!    included, wrapped in `fn main` unless it has one);
//! 3. `cargo check --examples` builds them, with `CARGO_TARGET_DIR=target/check-docs`
//!    shared by every doc, so a second run only checks the snippets.
//!
//! It checks that the blocks compile; running them is the doctests' job (the guide and the
//! README are doctests of the `neurite` crate).

mod manifest;
mod markdown;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// What one doc needs compiled.
#[derive(Debug)]
struct DocPlan {
    /// The doc's path relative to the workspace root, for messages.
    shown: String,
    /// Package name of its scratch project.
    package: String,
    /// The reader's dependencies, localised.
    dependencies: toml_edit::Table,
    /// `(line of the opening fence, source)` of every compiled block.
    snippets: Vec<(usize, String)>,
}

/// `README.md` and every `docs/*.md`, sorted.
fn default_docs(root: &Path) -> Result<Vec<PathBuf>, String> {
    let dir = root.join("docs");
    let mut docs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("reading {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    docs.insert(0, root.join("README.md"));
    Ok(docs)
}

/// The plan of `doc`, or `None` when it has no compiled Rust block.
fn plan(root: &Path, doc: &Path) -> Result<Option<DocPlan>, String> {
    let shown = doc.strip_prefix(root).unwrap_or(doc).display().to_string();
    let text = std::fs::read_to_string(doc).map_err(|e| format!("reading {shown}: {e}"))?;
    let blocks = markdown::code_blocks(&text);
    let snippets: Vec<(usize, String)> = blocks
        .iter()
        .filter(|b| b.is_compiled_rust())
        .map(|b| (b.line, markdown::rustdoc_source(&b.text)))
        .collect();
    if snippets.is_empty() {
        return Ok(None);
    }
    let toml_blocks: Vec<&str> = blocks
        .iter()
        .filter(|b| b.language() == "toml")
        .map(|b| b.text.as_str())
        .collect();
    let dependencies = manifest::dependencies_of(&toml_blocks)
        .map_err(|e| format!("{shown}: {e}"))?
        .ok_or_else(|| {
            format!(
                "{shown}: {} Rust block(s) but no ```toml block with [dependencies]: \
                 the doc must say what to add to Cargo.toml",
                snippets.len()
            )
        })?;
    let dependencies = manifest::localised(&dependencies, root).map_err(|e| format!("{shown}: {e}"))?;
    let stem = doc
        .file_stem()
        .map(|s| s.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let package: String = format!("check-docs-{stem}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    Ok(Some(DocPlan {
        shown,
        package,
        dependencies,
        snippets,
    }))
}

/// Writes the scratch package of `plan` under `projects` and returns its folder; examples
/// of an earlier run are removed first.
fn write_project(plan: &DocPlan, projects: &Path, lockfile: &Path) -> Result<PathBuf, String> {
    let dir = projects.join(&plan.package);
    let examples = dir.join("examples");
    let io = |what: &Path, e: std::io::Error| format!("writing {}: {e}", what.display());
    if examples.exists() {
        std::fs::remove_dir_all(&examples).map_err(|e| io(&examples, e))?;
    }
    std::fs::create_dir_all(&examples).map_err(|e| io(&examples, e))?;
    let manifest = dir.join("Cargo.toml");
    std::fs::write(
        &manifest,
        manifest::scratch_manifest(&plan.package, plan.dependencies.clone()),
    )
    .map_err(|e| io(&manifest, e))?;
    std::fs::copy(lockfile, dir.join("Cargo.lock")).map_err(|e| io(&dir.join("Cargo.lock"), e))?;
    // A library target is required by nothing, but cargo wants one target besides examples.
    let lib = dir.join("src").join("lib.rs");
    std::fs::create_dir_all(dir.join("src")).map_err(|e| io(&lib, e))?;
    std::fs::write(&lib, "").map_err(|e| io(&lib, e))?;
    for (line, source) in &plan.snippets {
        let path = examples.join(format!("line_{line}.rs"));
        let text = format!("// {} line {line}, as rustdoc compiles it.\n{source}", plan.shown);
        std::fs::write(&path, text).map_err(|e| io(&path, e))?;
    }
    Ok(dir)
}

/// Runs `cargo xtask check-docs [DOC ...]`.
pub fn run(args: &[String]) -> Result<(), String> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("usage: cargo xtask check-docs [DOC.md ...]   (default: README.md docs/*.md)");
        return Ok(());
    }
    let root = crate::workspace_root();
    let docs = if args.is_empty() {
        default_docs(&root)?
    } else {
        args.iter().map(|a| root.join(a)).collect()
    };
    let target = crate::target_dir(&root).join("check-docs");
    let projects = target.join("docs");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let start = Instant::now();
    let mut failed = Vec::new();
    let mut checked = 0;
    for doc in &docs {
        let plan = match plan(&root, doc) {
            Ok(plan) => plan,
            Err(e) => {
                println!("check-docs: {e}");
                failed.push(doc.strip_prefix(&root).unwrap_or(doc).display().to_string());
                continue;
            }
        };
        let Some(plan) = plan else {
            println!(
                "check-docs: {}: no compiled Rust block",
                doc.strip_prefix(&root).unwrap_or(doc).display()
            );
            continue;
        };
        let dir = write_project(&plan, &projects, &root.join("Cargo.lock"))?;
        let names: Vec<&str> = plan.dependencies.iter().map(|(n, _)| n).collect();
        println!(
            "check-docs: {}: {} block(s) with [dependencies] {}",
            plan.shown,
            plan.snippets.len(),
            names.join(", ")
        );
        let status = Command::new(&cargo)
            .args(["check", "--quiet", "--examples", "--manifest-path"])
            .arg(dir.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .map_err(|e| format!("running {cargo}: {e}"))?;
        checked += plan.snippets.len();
        if !status.success() {
            println!(
                "check-docs: {} FAILED (examples/line_<N>.rs is the block whose fence is on line N; \
                 sources in {})",
                plan.shown,
                dir.display()
            );
            failed.push(plan.shown);
        }
    }
    println!(
        "check-docs: {checked} block(s) of {} doc(s) checked in {:.0} s",
        docs.len(),
        start.elapsed().as_secs_f64()
    );
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "blocks that do not compile with their doc's dependencies: {}",
            failed.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_doc(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let doc = dir.path().join("page.md");
        std::fs::write(&doc, text).unwrap();
        (dir, doc)
    }

    #[test]
    fn a_doc_without_rust_blocks_needs_nothing() {
        let (_dir, doc) = scratch_doc("# Title\n```sh\ncargo run\n```\n```rust,ignore\nnot rust\n```\n");
        assert!(plan(&crate::workspace_root(), &doc).unwrap().is_none());
    }

    #[test]
    fn rust_blocks_without_dependencies_are_an_error() {
        let (_dir, doc) = scratch_doc("```rust\nlet x = 1;\n```\n");
        let err = plan(&crate::workspace_root(), &doc).unwrap_err();
        assert!(err.contains("no ```toml block"), "{err}");
    }

    #[test]
    fn plans_every_compiled_block_with_the_docs_dependencies() {
        let (dir, doc) = scratch_doc(
            "```toml\n[dependencies]\nneurite = { path = \"x\" }\n```\n\n```rust\nlet x = 1;\n```\n\
             ```rust,no_run\n# fn main() {}\n```\n```rust,ignore\nskipped\n```\n",
        );
        let root = crate::workspace_root();
        let p = plan(&root, &doc).unwrap().unwrap();
        assert_eq!(p.package, "check-docs-page");
        assert_eq!(p.snippets.iter().map(|s| s.0).collect::<Vec<_>>(), vec![6, 9]);
        assert_eq!(p.snippets[0].1, "fn main() {\nlet x = 1;\n}\n");
        let project = write_project(&p, dir.path(), &root.join("Cargo.lock")).unwrap();
        let names: Vec<String> = std::fs::read_dir(project.join("examples"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(project.join("Cargo.lock").is_file());
        let manifest = std::fs::read_to_string(project.join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains(&format!("path = \"{}\"", root.display())),
            "{manifest}"
        );
    }
}
