//! `-f FILE|DIR|-`, `-R` and `-k DIR`: every object of the manifests as a
//! target with its own type and namespace, read before any connection is made.
//!
//! Folders are read as kubectl reads them: the files directly in them whose
//! names end in `.json`, `.yaml` or `.yml` (hidden ones too), in name order;
//! sub-folders only with `-R`. A file named with `-f` is read whatever its
//! name. A text is JSON when it starts with `{` (a stream of objects), the
//! `kind.group/name` lines `kubectl apply -o name` prints when every line is
//! one, and YAML documents split at `---` lines otherwise.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::discovery::ApiType;
use crate::exit::{Exit, Result};
use crate::target::{Manifested, Selection, TargetSpec};

/// The extensions kubectl reads in a folder (`FileExtensions` in its resource builder).
const EXTENSIONS: [&str; 3] = ["json", "yaml", "yml"];

/// Where the manifests are, as the flags gave them.
pub struct Sources<'a> {
    pub files: &'a [String],
    pub recursive: bool,
    pub kustomize: Option<&'a str>,
}

/// One text to read and what to call it in messages.
struct Text {
    name: String,
    body: String,
}

/// Every object of the manifests, in the order they were read.
pub fn read(sources: &Sources, stdin: &mut dyn Read) -> Result<Vec<TargetSpec>> {
    let texts = texts(sources, stdin)?;
    let mut documents = Vec::new();
    for text in &texts {
        documents.extend(parse(text)?);
    }
    let defined: Vec<ApiType> = documents
        .iter()
        .filter_map(|d| match d {
            Document::Object { value, .. } => crd_type(value),
            Document::Name { .. } => None,
        })
        .collect();
    let mut specs = Vec::new();
    for document in documents {
        specs.push(target(document, &defined)?);
    }
    if specs.is_empty() {
        if sources.files == ["-"] && sources.kustomize.is_none() {
            return Err(Exit::Usage(
                "no objects in -f -: standard input held none; pipe the manifests in, \
                 e.g. kubectl apply -f k8s/ -o yaml | kubectl notify -f - --for ready"
                    .into(),
            ));
        }
        let from = match sources.kustomize {
            Some(dir) => format!("-k {dir}"),
            None => format!("-f {}", sources.files.join(" -f ")),
        };
        let folder = sources.files.iter().any(|f| Path::new(f).is_dir());
        if !folder {
            return Err(Exit::Usage(format!(
                "no objects in {from}: it holds no Kubernetes object (YAML documents or JSON \
                 with apiVersion, kind and metadata.name)"
            )));
        }
        return Err(Exit::Usage(format!(
            "no objects in {from}: a folder is read for files ending .json, .yaml or .yml{}",
            if sources.recursive || sources.kustomize.is_some() {
                ""
            } else {
                " (add -R for its sub-folders)"
            }
        )));
    }
    Ok(specs)
}

fn texts(sources: &Sources, stdin: &mut dyn Read) -> Result<Vec<Text>> {
    let mut texts = Vec::new();
    let mut stdin_read = false;
    for file in sources.files {
        if file == "-" {
            if stdin_read {
                return Err(Exit::Usage(
                    "-f - is given twice: standard input can be read once".into(),
                ));
            }
            stdin_read = true;
            let mut body = String::new();
            stdin
                .read_to_string(&mut body)
                .map_err(|e| Exit::Usage(format!("-f -: cannot read standard input: {e}")))?;
            texts.push(Text {
                name: "stdin".into(),
                body,
            });
            continue;
        }
        if file.is_empty() {
            return Err(Exit::Usage(
                "-f needs a file, a folder or - (standard input); it was given an empty value"
                    .into(),
            ));
        }
        if file.starts_with("http://") || file.starts_with("https://") {
            return Err(Exit::Usage(format!(
                "-f {file}: URLs are not fetched; download the file, or pipe it: \
                 curl -sSL URL | kubectl notify -f -"
            )));
        }
        let path = Path::new(file);
        let meta = std::fs::metadata(path).map_err(|e| unreadable(file, &e))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(path, sources.recursive, &mut found)?;
            for path in found {
                texts.push(read_file(&path)?);
            }
        } else {
            texts.push(read_file(path)?);
        }
    }
    if let Some(dir) = sources.kustomize {
        texts.push(kustomize(dir)?);
    }
    Ok(texts)
}

