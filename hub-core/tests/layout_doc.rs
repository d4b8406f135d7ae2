//! The crate doc's "Layout" (hub-core/src/lib.rs) lists every module the
//! crate declares, and no other: a newcomer's map matches the ground.

use std::collections::BTreeSet;

/// Modules only tests and benchmarks build; not part of the map.
const UNLISTED: &[&str] = &["bench_support", "fixtures"];

#[test]
fn the_layout_lists_every_module() {
    let lib = include_str!("../src/lib.rs");
    let layout = &lib[lib.find("//! ## Layout").expect("a Layout section")..];
    let listed: BTreeSet<&str> = layout
        .lines()
        .take_while(|l| l.starts_with("//!"))
        .filter_map(|l| l.strip_prefix("//! - `")?.split('`').next())
        .collect();
    let declared: BTreeSet<&str> = lib
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let name = l
                .strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("mod "))?;
            name.strip_suffix(';')
        })
        .filter(|name| !UNLISTED.contains(name))
        .collect();
    assert_eq!(listed, declared, "lib.rs Layout against its `mod` lines");
}

/// Every Rust source file of the workspace (code, tests, examples,
/// benchmarks) stays under 500 lines: a file a reader can hold in mind.
#[test]
fn every_source_file_is_under_500_lines() {
    let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let mut todo: Vec<_> = [
        "hub-core",
        "hub-server",
        "hub-client",
        "examples",
        "benches",
    ]
    .iter()
    .map(|dir| root.join(dir))
    .collect();
    let mut long = Vec::new();
    while let Some(path) = todo.pop() {
        if path.is_dir() {
            if path
                .file_name()
                .is_some_and(|n| n == "target" || n == "node_modules")
            {
                continue;
            }
            todo.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let lines = std::fs::read_to_string(&path).unwrap().lines().count();
            if lines >= 500 {
                long.push(format!("{} ({lines})", path.display()));
            }
        }
    }
    assert!(long.is_empty(), "over 500 lines: {long:?}");
}
