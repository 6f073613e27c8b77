//! The in-cluster image as the release builds it (`scripts/image`: buildah,
//! FROM scratch): its config, its exact file list, and its binary run from its
//! own root file system as UID 65532 with an empty environment.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;

const TAG: &str = "localhost/kubectl-notify:image-test";
const ENTRYPOINT: &str = "/usr/local/bin/kubectl-notify";
const MAX_SIZE: u64 = 10_000_000;
/// The release binary's budget (issue 28 item 4); this is the build the
/// releases ship for Linux: static musl, `cargo build --release`.
const MAX_BINARY: u64 = 8_000_000;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// buildah on a storage folder of the test's own.
struct Buildah {
    store: tempfile::TempDir,
}

impl Buildah {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("buildah");
        cmd.arg("--storage-driver")
            .arg("vfs")
            .arg("--root")
            .arg(self.store.path().join("root"))
            .arg("--runroot")
            .arg(self.store.path().join("run"))
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().unwrap();
        assert!(out.status.success(), "buildah {args:?}: {}", stderr(&out));
        stdout(&out).trim().to_string()
    }
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Every entry under `rootfs` as path → "KIND MODE UID:GID" (`f 755 0:0`).
fn listing(rootfs: &Path) -> BTreeMap<String, String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let kind = if meta.is_dir() {
                'd'
            } else if meta.is_file() {
                'f'
            } else {
                '?'
            };
            let rel = path
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let mode = meta.permissions().mode() & 0o7777;
            out.insert(
                rel,
                format!("{kind} {mode:o} {}:{}", meta.uid(), meta.gid()),
            );
            if meta.is_dir() {
                walk(base, &path, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(rootfs, rootfs, &mut out);
    out
}

/// The image's binary, run from its root file system as UID/GID 65532 with
/// no supplementary group (an empty --groups: else chroot would add those
/// /etc/group gives nonroot) and an empty environment.
fn in_rootfs(rootfs: &Path, args: &[&str]) -> Command {
    let chroot = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("chroot"))
        .find(|path| path.is_file())
        .expect("chroot (coreutils) not found");
    let mut cmd = Command::new(chroot);
    cmd.arg("--userspec=65532:65532")
        .arg("--groups=")
        .arg(rootfs)
        .arg(ENTRYPOINT)
        .args(args)
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn proc_field(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_image_is_built_from_scratch_and_its_binary_runs_as_65532_with_nothing_else() {
    if !have("buildah") {
        eprintln!(
            "SKIPPED image test: buildah not found (apt-get install buildah); the image is \
             neither built nor checked"
        );
        return;
    }
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "the image test runs as root (CI does): chroot into the image's root file system and \
         switching to UID 65532 need it"
    );
    let buildah = Buildah {
        store: tempfile::tempdir().unwrap(),
    };

    // Built as the release builds it.
    let started = std::time::Instant::now();
    // In the environment of a shell, not the one cargo gives a test (its
    // CARGO_*, OUT_DIR, LD_LIBRARY_PATH would make the cached musl build
    // stale and rebuild it here, beside the timed tests).
    let mut script = Command::new(root().join("scripts/image"));
    script.env_clear();
    for name in [
        "PATH",
        "HOME",
        "TMPDIR",
        "XDG_CACHE_HOME",
        "RUSTUP_HOME",
        "CARGO_HOME",
        "IMAGE_TARGET_DIR",
        "CA_BUNDLE",
    ] {
        if let Some(value) = std::env::var_os(name) {
            script.env(name, value);
        }
    }
    let built: Output = script
        .args(["--tag", TAG])
        .env("IMAGE_STORE", buildah.store.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "scripts/image failed:\n{}",
        stderr(&built)
    );
    eprintln!("scripts/image took {:?}", started.elapsed());

    // The config: user, entrypoint and nothing to run after it, the labels.
    let inspect: Value =
        serde_json::from_str(&buildah.run(&["inspect", "--type", "image", TAG])).unwrap();
    let image = &inspect["OCIv1"];
    let config = &image["config"];
    assert_eq!(config["User"], "65532:65532");
    assert_eq!(config["Entrypoint"], json!([ENTRYPOINT]));
    assert!(config["Cmd"].is_null(), "a CMD: {}", config["Cmd"]);
    assert!(config["Env"].is_null(), "an environment: {}", config["Env"]);
    assert_eq!(image["os"], "linux");
    let revision = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(root())
        .output()
        .unwrap();
    let labels = &config["Labels"];
    assert_eq!(
        labels["org.opencontainers.image.source"],
        "https://github.com/kubectl-notify/kubectl-notify"
    );
    assert_eq!(
        labels["org.opencontainers.image.version"],
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(labels["org.opencontainers.image.licenses"], "Apache-2.0");
    assert_eq!(
        labels["org.opencontainers.image.revision"],
        stdout(&revision).trim()
    );

    // Its root file system holds these files and nothing else: no shell, no
    // libraries, no loader; all root's, only the binary executable.
    let container = buildah.run(&["from", "--quiet", TAG]);
    let rootfs = PathBuf::from(buildah.run(&["mount", &container]));
    let found = listing(&rootfs);
    let dir = "d 755 0:0";
    let expected: BTreeMap<String, String> = [
        ("etc", dir),
        ("etc/group", "f 644 0:0"),
        ("etc/passwd", "f 644 0:0"),
        ("etc/ssl", dir),
        ("etc/ssl/certs", dir),
        ("etc/ssl/certs/ca-certificates.crt", "f 644 0:0"),
        ("usr", dir),
        ("usr/local", dir),
        ("usr/local/bin", dir),
        ("usr/local/bin/kubectl-notify", "f 755 0:0"),
    ]
    .into_iter()
    .map(|(path, entry)| (path.to_string(), entry.to_string()))
    .collect();
    assert_eq!(found, expected, "the image's files");
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap();
    assert!(
        passwd
            .lines()
            .any(|l| l.starts_with("nonroot:x:65532:65532:")),
        "{passwd}"
    );
    let group = std::fs::read_to_string(rootfs.join("etc/group")).unwrap();
    assert!(
        group.lines().any(|l| l.starts_with("nonroot:x:65532:")),
        "{group}"
    );
    let bundle = rootfs.join("etc/ssl/certs/ca-certificates.crt");
    let roots = std::fs::read_to_string(&bundle).unwrap();
    assert!(
        roots.matches("-----BEGIN CERTIFICATE-----").count() >= 50,
        "the CA bundle holds few certificates"
    );

    // Its size: unpacked on a node, and as pushed (gzip).
    let unpacked: u64 = found
        .keys()
        .map(|path| std::fs::symlink_metadata(rootfs.join(path)).unwrap())
        .filter(|meta| meta.is_file())
        .map(|meta| meta.len())
        .sum();
    let archive = buildah.store.path().join("image.tar");
    buildah.run(&[
        "push",
        "--quiet",
        TAG,
        &format!("oci-archive:{}", archive.display()),
    ]);
    let pushed = std::fs::metadata(&archive).unwrap().len();
    let binary = std::fs::metadata(rootfs.join(ENTRYPOINT.trim_start_matches('/')))
        .unwrap()
        .len();
    eprintln!(
        "image: {unpacked} bytes unpacked, {pushed} bytes as a compressed OCI archive; \
         binary {binary} bytes"
    );
    assert!(
        binary <= MAX_BINARY,
        "the release binary (static musl) is {binary} bytes, over {MAX_BINARY} \
         (docs/performance.md, Size)"
    );
    assert!(
        unpacked <= MAX_SIZE,
        "the image holds {unpacked} bytes, over {MAX_SIZE}"
    );

    // --version, from the image alone.
    let out = finish(
        in_rootfs(&rootfs, &["--version"]).spawn().unwrap(),
        Duration::from_secs(10),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("kubectl notify {}\n", env!("CARGO_PKG_VERSION"))
    );

    // A wait against the test server, trusted through the image's own CA
    // bundle only: before its CA is added there the server is refused...
    let s = Scenario::tls();
    s.widget("foo", json!({"size": 1}), json!({"ready": false}));
    let url = s.server.url();
    let wait = [
        "widgets/foo",
        "--until",
        READY,
        "--server",
        &url,
        "--token",
        testserver::ADMIN_TOKEN,
        "--timeout",
        "30s",
    ];
    let out = finish(
        in_rootfs(&rootfs, &wait).spawn().unwrap(),
        Duration::from_secs(30),
    );
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("certificate"),
        "not a certificate error: {}",
        stderr(&out)
    );

    // ...and once it is (in this container's copy), the wait is met.
    let mut with_ca = roots.clone();
    with_ca.push_str(&s.server.ca_pem().unwrap());
    std::fs::write(&bundle, with_ca).unwrap();
    let mut child = in_rootfs(&rootfs, &wait).spawn().unwrap();
    s.wait_for_watch("foo", &mut child);
    let pid = child.id();
    assert_eq!(proc_field(pid, "Uid"), "65532 65532 65532 65532");
    assert_eq!(proc_field(pid, "Gid"), "65532 65532 65532 65532");
    assert_eq!(proc_field(pid, "Groups"), "", "supplementary groups");
    assert_eq!(
        std::fs::read(format!("/proc/{pid}/environ")).unwrap(),
        b"",
        "the environment is not empty"
    );
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/root")).unwrap(),
        rootfs
    );
    s.set_status("foo", json!({"ready": true}));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "widget.example.com/foo condition met\n");

    buildah.run(&["rm", &container]);
}

