//! The shape of `abci-app/src`, checked from its sources: the top-level
//! modules (folders and files) import each other without a cycle, and the
//! consensus core imports nothing from the node process around it (its API
//! servers, its CLI, its verifier worker) nor from the client crate.
//! Test code (`tests.rs` and `*_tests.rs`, `mod tests`, the test-only `toy`
//! module) is left out: it may drive the chain the way clients do.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The state machine: everything a block's execution can reach.
const CONSENSUS: &[&str] = &[
    "address",
    "app",
    "auth",
    "codes",
    "context",
    "contract_requests",
    "dataset",
    "fee",
    "genesis",
    "gov",
    "ids",
    "module",
    "query_page",
    "storage_gas",
    "store",
    "training",
    "wasm",
];
/// The node process around it, which consensus code must not import.
const OUTSIDE: &[&str] = &["api", "cli", "node"];
const TEST_ONLY: &[&str] = &["toy", "fuzz_inputs", "lib", "main"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to: `training/decide.rs` → `training`.
fn top_level(relative: &Path) -> String {
    let first = relative.components().next().unwrap().as_os_str();
    let first = first.to_string_lossy();
    first.strip_suffix(".rs").unwrap_or(&first).to_string()
}

/// The source without comments and without its `#[cfg(test)] mod tests`.
fn non_test_code(text: &str) -> String {
    let mut kept = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if trimmed == "#[cfg(test)]" {
            if let Some(next) = lines.peek() {
                let next = next.trim();
                if next.starts_with("mod tests") || next.starts_with("pub(crate) mod tests") {
                    break;
                }
            }
        }
        if !trimmed.starts_with("//") {
            kept.push(line);
        }
    }
    kept.join("\n")
}

fn identifier_at(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// Every top-level module named after `crate::`, including each of a
/// `crate::{a, b::c}` group.
fn crate_references(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if c.is_whitespace() => {}
                    _ if start => {
                        found.insert(identifier_at(&group[i..]));
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            found.insert(identifier_at(rest));
        }
    }
    found.retain(|name| !name.is_empty());
    found
}

struct Tree {
    imports: BTreeMap<String, BTreeSet<String>>,
    uses_client: BTreeSet<String>,
}

fn tree() -> Tree {
    let root = src();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut imports: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut uses_client = BTreeSet::new();
    for file in files {
        let relative = file.strip_prefix(&root).unwrap();
        let module = top_level(relative);
        let test_file = file
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n == "tests.rs" || n.ends_with("_tests.rs"));
        if TEST_ONLY.contains(&module.as_str()) || test_file {
            continue;
        }
        let code = non_test_code(&fs::read_to_string(&file).unwrap());
        if code.contains("um_client") {
            uses_client.insert(relative.display().to_string());
        }
        let entry = imports.entry(module.clone()).or_default();
        entry.extend(
            crate_references(&code)
                .into_iter()
                .filter(|name| *name != module),
        );
    }
    let modules: BTreeSet<String> = imports.keys().cloned().collect();
    for targets in imports.values_mut() {
        targets.retain(|name| modules.contains(name));
    }
    Tree {
        imports,
        uses_client,
    }
}

/// A path from `from` back to itself, if there is one.
fn cycle_through(imports: &BTreeMap<String, BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
    let mut stack = vec![(from.to_string(), vec![from.to_string()])];
    let mut seen = BTreeSet::new();
    while let Some((module, path)) = stack.pop() {
        for next in imports.get(&module).into_iter().flatten() {
            if next == from {
                let mut cycle = path.clone();
                cycle.push(next.clone());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    None
}

#[test]
fn top_level_modules_import_each_other_without_a_cycle() {
    let tree = tree();
    assert!(
        tree.imports.len() >= 15,
        "the walk found too little: {:?}",
        tree.imports.keys()
    );
    let cycles: Vec<Vec<String>> = tree
        .imports
        .keys()
        .filter_map(|module| cycle_through(&tree.imports, module))
        .collect();
    assert!(cycles.is_empty(), "import cycles: {cycles:?}");
}

#[test]
fn the_consensus_core_imports_nothing_from_the_node_process_or_the_client() {
    let tree = tree();
    for module in CONSENSUS {
        let imports = tree
            .imports
            .get(*module)
            .unwrap_or_else(|| panic!("no module {module} in src/"));
        let outward: Vec<&String> = imports
            .iter()
            .filter(|name| OUTSIDE.contains(&name.as_str()))
            .collect();
        assert!(outward.is_empty(), "{module} imports {outward:?}");
    }
    let consensus_files: Vec<&String> = tree
        .uses_client
        .iter()
        .filter(|file| CONSENSUS.contains(&top_level(Path::new(file.as_str())).as_str()))
        .collect();
    assert!(
        consensus_files.is_empty(),
        "consensus code using um_client: {consensus_files:?}"
    );
}

/// The checks above see what they are meant to see.
#[test]
fn the_reference_reader_finds_groups_and_paths() {
    let code = "use crate::{auth::{self, Mode}, codes::Code};\nlet x = crate::gov::registry(s);";
    let found = crate_references(code);
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        ["auth", "codes", "gov"]
    );
    let mut imports = BTreeMap::new();
    imports.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    imports.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(
        cycle_through(&imports, "a"),
        Some(vec!["a".to_string(), "b".to_string(), "a".to_string()])
    );
    let stripped = non_test_code("use crate::a;\n#[cfg(test)]\nmod tests {\n use crate::cli;\n}");
    assert!(!stripped.contains("cli"));
}
