//! Discovery kept on disk the way kubectl keeps it: one directory per server
//! under `<cache-dir>/discovery/`, trusted for six hours. We write our own file
//! there, and read kubectl's files when ours is missing or old.
//!
//! The cache only ever saves a round trip: anything wrong with it (missing,
//! old, unreadable, unwritable) means asking the server, never a failed run.

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::ApiType;
use super::documents::{parse_group_list, parse_resource_list};

/// kubectl's discovery TTL (client-go's disk cache as kubectl sets it up):
/// older files are not trusted.
pub const TTL: Duration = Duration::from_secs(6 * 60 * 60);

/// Our file in the server's directory. The underscore keeps it apart from
/// kubectl's `<group>/` directories: an API group name cannot hold one.
const OURS: &str = "kubectl-notify_discovery.json";
const KIND: &str = "KubectlNotifyDiscovery";
const FORMAT: u32 = 1;

/// kubectl's `--cache-dir` default: `$KUBECACHEDIR`, else `~/.kube/cache`.
/// An empty `--cache-dir` turns the cache off, as does having no home.
pub fn base_dir(flag: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = flag {
        return (!dir.as_os_str().is_empty()).then(|| dir.to_path_buf());
    }
    if let Some(dir) = std::env::var_os("KUBECACHEDIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|home| Path::new(&home).join(".kube").join("cache"))
}

/// kubectl's directory for one server: `<base>/discovery/<host>`, where host
/// is the server URL without its scheme and with every character other than
/// ASCII letters, digits and `_/.()` made `_` (`https://10.0.0.1:6443` →
/// `10.0.0.1_6443`). Go's path joining drops empty and `.` parts; a `..` may
/// not climb out of the discovery directory here.
pub fn server_dir(base: &Path, server: &str) -> PathBuf {
    let host = server
        .replacen("https://", "", 1)
        .replacen("http://", "", 1);
    let safe: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_/.()".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut dir = base.join("discovery");
    let mut depth = 0;
    for part in safe.split('/') {
        match part {
            "" | "." => {}
            ".." if depth > 0 => {
                dir.pop();
                depth -= 1;
            }
            ".." => {}
            part => {
                dir.push(part);
                depth += 1;
            }
        }
    }
    dir
}

/// One server's cache directory.
#[derive(Clone)]
pub struct Cache {
    dir: PathBuf,
    server: String,
}

/// Types read from a cache file that is young enough.
#[derive(Debug)]
pub struct Cached {
    pub types: Vec<ApiType>,
    /// The file (ours) or directory (kubectl's) they came from, for -v.
    pub from: String,
    pub age: Duration,
}

#[derive(Serialize, Deserialize)]
struct OurFile {
    kind: String,
    version: u32,
    server: String,
    types: Vec<ApiType>,
}

impl Cache {
    pub fn new(base: &Path, server: &str) -> Cache {
        Cache {
            dir: server_dir(base, server),
            server: server.to_string(),
        }
    }

    fn ours(&self) -> PathBuf {
        self.dir.join(OURS)
    }

    /// Our file if it is young enough, else kubectl's; the error says why
    /// neither would do.
    pub fn load(&self) -> Result<Cached, String> {
        let ours = match self.load_ours() {
            Ok(cached) => return Ok(cached),
            Err(why) => why,
        };
        let kubectls = match self.load_kubectls() {
            Ok(cached) => return Ok(cached),
            Err(why) => why,
        };
        Err(format!(
            "no usable cache in {} (ours: {ours}; kubectl's: {kubectls})",
            self.dir.display()
        ))
    }

    fn load_ours(&self) -> Result<Cached, String> {
        let path = self.ours();
        let age = age(&path)?;
        let file: OurFile =
            serde_json::from_slice(&read(&path)?).map_err(|e| format!("unreadable ({e})"))?;
        if file.kind != KIND || file.version != FORMAT {
            return Err(format!("unknown format {} v{}", file.kind, file.version));
        }
        if file.server != self.server {
            return Err(format!("written for {}", file.server));
        }
        Ok(Cached {
            types: file.types,
            from: path.display().to_string(),
            age,
        })
    }

    /// kubectl's layout: `servergroups.json` (an APIGroupList) and one
    /// `<group>/<version>/serverresources.json` (an APIResourceList) per
    /// version listed, the core group's at `v1/`. All of them must be there,
    /// young enough and readable, or none is used: a missing version may be a
    /// type we would then call unknown.
    fn load_kubectls(&self) -> Result<Cached, String> {
        let groups_path = self.dir.join("servergroups.json");
        let age = age(&groups_path)?;
        let unreadable =
            |path: &Path, e: &dyn std::fmt::Display| format!("{} unreadable ({e})", path.display());
        let groups =
            parse_group_list(&read(&groups_path)?).map_err(|e| unreadable(&groups_path, &e))?;
        let mut types = Vec::new();
        for group in &groups {
            for version in &group.versions {
                if !plain_name(&group.group, true) || !plain_name(version, false) {
                    return Err(format!("odd group version {}/{version}", group.group));
                }
                let path = self
                    .dir
                    .join(&group.group)
                    .join(version)
                    .join("serverresources.json");
                self::age(&path).map_err(|why| format!("{}: {why}", path.display()))?;
                let listed =
                    parse_resource_list(&read(&path)?).map_err(|e| unreadable(&path, &e))?;
                types.extend(listed);
            }
        }
        Ok(Cached {
            types,
            from: format!("kubectl's cache {}", self.dir.display()),
            age,
        })
    }

    /// Writes our file atomically (a temporary file renamed over it), so a
    /// concurrent run reads the old or the new file, never half of one.
    pub fn store(&self, types: &[ApiType]) -> Result<PathBuf, String> {
        let path = self.ours();
        let failed = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
        crate::os::create_private_dir(&self.dir).map_err(failed)?;
        let file = OurFile {
            kind: KIND.into(),
            version: FORMAT,
            server: self.server.clone(),
            types: types.to_vec(),
        };
        let body = serde_json::to_vec(&file).map_err(|e| failed(e.into()))?;
        let mut temp = tempfile::Builder::new()
            .prefix(OURS)
            .suffix(".tmp")
            .tempfile_in(&self.dir)
            .map_err(failed)?;
        temp.write_all(&body).map_err(failed)?;
        temp.persist(&path).map_err(|e| failed(e.error))?;
        Ok(path)
    }
}

/// How old a file is, if it is young enough to use. A modification time in
/// the future counts as new, as kubectl counts it.
fn age(path: &Path) -> Result<Duration, String> {
    let modified = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(|e| match e.kind() {
            ErrorKind::NotFound => "not found".to_string(),
            _ => e.to_string(),
        })?;
    let age = SystemTime::now()
        .duration_since(modified)
        .unwrap_or_default();
    if age > TTL {
        return Err(format!("{} old", show_age(age)));
    }
    Ok(age)
}

/// An age to the second: `3m 12s`.
pub fn show_age(age: Duration) -> String {
    humantime::format_duration(Duration::from_secs(age.as_secs())).to_string()
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// A group or version name that is one path component (the core group is "").
fn plain_name(name: &str, may_be_empty: bool) -> bool {
    (may_be_empty || !name.is_empty()) && !name.contains('/') && name != "." && name != ".."
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_dirs_are_kubectls() {
        let base = Path::new("/c");
        let dir = |server| server_dir(base, server);
        assert_eq!(
            dir("https://127.0.0.1:6443"),
            Path::new("/c/discovery/127.0.0.1_6443")
        );
        assert_eq!(
            dir("http://127.0.0.1:38211"),
            Path::new("/c/discovery/127.0.0.1_38211")
        );
        assert_eq!(
            dir("https://[::1]:6443"),
            Path::new("/c/discovery/___1__6443")
        );
        assert_eq!(
            dir("https://rancher.example.com/k8s/clusters/c-m-x"),
            Path::new("/c/discovery/rancher.example.com/k8s/clusters/c_m_x")
        );
        assert_eq!(dir("https://h.io/(x)/"), Path::new("/c/discovery/h.io/(x)"));
        assert_eq!(dir("h.io:443"), Path::new("/c/discovery/h.io_443"));
        assert_eq!(dir("https://a/../../x"), Path::new("/c/discovery/x"));
    }

    fn widget() -> ApiType {
        ApiType {
            group: "example.com".into(),
            version: "v1".into(),
            kind: "Widget".into(),
            plural: "widgets".into(),
            singular: "widget".into(),
            short_names: vec!["wg".into()],
            namespaced: true,
            verbs: vec!["list".into(), "watch".into()],
            categories: vec![],
        }
    }

    #[test]
    fn our_file_round_trips_and_belongs_to_one_server() {
        let base = tempfile::tempdir().unwrap();
        let cache = Cache::new(base.path(), "https://k:6443");
        assert!(cache.load().unwrap_err().contains("not found"));
        let path = cache.store(&[widget()]).unwrap();
        assert!(path.starts_with(base.path().join("discovery/k_6443")));
        let cached = cache.load().unwrap();
        assert_eq!(cached.types, vec![widget()]);
        assert!(cached.age < Duration::from_secs(60));
        let other = Cache::new(base.path(), "http://k:6443");
        assert!(
            other
                .load()
                .unwrap_err()
                .contains("written for https://k:6443")
        );
    }

    #[test]
    fn old_and_garbled_files_are_not_used() {
        let base = tempfile::tempdir().unwrap();
        let cache = Cache::new(base.path(), "https://k:6443");
        let path = cache.store(&[widget()]).unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(SystemTime::now() - TTL - Duration::from_secs(60))
            .unwrap();
        assert!(cache.load().unwrap_err().contains("6h 1m old"));
        std::fs::write(&path, "{").unwrap();
        assert!(cache.load().unwrap_err().contains("unreadable"));
    }

    #[test]
    fn kubectls_files_are_read_only_when_complete() {
        let base = tempfile::tempdir().unwrap();
        let cache = Cache::new(base.path(), "https://k:6443");
        let dir = server_dir(base.path(), "https://k:6443");
        std::fs::create_dir_all(dir.join("v1")).unwrap();
        std::fs::create_dir_all(dir.join("example.com/v1")).unwrap();
        std::fs::write(
            dir.join("servergroups.json"),
            r#"{"kind":"APIGroupList","apiVersion":"v1","groups":[
              {"name":"","versions":[{"groupVersion":"v1","version":"v1"}],
               "preferredVersion":{"groupVersion":"v1","version":"v1"}},
              {"name":"example.com","versions":[{"groupVersion":"example.com/v1","version":"v1"}],
               "preferredVersion":{"groupVersion":"example.com/v1","version":"v1"}}]}"#,
        )
        .unwrap();
        std::fs::write(
            dir.join("v1/serverresources.json"),
            r#"{"kind":"APIResourceList","groupVersion":"v1","resources":[
              {"name":"pods","singularName":"pod","namespaced":true,"kind":"Pod","verbs":["list","watch"]}]}"#,
        )
        .unwrap();
        assert!(
            cache
                .load()
                .unwrap_err()
                .contains("example.com/v1/serverresources.json: not found")
        );
        std::fs::write(
            dir.join("example.com/v1/serverresources.json"),
            r#"{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"example.com/v1","resources":[
              {"name":"widgets","singularName":"widget","namespaced":true,"kind":"Widget","verbs":["list","watch"],"shortNames":["wg"]},
              {"name":"widgets/status","singularName":"","namespaced":true,"kind":"Widget","verbs":["get"]}]}"#,
        )
        .unwrap();
        let cached = cache.load().unwrap();
        let names: Vec<&str> = cached.types.iter().map(|t| t.plural.as_str()).collect();
        assert_eq!(names, ["pods", "widgets"]);
        assert!(cached.from.contains("kubectl's cache"));
    }
}