fn unreadable(path: &str, e: &std::io::Error) -> Exit {
    let why = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or folder".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    };
    Exit::Usage(format!("-f {path}: cannot read it: {why}"))
}

/// The files of a folder kubectl would read, in name order. As kubectl's
/// walk, a symlink inside the folder is not followed into a folder (so a
/// link back up cannot make a cycle); one to a file is read.
fn walk(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) -> Result<()> {
    let shown = dir.display().to_string();
    let mut entries = std::fs::read_dir(dir)
        .and_then(|entries| entries.collect::<std::io::Result<Vec<_>>>())
        .map_err(|e| unreadable(&shown, &e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let linked = entry.file_type().is_ok_and(|t| t.is_symlink());
        if linked && path.is_dir() {
            continue;
        }
        if path.is_dir() {
            if recursive {
                walk(&path, recursive, out)?;
            }
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e))
        {
            out.push(path);
        }
    }
    Ok(())
}

fn read_file(path: &Path) -> Result<Text> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| unreadable(&name, &e))?;
    let body = String::from_utf8(bytes)
        .map_err(|_| Exit::Usage(format!("-f {name}: not text (not UTF-8)")))?;
    Ok(Text { name, body })
}

/// `-k DIR`: what `kubectl kustomize DIR` prints, with the kubectl on PATH
/// (the plugin's host).
fn kustomize(dir: &str) -> Result<Text> {
    let output = std::process::Command::new("kubectl")
        .args(["kustomize", dir])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            Exit::Usage(format!(
                "-k {dir}: cannot run kubectl kustomize ({e}): -k needs kubectl on PATH"
            ))
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let said: Vec<&str> = stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        return Err(Exit::Usage(format!(
            "-k {dir}: kubectl kustomize failed: {}",
            if said.is_empty() {
                format!("exit {}", output.status.code().unwrap_or(-1))
            } else {
                said.join("; ")
            }
        )));
    }
    Ok(Text {
        name: format!("kustomize {dir}"),
        body: String::from_utf8_lossy(&output.stdout).into_owned(),
    })
}

/// One thing a manifest holds, with where it starts.
enum Document {
    Object {
        value: Value,
        at: String,
    },
    /// A `kind.group/name` line.
    Name {
        type_text: String,
        name: String,
        at: String,
    },
}

fn parse(text: &Text) -> Result<Vec<Document>> {
    let body = &text.body;
    if let Some(names) = name_lines(text) {
        return Ok(names);
    }
    let mut out = Vec::new();
    if body.trim_start().starts_with('{') {
        let mut stream = serde_json::Deserializer::from_str(body).into_iter::<Value>();
        loop {
            let start = stream.byte_offset();
            match stream.next() {
                None => break,
                Some(Ok(value)) => {
                    let skipped = body[start..].len() - body[start..].trim_start().len();
                    let line = body[..start + skipped].matches('\n').count() + 1;
                    objects(value, &format!("{}:{line}", text.name), &mut out)?;
                }
                Some(Err(e)) => {
                    return Err(Exit::Usage(format!(
                        "{}:{}:{}: invalid JSON: {}",
                        text.name,
                        e.line(),
                        e.column(),
                        without_position(&e.to_string())
                    )));
                }
            }
        }
        return Ok(out);
    }
    for (first_line, chunk) in yaml_documents(body) {
        let blank = chunk.lines().all(|l| {
            let l = l.trim();
            l.is_empty() || l.starts_with('#')
        });
        if blank {
            continue;
        }
        let value: Value = serde_yaml_ng::from_str(chunk).map_err(|e| {
            let (line, column) = e
                .location()
                .map(|l| (l.line() + first_line - 1, l.column()))
                .unwrap_or((first_line, 0));
            Exit::Usage(format!(
                "{}:{line}:{column}: invalid YAML: {}",
                text.name,
                without_position(&e.to_string())
            ))
        })?;
        if value.is_null() {
            continue;
        }
        let start = chunk
            .lines()
            .position(|l| {
                let l = l.trim();
                !l.is_empty() && !l.starts_with('#')
            })
            .unwrap_or(0);
        objects(
            value,
            &format!("{}:{}", text.name, first_line + start),
            &mut out,
        )?;
    }
    Ok(out)
}

