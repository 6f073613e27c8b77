//! Sinks in a manifest: a sink's URL must reach the pod from a Secret, never
//! from the manifest, so only `--sink TYPE:env:NAME` can be carried there.

/// A sink whose URL the pod reads from the environment variable `env`,
/// filled from key `env` of the notifier's Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkSecret {
    /// The sink's type as given: `slack`, `webhook`, `cloudevents`, `nats`.
    pub sink: String,
    pub env: String,
}

/// The Secret references for the raw `--sink TYPE:TARGET` values; a literal
/// URL (or a `file:PATH` of this machine) is refused with a hint.
pub fn secret_refs(sinks: &[String]) -> Result<Vec<SinkSecret>, String> {
    let mut refs: Vec<SinkSecret> = Vec::new();
    for text in sinks {
        let Some((sink, target)) = text.split_once(':') else {
            return Err(format!("--sink {text:?}: expected TYPE:TARGET"));
        };
        let env = match target.split_once(':') {
            Some(("env", name)) => name,
            Some(("file", _)) => {
                return Err(format!(
                    "--sink {sink}:{target}: a file of this machine is not in the pod; \
                     with --print-manifests give the URL as {sink}:env:NAME, from a Secret"
                ));
            }
            _ => {
                return Err(format!(
                    "--sink {sink}:...: a URL given literally would be written into the manifests; \
                     put it in an environment variable and give {sink}:env:NAME (the manifests \
                     read NAME from a Secret)"
                ));
            }
        };
        if !is_env_name(env) {
            return Err(format!(
                "--sink {sink}:env:{env}: not an environment variable name \
                 (letters, digits and '_', not starting with a digit)"
            ));
        }
        if reserved(env) {
            return Err(format!(
                "--sink {sink}:env:{env}: {env} already has a meaning in the pod (the manifests \
                 set POD_NAME to the replica's name; the others are read by the kubelet or \
                 kubectl-notify), and a secret there would override it or be read as it; \
                 give the URL another variable name"
            ));
        }
        if !refs.iter().any(|r| r.env == env) {
            refs.push(SinkSecret {
                sink: sink.to_string(),
                env: env.to_string(),
            });
        }
    }
    Ok(refs)
}

/// Variables the pod's environment already gives a meaning: the manifests
/// set `POD_NAME`, the kubelet and the runtime `KUBERNETES_*` and
/// `HOSTNAME`, kubectl-notify (and TLS) read the rest (`POD_NAMESPACE` is
/// the namespace in a pod: a secret there would end in its messages).
const RESERVED: &[&str] = &[
    "POD_NAME",
    "POD_NAMESPACE",
    "HOSTNAME",
    "KUBECONFIG",
    "KUBECACHEDIR",
    "TERM",
    "CLICOLOR_FORCE",
    "HOME",
    "PATH",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NO_COLOR",
    "TZ",
];

fn reserved(name: &str) -> bool {
    RESERVED.contains(&name)
        || name.starts_with("KUBECTL_NOTIFY_")
        || name.starts_with("KUBERNETES_")
}

/// A name that is both an environment variable and a Secret key.
fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(args: &[&str]) -> Result<Vec<SinkSecret>, String> {
        secret_refs(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn env_targets_become_secret_keys_once_each() {
        let got = refs(&[
            "slack:env:SLACK_WEBHOOK_URL",
            "webhook:env:HOOK",
            "cloudevents:env:HOOK",
        ])
        .unwrap();
        assert_eq!(
            got,
            vec![
                SinkSecret {
                    sink: "slack".into(),
                    env: "SLACK_WEBHOOK_URL".into()
                },
                SinkSecret {
                    sink: "webhook".into(),
                    env: "HOOK".into()
                },
            ]
        );
    }

    #[test]
    fn literal_urls_and_local_files_are_refused_without_echoing_the_url() {
        let secret = "https://hooks.slack.example/services/T000/B000/XXXX";
        let err = refs(&[&format!("slack:{secret}")]).unwrap_err();
        assert!(err.contains("slack:env:NAME"), "{err}");
        assert!(!err.contains("T000"), "the URL must not be printed: {err}");
        let err = refs(&["nats:nats://127.0.0.1:4222/alerts"]).unwrap_err();
        assert!(err.contains("nats:env:NAME"), "{err}");
        let err = refs(&["webhook:file:/etc/hook-url"]).unwrap_err();
        assert!(err.contains("not in the pod"), "{err}");
        assert!(refs(&["webhook:env:1BAD"]).is_err());
        assert!(refs(&["webhook"]).is_err());
    }
}
