//! `scripts/check-rust-version`, which CI runs on `cargo metadata`: here on made-up metadata,
//! so nothing is downloaded.

use std::process::Command;

fn metadata(ours: Option<&str>, deps: &[(&str, Option<&str>)]) -> serde_json::Value {
    let root = "path+file:///work/app#0.1.0";
    let mut packages = vec![serde_json::json!({
        "id": root, "name": "app", "version": "0.1.0",
        "rust_version": ours, "manifest_path": "/nonexistent/app/Cargo.toml"
    })];
    for (name, rust_version) in deps {
        packages.push(serde_json::json!({
            "id": format!("registry+https://github.com/rust-lang/crates.io-index#{name}@1.0.0"),
            "name": name, "version": "1.0.0", "rust_version": rust_version,
            "manifest_path": format!("/registry/{name}/Cargo.toml")
        }));
    }
    serde_json::json!({"packages": packages, "workspace_members": [root]})
}

fn check(metadata: &serde_json::Value) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metadata.json");
    std::fs::write(&path, metadata.to_string()).unwrap();
    let out = Command::new("python3")
        .arg(format!(
            "{}/scripts/check-rust-version",
            env!("CARGO_MANIFEST_DIR")
        ))
        .arg("--metadata")
        .arg(&path)
        .output()
        .expect("python3 runs the script");
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap() + &String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn a_rust_version_below_a_dependencys_fails_and_names_it() {
    let deps = [
        ("aws-types", Some("1.94.1")),
        ("serde", Some("1.61")),
        ("old", None),
    ];
    let (code, out) = check(&metadata(Some("1.88"), &deps));
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("rust-version 1.88 is lower than the locked dependencies need: 1.94.1 (aws-types 1.0.0)"),
        "{out}"
    );
    assert!(out.contains(r#"Set rust-version = "1.94.1""#), "{out}");

    let (code, out) = check(&metadata(None, &deps));
    assert_eq!(code, Some(1), "no rust-version at all: {out}");

    // 1.94 is lower than 1.94.1.
    let (code, out) = check(&metadata(Some("1.94"), &deps));
    assert_eq!(code, Some(1), "{out}");
}

#[test]
fn an_equal_or_higher_rust_version_passes() {
    let deps = [("aws-types", Some("1.94.1")), ("serde", Some("1.61"))];
    for ours in ["1.94.1", "1.95", "2.0.0"] {
        let (code, out) = check(&metadata(Some(ours), &deps));
        assert_eq!(code, Some(0), "{ours}: {out}");
        assert!(out.starts_with("ok: app rust-version"), "{out}");
    }
}

/// What the script checks against `cargo metadata` in CI holds for the README too: the minimum
/// it states is Cargo.toml's.
#[test]
fn the_readme_states_cargo_tomls_rust_version() {
    let root = env!("CARGO_MANIFEST_DIR");
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(format!("{root}/Cargo.toml")).unwrap()).unwrap();
    let declared = manifest["package"]["rust-version"].as_str().unwrap();
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    assert!(
        readme.contains(&format!("Rust {declared} or newer")),
        "README.md should say `Rust {declared} or newer`"
    );
}
