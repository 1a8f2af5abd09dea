//! The Cargo.toml of a doc's scratch project: the `[dependencies]` the doc tells its reader
//! to add, with this workspace's crates turned into path dependencies.

use std::path::Path;
use toml_edit::{DocumentMut, InlineTable, Item, Value};

/// The `[dependencies]` table of the first TOML block of a doc that has one, as written.
pub fn dependencies_of(toml_blocks: &[&str]) -> Result<Option<toml_edit::Table>, String> {
    for block in toml_blocks {
        let doc: DocumentMut = block
            .parse()
            .map_err(|e| format!("a TOML block does not parse: {e}"))?;
        if let Some(table) = doc.get("dependencies").and_then(Item::as_table) {
            return Ok(Some(table.clone()));
        }
    }
    Ok(None)
}

/// The folder of workspace crate `name` (`neurite` is the root), if it is one of ours.
pub fn workspace_crate(root: &Path, name: &str) -> Option<std::path::PathBuf> {
    if name == "neurite" {
        Some(root.to_path_buf())
    } else if name.starts_with("neurite-") {
        let dir = root.join("crates").join(name);
        dir.join("Cargo.toml").is_file().then_some(dir)
    } else {
        None
    }
}

/// `dependencies` with every workspace crate pointing at its folder under `root` (its
/// `features`, `default-features` and `optional` kept, its version or path as written in
/// the doc dropped); other crates stay as the doc writes them. An unknown `neurite-*` name
/// is an error: the doc names a crate that does not exist.
pub fn localised(dependencies: &toml_edit::Table, root: &Path) -> Result<toml_edit::Table, String> {
    let mut out = toml_edit::Table::new();
    for (name, item) in dependencies.iter() {
        if name == "neurite" || name.starts_with("neurite-") {
            let dir = workspace_crate(root, name).ok_or_else(|| {
                format!("the doc asks for {name:?}, which is not a crate of this workspace")
            })?;
            let mut local = InlineTable::new();
            local.insert("path", Value::from(dir.to_string_lossy().as_ref()));
            if let Some(table) = item.as_table_like() {
                for key in ["features", "default-features", "optional"] {
                    if let Some(Item::Value(v)) = table.get(key) {
                        local.insert(key, v.clone());
                    }
                }
            }
            out.insert(name, Item::Value(Value::InlineTable(local)));
        } else {
            out.insert(name, item.clone());
        }
    }
    Ok(out)
}

/// The whole manifest of a scratch package `name` with `dependencies`, outside any workspace.
pub fn scratch_manifest(name: &str, dependencies: toml_edit::Table) -> String {
    let mut doc = DocumentMut::new();
    let mut package = toml_edit::Table::new();
    package.insert("name", toml_edit::value(name));
    package.insert("version", toml_edit::value("0.0.0"));
    package.insert("edition", toml_edit::value("2021"));
    package.insert("publish", toml_edit::value(false));
    doc.insert("package", Item::Table(package));
    // An empty workspace: the scratch package is not a member of the one it lives under.
    doc.insert("workspace", Item::Table(toml_edit::Table::new()));
    doc.insert("dependencies", Item::Table(dependencies));
    doc.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_path_buf()
    }

    #[test]
    fn takes_the_first_block_with_dependencies() {
        let deps = dependencies_of(&["[package]\nname = \"x\"", "[dependencies]\nndarray = \"0.17\""])
            .unwrap()
            .unwrap();
        assert_eq!(deps.len(), 1);
        assert!(dependencies_of(&["[package]\nname = \"x\""]).unwrap().is_none());
        assert!(dependencies_of(&["[dependencies"]).is_err());
    }

    #[test]
    fn workspace_crates_become_paths_and_others_stay_as_written() {
        let deps = dependencies_of(&[concat!(
            "[dependencies]\n",
            "neurite = { path = \"path/to/neurite\", features = [\"openblas\"] }\n",
            "neurite-data = \"0.1\"\n",
            "ndarray = \"0.17\"  # arrays\n",
            "# neurite-metrics = \"0.1\"\n",
        )])
        .unwrap()
        .unwrap();
        let local = localised(&deps, &root()).unwrap();
        assert_eq!(local.len(), 3, "{local}");
        let neurite = local["neurite"].as_inline_table().unwrap();
        assert_eq!(neurite["path"].as_str(), Some(root().to_str().unwrap()));
        assert_eq!(neurite["features"].as_array().unwrap().len(), 1);
        let data = local["neurite-data"].as_inline_table().unwrap();
        assert!(data["path"].as_str().unwrap().ends_with("crates/neurite-data"));
        assert!(data.get("version").is_none());
        assert_eq!(local["ndarray"].as_str(), Some("0.17"));
    }

    #[test]
    fn an_unknown_neurite_crate_is_an_error() {
        let deps = dependencies_of(&["[dependencies]\nneurite-gpu = \"1\""])
            .unwrap()
            .unwrap();
        assert!(localised(&deps, &root()).unwrap_err().contains("neurite-gpu"));
    }

    #[test]
    fn the_scratch_manifest_is_its_own_workspace() {
        let deps = dependencies_of(&["[dependencies]\nndarray = \"0.17\""])
            .unwrap()
            .unwrap();
        let text = scratch_manifest("check-docs-guide", deps);
        let doc: DocumentMut = text.parse().unwrap();
        assert_eq!(doc["package"]["name"].as_str(), Some("check-docs-guide"));
        assert!(doc["workspace"].as_table().unwrap().is_empty());
        assert_eq!(doc["dependencies"]["ndarray"].as_str(), Some("0.17"));
    }
}
