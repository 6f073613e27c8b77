//! Bearer credentials as client-go's transport supplies them: a token file
//! re-read every 50 s (trimmed), an exec plugin run once and its answer
//! kept until its `expirationTimestamp` or a 401, never its `env` in a message.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use futures::future::BoxFuture;
use http::HeaderValue;
use kube::config::{ExecConfig, ExecInteractiveMode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::exit::{Exit, Result};

/// Where the bearer token comes from; kube's own layer handles the rest
/// (basic auth, auth providers).
pub enum Source {
    File(PathBuf),
    Exec(Box<Plugin>),
}

/// An exec credential plugin, checked as clientcmd checks it.
#[derive(Clone)]
pub struct Plugin {
    command: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    api_version: String,
    interactive: bool,
    cluster: Option<Value>,
}

/// What a plugin answered: a token, or a client certificate and key (PEM).
pub struct Answer {
    pub token: Option<SecretString>,
    pub certificate: Option<(String, String)>,
    expires: Option<SystemTime>,
}

impl Plugin {
    /// `user` names the kubeconfig user in messages.
    pub fn new(exec: &ExecConfig, user: &str) -> Result<Plugin> {
        let Some(command) = exec.command.clone().filter(|c| !c.is_empty()) else {
            return Err(Exit::Usage(format!(
                "user \"{user}\": exec needs a command (kubectl refuses it too)"
            )));
        };
        let api_version = exec.api_version.clone().unwrap_or_default();
        let mode = match (&exec.interactive_mode, api_version.as_str()) {
            (Some(mode), _) => mode.clone(),
            // Only the v1 API requires the field; older ones default it.
            (None, "client.authentication.k8s.io/v1") => {
                return Err(Exit::Usage(format!(
                    "user \"{user}\": exec with apiVersion client.authentication.k8s.io/v1 \
                     needs interactiveMode (Never, IfAvailable or Always), as kubectl requires"
                )));
            }
            (None, _) => ExecInteractiveMode::IfAvailable,
        };
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stdin());
        let interactive = match mode {
            ExecInteractiveMode::Never => false,
            ExecInteractiveMode::IfAvailable => terminal,
            ExecInteractiveMode::Always if terminal => true,
            ExecInteractiveMode::Always => {
                return Err(Exit::Usage(format!(
                    "user \"{user}\": the exec plugin {command} wants a terminal \
                     (interactiveMode: Always) and standard input is not one"
                )));
            }
        };
        let env = exec
            .env
            .iter()
            .flatten()
            .filter_map(|pair| Some((pair.get("name")?.clone(), pair.get("value")?.clone())))
            .collect();
        let cluster = exec
            .cluster
            .as_ref()
            .filter(|_| exec.provide_cluster_info)
            .and_then(|c| serde_json::to_value(c).ok());
        Ok(Plugin {
            command,
            args: exec.args.clone().unwrap_or_default(),
            env,
            api_version,
            interactive,
            cluster,
        })
    }

    /// Runs the plugin: its stderr is ours, its stdin only when interactive.
    /// A failure names the executable and its exit code, nothing of its
    /// environment (kube's message printed `env`'s secrets).
    pub fn run(&self) -> Result<Answer> {
        let mut spec = json!({"interactive": self.interactive});
        if let Some(cluster) = &self.cluster {
            spec["cluster"] = cluster.clone();
        }
        let info = json!({"apiVersion": self.api_version, "kind": "ExecCredential", "spec": spec});
        let mut cmd = std::process::Command::new(&self.command);
        cmd.args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("KUBERNETES_EXEC_INFO", info.to_string())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit());
        if !self.interactive {
            cmd.stdin(std::process::Stdio::null());
        }
        let out = cmd.output().map_err(|e| {
            let why = if e.kind() == std::io::ErrorKind::NotFound {
                "not found: install it or fix the user's exec command in the kubeconfig".into()
            } else {
                format!("could not start: {e}")
            };
            Exit::Refused(format!("exec: executable {} {why}", self.command))
        })?;
        if !out.status.success() {
            let how = match out.status.code() {
                Some(code) => format!("exit code {code}"),
                None => "a signal".into(),
            };
            return Err(Exit::Refused(format!(
                "exec: executable {} failed with {how} (its own message, if any, is above)",
                self.command
            )));
        }
        self.parse(&out.stdout)
    }

    fn parse(&self, stdout: &[u8]) -> Result<Answer> {
        let bad = |why: &str| Exit::Refused(format!("exec: executable {} {why}", self.command));
        let credential: Value = serde_json::from_slice(stdout)
            .map_err(|_| bad("did not print an ExecCredential as JSON"))?;
        if credential["apiVersion"] != self.api_version.as_str() {
            return Err(bad(&format!(
                "answered apiVersion {}, not {} as configured",
                credential["apiVersion"], self.api_version
            )));
        }
        let status = &credential["status"];
        let text = |field: &str| {
            status[field]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let token = text("token").map(SecretString::from);
        let certificate = match (text("clientCertificateData"), text("clientKeyData")) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => return Err(bad("returned only a certificate or a key, not both")),
        };
        if token.is_none() && certificate.is_none() {
            return Err(bad("returned neither a token nor a certificate and key"));
        }
        let expires = match text("expirationTimestamp") {
            Some(stamp) => Some(
                humantime::parse_rfc3339_weak(&stamp)
                    .map_err(|_| bad(&format!("returned a bad expirationTimestamp {stamp:?}")))?,
            ),
            None => None,
        };
        Ok(Answer {
            token,
            certificate,
            expires,
        })
    }
}