/// A parser's message without the position it ends with (said before it).
fn without_position(message: &str) -> &str {
    message
        .split_once(" at line ")
        .map_or(message, |(head, _)| head)
}

/// The YAML documents of a text, split where kubectl's reader splits them (a
/// line that is `---` and blanks), each with the number of its first line.
fn yaml_documents(body: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let (mut start, mut first_line) = (0, 1);
    let mut offset = 0;
    for (index, line) in body.split_inclusive('\n').enumerate() {
        if let Some(rest) = line.strip_prefix("---")
            && rest.trim().is_empty()
        {
            out.push((first_line, &body[start..offset]));
            start = offset + line.len();
            first_line = index + 2;
        }
        offset += line.len();
    }
    out.push((first_line, &body[start..]));
    out
}

/// The lines `kubectl apply -o name` prints, if every line of the text is
/// one (`deployment.apps/web`).
fn name_lines(text: &Text) -> Option<Vec<Document>> {
    let mut out = Vec::new();
    for (index, line) in text.body.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (type_text, name) = line.split_once('/')?;
        let plain = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        };
        if !plain(type_text) || !plain(name) || name.contains('/') {
            return None;
        }
        out.push(Document::Name {
            type_text: type_text.to_string(),
            name: name.to_string(),
            at: format!("{}:{}", text.name, index + 1),
        });
    }
    (!out.is_empty()).then_some(out)
}

/// A document's objects: itself, or a `List`'s items.
fn objects(value: Value, at: &str, out: &mut Vec<Document>) -> Result<()> {
    let is_list =
        value["kind"].as_str().is_some_and(|k| k.ends_with("List")) && value["items"].is_array();
    if !is_list {
        out.push(Document::Object {
            value,
            at: at.to_string(),
        });
        return Ok(());
    }
    let Value::Array(items) = value["items"].clone() else {
        return Ok(());
    };
    for item in items {
        objects(item, at, out)?;
    }
    Ok(())
}

/// A document as a target: its type from apiVersion and kind, its name and
/// namespace from its metadata.
fn target(document: Document, defined: &[ApiType]) -> Result<TargetSpec> {
    let (value, at) = match document {
        Document::Name {
            type_text,
            name,
            at,
        } => {
            return Ok(TargetSpec {
                type_text,
                selection: Selection::Name(name),
                namespace: None,
                manifest: Some(Manifested {
                    at,
                    gvk: None,
                    defined: None,
                }),
            });
        }
        Document::Object { value, at } => (value, at),
    };
    if !value.is_object() {
        return Err(Exit::Usage(format!(
            "{at}: not a Kubernetes object (a mapping with apiVersion, kind and metadata)"
        )));
    }
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    let Some(api_version) = text(&value["apiVersion"]) else {
        return Err(Exit::Usage(format!("{at}: the object has no apiVersion")));
    };
    let Some(kind) = text(&value["kind"]) else {
        return Err(Exit::Usage(format!("{at}: the object has no kind")));
    };
    let metadata = &value["metadata"];
    let Some(name) = text(&metadata["name"]) else {
        if text(&metadata["generateName"]).is_some() {
            return Err(Exit::Usage(format!(
                "{at}: this {kind} has metadata.generateName, so the server names it \
                 when it is created: it cannot be waited for by name; \
                 give it metadata.name, or wait for it by label (TYPE -l SELECTOR)"
            )));
        }
        return Err(Exit::Usage(format!(
            "{at}: this {kind} has no metadata.name"
        )));
    };
    let (group, version) = match api_version.split_once('/') {
        Some((group, version)) => (group.to_string(), version.to_string()),
        None => (String::new(), api_version.clone()),
    };
    let defined = defined
        .iter()
        .find(|t| t.group == group && t.kind == kind)
        .map(|t| ApiType {
            version: version.clone(),
            ..t.clone()
        });
    Ok(TargetSpec {
        // `Kind.version.group` resolves to exactly this type (`ConfigMap.v1.` for core).
        type_text: format!("{kind}.{version}.{group}"),
        selection: Selection::Name(name),
        namespace: text(&metadata["namespace"]),
        manifest: Some(Manifested {
            at,
            gvk: Some((group, version, kind)),
            defined,
        }),
    })
}