/// The Dockerfile, for docker users, copies the root file system that
/// `scripts/image --layout` lays out onto scratch, with the same config.
#[test]
fn the_dockerfile_gives_the_layout_of_scripts_image() {
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    // One instruction per entry, continuation lines joined.
    let instructions: Vec<String> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .fold(Vec::<String>::new(), |mut all, line| {
            match all.last_mut() {
                Some(last) if last.ends_with('\\') => {
                    last.pop();
                    last.push_str(line);
                }
                _ => all.push(line.to_string()),
            }
            all
        });
    let last_from = instructions
        .iter()
        .rposition(|l| l.starts_with("FROM "))
        .unwrap();
    let build = instructions[..last_from].join("\n");
    let image = &instructions[last_from..];
    assert!(
        build.contains("scripts/image --layout /rootfs"),
        "the build stage does not lay out /rootfs with scripts/image:\n{build}"
    );
    assert_eq!(image[0], "FROM scratch");
    let rest: Vec<&str> = image[1..]
        .iter()
        .map(String::as_str)
        .filter(|l| !l.starts_with("ARG ") && !l.starts_with("LABEL "))
        .collect();
    assert_eq!(
        rest,
        [
            "COPY --from=build /rootfs/ /",
            "USER 65532:65532",
            &format!("ENTRYPOINT [\"{ENTRYPOINT}\"]"),
        ]
    );
    for label in ["source", "version", "licenses", "revision"] {
        assert!(
            dockerfile.contains(&format!("org.opencontainers.image.{label}=")),
            "no {label} label in the Dockerfile"
        );
    }
}
