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