/// The token of every request, shared by the clones of the layer.
#[derive(Clone)]
pub struct Bearer {
    state: Arc<Mutex<State>>,
    /// A plugin's token was refused (401): run it again before the next
    /// request, as client-go does, whatever its expiry said.
    refused: Arc<AtomicBool>,
    exec: bool,
}

struct State {
    source: Source,
    token: Option<SecretString>,
    /// When to fetch again: a file's minute, a plugin's expiry (None: never).
    until: Option<Instant>,
}

/// As client-go's cached file token source: valid a minute, fetched again
/// 10 s (its leeway) before that.
const FILE_PERIOD: Duration = Duration::from_secs(50);

impl Bearer {
    /// `first` is the answer already fetched at start (a plugin's, so it
    /// runs once per start, not once per part of the client; a file's).
    pub fn new(source: Source, first: &Answer) -> Bearer {
        Bearer {
            exec: matches!(source, Source::Exec(_)),
            refused: Arc::new(AtomicBool::new(false)),
            state: Arc::new(Mutex::new(State {
                source,
                token: first.token.clone(),
                until: first.expires.map(instant_of),
            })),
        }
    }

    /// A token file, read now as client-go reads it at start: a file that
    /// cannot be read is a bad kubeconfig, not a failed request later.
    pub fn from_file(path: PathBuf) -> Result<Bearer> {
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Exit::Usage(format!("cannot read the tokenFile {}: {e}", path.display()))
        })?;
        let first = Answer {
            token: Some(SecretString::from(text.trim().to_string())),
            certificate: None,
            expires: Some(SystemTime::now() + FILE_PERIOD),
        };
        Ok(Bearer::new(Source::File(path), &first))
    }

    /// Called with each response's status.
    pub fn saw(&self, status: http::StatusCode) {
        if self.exec && status == http::StatusCode::UNAUTHORIZED {
            self.refused.store(true, Ordering::SeqCst);
        }
    }

    async fn header(&self) -> std::result::Result<Option<HeaderValue>, String> {
        let mut state = self.state.lock().await;
        let refused = self.refused.swap(false, Ordering::SeqCst);
        if refused || state.until.is_some_and(|at| Instant::now() >= at) {
            state.refresh().await?;
        }
        let Some(token) = &state.token else {
            return Ok(None);
        };
        let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
            .map_err(|_| "the bearer token is not a valid header value".to_string())?;
        value.set_sensitive(true);
        Ok(Some(value))
    }
}