/// The type a CustomResourceDefinition document defines.
fn crd_type(value: &Value) -> Option<ApiType> {
    if value["kind"] != "CustomResourceDefinition"
        || !value["apiVersion"]
            .as_str()?
            .starts_with("apiextensions.k8s.io/")
    {
        return None;
    }
    let spec = &value["spec"];
    let names = &spec["names"];
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    };
    let kind = names["kind"].as_str()?.to_string();
    Some(ApiType {
        group: spec["group"].as_str()?.to_string(),
        version: String::new(),
        singular: names["singular"]
            .as_str()
            .map_or_else(|| kind.to_lowercase(), str::to_string),
        plural: names["plural"].as_str()?.to_string(),
        kind,
        short_names: list(&names["shortNames"]),
        namespaced: spec["scope"] != "Cluster",
        verbs: ["get", "list", "watch"].map(String::from).to_vec(),
        categories: list(&names["categories"]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(body: &str) -> Result<Vec<TargetSpec>> {
        let sources = Sources {
            files: &["-".to_string()],
            recursive: false,
            kustomize: None,
        };
        read(&sources, &mut body.as_bytes())
    }

    fn said(specs: &[TargetSpec]) -> Vec<String> {
        specs
            .iter()
            .map(|s| {
                let Selection::Name(name) = &s.selection else {
                    panic!("a manifest names its objects")
                };
                let at = &s.manifest.as_ref().unwrap().at;
                match &s.namespace {
                    Some(ns) => format!("{} {name} in {ns} at {at}", s.type_text),
                    None => format!("{} {name} at {at}", s.type_text),
                }
            })
            .collect()
    }

    fn error(body: &str) -> String {
        read_text(body).unwrap_err().to_string()
    }

    #[test]
    fn yaml_documents_lists_and_json() {
        let yaml = "# app\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n---\n\n\
                    apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: prod}\n---\n";
        assert_eq!(
            said(&read_text(yaml).unwrap()),
            [
                "ConfigMap.v1. web at stdin:3",
                "Deployment.v1.apps web in prod at stdin:9"
            ]
        );
        let list = r#"{"kind": "List", "apiVersion": "v1", "items": [
            {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"}},
            {"kind": "ServiceList", "apiVersion": "v1", "items": [
                {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}}]}]}
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}"#;
        assert_eq!(
            said(&read_text(list).unwrap()),
            [
                "Job.v1.batch migrate at stdin:1",
                "Service.v1. web at stdin:1",
                "Secret.v1. s at stdin:5"
            ]
        );
    }

    #[test]
    fn the_lines_kubectl_apply_prints() {
        let lines = "configmap/web-config\ndeployment.apps/web\n\nhorizontalpodautoscaler.autoscaling/web\n";
        assert_eq!(
            said(&read_text(lines).unwrap()),
            [
                "configmap web-config at stdin:1",
                "deployment.apps web at stdin:2",
                "horizontalpodautoscaler.autoscaling web at stdin:4"
            ]
        );
    }

    #[test]
    fn a_cr_beside_its_crd_knows_its_type() {
        let yaml = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n\
                    metadata: {name: gadgets.example.com}\nspec:\n  group: example.com\n  scope: Cluster\n  \
                    names: {kind: Gadget, plural: gadgets, singular: gadget, shortNames: [gd]}\n---\n\
                    apiVersion: example.com/v1beta1\nkind: Gadget\nmetadata: {name: g1}\n";
        let specs = read_text(yaml).unwrap();
        let defined = specs[1].manifest.as_ref().unwrap().defined.clone().unwrap();
        assert_eq!(
            (
                defined.plural.as_str(),
                defined.version.as_str(),
                defined.namespaced
            ),
            ("gadgets", "v1beta1", false)
        );
        assert!(specs[0].manifest.as_ref().unwrap().defined.is_none());
    }

    #[test]
    fn bad_documents_say_where_and_what() {
        for (body, says) in [
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  bad: [\n",
                "stdin:6:1: invalid YAML",
            ),
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\nkind: ConfigMap\nmetadata: {name: b}\n",
                "stdin:5: the object has no apiVersion",
            ),
            (
                "apiVersion: v1\nmetadata: {name: b}\n",
                "stdin:1: the object has no kind",
            ),
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n",
                "stdin:1: this ConfigMap has no metadata.name",
            ),
            (
                "apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: run-}\n",
                "cannot be waited for by name",
            ),
            (
                "{\"apiVersion\": \"v1\",\n \"kind\": }",
                "stdin:2:10: invalid JSON",
            ),
            ("just words\n", "stdin:1: not a Kubernetes object"),
            (
                "# nothing\n---\n",
                "no objects in -f -: standard input held none",
            ),
            ("", "no objects in -f -: standard input held none"),
        ] {
            let err = error(body);
            assert!(err.contains(says), "{body:?}: {err}");
        }
    }

    #[test]
    fn an_empty_file_is_not_said_to_be_a_folder() {
        let sources = Sources {
            files: &["/dev/null".to_string()],
            recursive: false,
            kustomize: None,
        };
        let err = read(&sources, &mut "".as_bytes()).unwrap_err().to_string();
        assert!(err.contains("it holds no Kubernetes object"), "{err}");
        assert!(!err.contains("folder"), "{err}");
    }

    #[test]
    fn an_empty_file_value_is_named_as_such() {
        let sources = Sources {
            files: &[String::new()],
            recursive: false,
            kustomize: None,
        };
        let err = read(&sources, &mut "".as_bytes()).unwrap_err().to_string();
        assert!(err.contains("-f needs a file, a folder or -"), "{err}");
    }

    #[test]
    fn folders_as_kubectl_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let cm =
            |name: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        for (file, name) in [
            ("b.yaml", "b"),
            ("a.json", "a"),
            (".hidden.yml", "hidden"),
            ("notes.txt", "txt"),
            ("sub/c.yaml", "c"),
        ] {
            let body = if file.ends_with(".json") {
                format!(
                    r#"{{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {{"name": "{name}"}}}}"#
                )
            } else {
                cm(name)
            };
            std::fs::write(dir.path().join(file), body).unwrap();
        }
        let names = |recursive| {
            let files = [dir.path().display().to_string()];
            let sources = Sources {
                files: &files,
                recursive,
                kustomize: None,
            };
            read(&sources, &mut std::io::empty())
                .unwrap()
                .into_iter()
                .map(|s| match s.selection {
                    Selection::Name(name) => name,
                    _ => unreachable!(),
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(names(false), ["hidden", "a", "b"]);
        assert_eq!(names(true), ["hidden", "a", "b", "c"]);
    }
}
