//! Every package this repository publishes (the three crates and the
//! TypeScript client) ships both licenses its manifest names, the same
//! texts as the repository's root.

use std::path::Path;

const PACKAGES: [&str; 4] = ["hub-core", "hub-server", "hub-client", "clients/typescript"];
const LICENSES: [&str; 2] = ["LICENSE-MIT", "LICENSE-APACHE"];

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_published_package_ships_both_licenses() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for license in LICENSES {
        let text = read(&root.join(license));
        assert!(
            text.len() > 1_000,
            "{license} at the root is not a license text"
        );
        for package in PACKAGES {
            let copy = read(&root.join(package).join(license));
            assert_eq!(copy, text, "{package}/{license} differs from the root's");
        }
    }
    let workspace = read(&root.join("Cargo.toml"));
    assert!(workspace.contains(r#"license = "MIT OR Apache-2.0""#));
    let npm = read(&root.join("clients/typescript/package.json"));
    assert!(npm.contains(r#""license": "MIT OR Apache-2.0""#));
    for license in LICENSES {
        assert!(
            npm.contains(&format!("\"{license}\"")),
            "package.json's `files` leaves out {license}"
        );
    }
}

/// Each crate has a README (named in its manifest, with the repository)
/// that gives its `Cargo.toml` line and links nothing by a relative path,
/// which would break on a registry's page.
#[test]
fn every_crate_has_a_readme_with_its_dependency_line() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for krate in ["hub-core", "hub-server", "hub-client"] {
        let manifest = read(&root.join(krate).join("Cargo.toml"));
        assert!(manifest.contains("readme = \"README.md\""), "{krate}");
        assert!(manifest.contains("repository.workspace = true"), "{krate}");
        let readme = read(&root.join(krate).join("README.md"));
        assert!(
            readme.contains(&format!("{krate} = {{ git = ")),
            "{krate}/README.md has no dependency line"
        );
        assert!(
            !readme.contains("](../") && !readme.contains("](docs/"),
            "{krate}"
        );
    }
}
