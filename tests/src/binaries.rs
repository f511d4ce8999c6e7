//! The binaries under test, built once per test process with the same profile and
//! the same features as the workspace's test build (so `cargo test -p ferry-tests`
//! works on its own too, and `cargo test --workspace` compiles nothing twice).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The target directory's profile folder (`target/debug` or `target/release`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/<test> or target/<profile>/<bin>
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

static BUILT: OnceLock<Result<(), String>> = OnceLock::new();

/// The path of a workspace binary, building all of them first if needed.
pub fn binary(name: &str) -> PathBuf {
    let dir = profile_dir();
    let built = BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut command = Command::new(cargo);
        // The whole workspace's binaries: a selection of packages would resolve other
        // features (libsqlite3-sys through the lab's rusqlite) and so compile the
        // control plane and everything under it a second time.
        command.args(["build", "--quiet", "--workspace", "--bins"]);
        // Cargo gives the test process per-package variables (CARGO_MANIFEST_DIR, ...);
        // some build scripts track them, so passing them on would rebuild everything.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            let per_package = [
                "CARGO_MANIFEST_",
                "CARGO_PKG_",
                "CARGO_CRATE_",
                "CARGO_BIN_",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "CARGO_RUSTC_CURRENT_DIR",
            ];
            if key == "OUT_DIR" || per_package.iter().any(|p| key.starts_with(p)) {
                command.env_remove(key.as_ref());
            }
        }
        if dir.ends_with("release") {
            command.arg("--release");
        }
        match command.status() {
            Ok(status) if status.success() => Ok(()),
            Ok(status) => Err(format!("cargo build failed: {status}")),
            Err(e) => Err(format!("cannot run cargo: {e}")),
        }
    });
    if let Err(e) = built {
        panic!("building the binaries under test: {e}");
    }
    let path = dir.join(name);
    assert!(path.exists(), "{} was not built", path.display());
    path
}