impl State {
    async fn refresh(&mut self) -> std::result::Result<(), String> {
        match &self.source {
            Source::File(path) => {
                let text = tokio::fs::read_to_string(path)
                    .await
                    .map_err(|e| format!("cannot read the token file {}: {e}", path.display()))?;
                self.token = Some(SecretString::from(text.trim().to_string()));
                self.until = Some(Instant::now() + FILE_PERIOD);
            }
            Source::Exec(plugin) => {
                let plugin = plugin.as_ref().clone();
                let answer = tokio::task::spawn_blocking(move || plugin.run())
                    .await
                    .map_err(|e| format!("exec: {e}"))?
                    .map_err(|e| e.to_string())?;
                self.token = answer.token;
                self.until = answer.expires.map(instant_of);
            }
        }
        Ok(())
    }
}

fn instant_of(at: SystemTime) -> Instant {
    let left = at.duration_since(SystemTime::now()).unwrap_or_default();
    Instant::now() + left
}

type Request = http::Request<kube::client::Body>;

impl tower::filter::AsyncPredicate<Request> for Bearer {
    type Future = BoxFuture<'static, std::result::Result<Request, tower::BoxError>>;
    type Request = Request;

    fn check(&mut self, mut request: Request) -> Self::Future {
        let bearer = self.clone();
        Box::pin(async move {
            if let Some(value) = bearer.header().await? {
                request
                    .headers_mut()
                    .insert(http::header::AUTHORIZATION, value);
            }
            Ok(request)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A v1 plugin that counts its runs in `runs` and answers a token that
    /// expires `expiry` from now (none: never).
    fn counting(dir: &std::path::Path, expiry: Option<&str>) -> Plugin {
        use std::os::unix::fs::PermissionsExt;
        let script = dir.join("plugin");
        let stamp = expiry.map_or(String::new(), |e| {
            format!(",\"expirationTimestamp\":\"{e}\"")
        });
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho run >> {}\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"t\"{stamp}}}}}'\n",
                dir.join("runs").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let exec: ExecConfig = serde_json::from_value(json!({
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": script.display().to_string(),
            "interactiveMode": "Never",
        }))
        .unwrap();
        Plugin::new(&exec, "u").unwrap()
    }

    fn runs(dir: &std::path::Path) -> usize {
        std::fs::read_to_string(dir.join("runs"))
            .unwrap_or_default()
            .lines()
            .count()
    }

    #[tokio::test]
    async fn a_plugins_token_is_kept_until_it_expires_or_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let plugin = counting(dir.path(), None);
        let first = plugin.run().unwrap();
        let bearer = Bearer::new(Source::Exec(Box::new(plugin)), &first);
        for _ in 0..5 {
            assert!(bearer.header().await.unwrap().is_some());
        }
        assert_eq!(runs(dir.path()), 1, "a lasting token is fetched once");
        bearer.saw(http::StatusCode::FORBIDDEN);
        bearer.header().await.unwrap();
        assert_eq!(runs(dir.path()), 1, "a 403 is not about the token");
        bearer.saw(http::StatusCode::UNAUTHORIZED);
        bearer.header().await.unwrap();
        bearer.header().await.unwrap();
        assert_eq!(runs(dir.path()), 2, "a 401 fetches a new token, once");

        let dir = tempfile::tempdir().unwrap();
        let plugin = counting(dir.path(), Some("2000-01-01T00:00:00Z"));
        let first = plugin.run().unwrap();
        let bearer = Bearer::new(Source::Exec(Box::new(plugin)), &first);
        bearer.header().await.unwrap();
        assert_eq!(runs(dir.path()), 2, "an expired token is fetched again");
    }
}
