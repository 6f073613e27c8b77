//! Builds a kube client from kubeconfig and kubectl's connection flags
//! (SPEC §2): file merging, context/cluster/user selection, flag overrides.

mod credentials;
mod proxy;

use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_timeout::TimeoutConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use kube::client::ConfigExt;
use kube::client::retry::RetryPolicy;
use kube::config::{
    AuthInfo, Cluster, Context, KubeConfigOptions, Kubeconfig, NamedAuthInfo, NamedCluster,
    NamedContext,
};
use kube::{Client, Config};
use tower::filter::AsyncFilterLayer;
use tower::retry::RetryLayer;
use tower::util::{Either, MapRequestLayer, MapResponseLayer};
use tower::{BoxError, ServiceBuilder};

use crate::cli::ConnectionArgs;
use crate::exit::{Exit, Result};
use crate::managed_fields::Cut;
use credentials::{Bearer, Plugin, Source};

/// A ready client and the namespace targets default to.
#[derive(Clone)]
pub struct Connection {
    pub client: Client,
    pub namespace: String,
    pub server: String,
}

/// `log_requests` (-vv) prints each request's method and URL on stderr.
pub async fn connect(
    args: &ConnectionArgs,
    request_timeout: Option<Duration>,
    log_requests: bool,
) -> Result<Connection> {
    let args = &given(args);
    let (kubeconfig, missing) = load_kubeconfig(args)?;
    // clientcmd: flags or a current context that name a cluster use the
    // kubeconfig; otherwise, in a pod, the service account.
    let named = args.server.is_some()
        || args.context.is_some()
        || args.cluster.is_some()
        || kubeconfig.current_context.is_some();
    let (mut config, bearer) = if !named && in_cluster_possible() {
        let pod = in_cluster_kubeconfig(args, Path::new(SERVICE_ACCOUNT), &|name| {
            std::env::var(name).ok().filter(|v| !v.is_empty())
        })?;
        config_from_kubeconfig(pod, args).await?
    } else if !named && !missing.is_empty() && kubeconfig.contexts.is_empty() {
        // kubectl would go on to http://localhost:8080, never the intent.
        let names: Vec<String> = missing.iter().map(|p| p.display().to_string()).collect();
        return Err(Exit::Usage(format!(
            "kubeconfig {} does not exist: check KUBECONFIG (or pass --kubeconfig PATH)",
            names.join(", ")
        )));
    } else if !named && std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
        return Err(Exit::Usage(format!(
            "no kubeconfig found and the in-cluster configuration is incomplete: \
             it needs KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT and \
             {SERVICE_ACCOUNT}/token (pass --kubeconfig PATH outside a pod)"
        )));
    } else if !named && kubeconfig.contexts.is_empty() && kubeconfig.clusters.is_empty() {
        return Err(Exit::Usage(
            "no kubeconfig found: set KUBECONFIG or pass --kubeconfig PATH \
             (kubectl's default is ~/.kube/config)"
                .into(),
        ));
    } else {
        config_from_kubeconfig(kubeconfig, args).await?
    };
    if let Some(timeout) = request_timeout {
        config.connect_timeout = Some(timeout);
    }
    if let Some(namespace) = &args.namespace {
        config.default_namespace = namespace.clone();
    }
    if config.accept_invalid_certs {
        let from = if args.insecure_skip_tls_verify {
            "--insecure-skip-tls-verify"
        } else {
            "insecure-skip-tls-verify: true in the kubeconfig's cluster"
        };
        crate::log::warning(
            "connect",
            format!("TLS verification is off: the server's certificate is not checked ({from})"),
        );
    }
    // A plain-HTTP server (`kubectl proxy`, a local test server) needs no
    // trust roots; with no CA configured kube would still read every root
    // certificate of the system, about 5 ms of each start.
    if config.cluster_url.scheme_str() == Some("http")
        && config.root_cert.is_none()
        && config.proxy_url.is_none()
    {
        config.root_cert = Some(Vec::new());
    }
    let namespace = config.default_namespace.clone();
    let server = config
        .cluster_url
        .to_string()
        .trim_end_matches('/')
        .to_string();
    let failed =
        |e: kube::Error| Exit::Usage(format!("cannot set up the connection to {server}: {e}"));
    let client = client(config, bearer, log_requests).map_err(failed)?;
    Ok(Connection {
        client,
        namespace,
        server,
    })
}

/// kubectl treats a flag given as an empty string as not given (`-n ""`,
/// `--token "$UNSET"`): clientcmd merges only non-empty overrides.
fn given(args: &ConnectionArgs) -> ConnectionArgs {
    fn text(value: &Option<String>) -> Option<String> {
        value.clone().filter(|v| !v.is_empty())
    }
    fn path(value: &Option<PathBuf>) -> Option<PathBuf> {
        value.clone().filter(|v| !v.as_os_str().is_empty())
    }
    ConnectionArgs {
        kubeconfig: path(&args.kubeconfig),
        context: text(&args.context),
        cluster: text(&args.cluster),
        user: text(&args.user),
        namespace: text(&args.namespace),
        server: text(&args.server),
        token: text(&args.token),
        as_user: text(&args.as_user),
        as_group: args.as_group.clone(),
        as_uid: text(&args.as_uid),
        certificate_authority: path(&args.certificate_authority),
        client_certificate: path(&args.client_certificate),
        client_key: path(&args.client_key),
        insecure_skip_tls_verify: args.insecure_skip_tls_verify,
        tls_server_name: text(&args.tls_server_name),
        request_timeout: text(&args.request_timeout),
        cache_dir: args.cache_dir.clone(),
    }
}

/// kube's default client stack (TLS from the config, connect and read timeouts,
/// base URI, retries of 429/503/504, credentials, impersonation headers) on
/// a TCP connector with Nagle's algorithm off. kube's own builder leaves it
/// on: after the TLS handshake the first request then waits in the kernel
/// for the server's delayed ACK, ~40 ms against a Go server. Lists and watch
/// events come without managedFields when nothing reads them
/// (`managed_fields`). Left out of kube's stack: tracing spans (nothing here
/// subscribes) and the expiry of an exec plugin's client certificate
/// (`Client::valid_until`, never read). A proxy (HTTP CONNECT, HTTPS or
/// SOCKS5, hyper-util's) sits between that TCP connector and TLS.
fn client(config: Config, bearer: Option<Bearer>, log_requests: bool) -> kube::Result<Client> {
    use hyper_util::client::legacy::connect::proxy::{SocksV5, Tunnel};
    let Some(proxy) = config.proxy_url.clone() else {
        return stack(config, tcp_connector(), bearer, log_requests);
    };
    match proxy.scheme_str() {
        Some("socks5" | "socks5h") => {
            let socks = SocksV5::new(proxy.clone(), tcp_connector());
            stack(config, socks, bearer, log_requests)
        }
        Some("https") => {
            let to_proxy = config.rustls_https_connector_with_connector(tcp_connector())?;
            let through = with_proxy_auth(Tunnel::new(proxy.clone(), to_proxy), &proxy);
            stack(config, through, bearer, log_requests)
        }
        _ => {
            let through = with_proxy_auth(Tunnel::new(proxy.clone(), tcp_connector()), &proxy);
            stack(config, through, bearer, log_requests)
        }
    }
}

fn with_proxy_auth<C>(
    tunnel: hyper_util::client::legacy::connect::proxy::Tunnel<C>,
    proxy: &http::Uri,
) -> hyper_util::client::legacy::connect::proxy::Tunnel<C> {
    match proxy::basic_auth(proxy) {
        Some(auth) => tunnel.with_auth(auth),
        None => tunnel,
    }
}

fn stack<C>(
    config: Config,
    connector: C,
    bearer: Option<Bearer>,
    log_requests: bool,
) -> kube::Result<Client>
where
    C: tower::Service<http::Uri> + Clone + Send + Sync + 'static,
    C::Response: hyper_util::client::legacy::connect::Connection
        + hyper::rt::Read
        + hyper::rt::Write
        + Send
        + Unpin
        + 'static,
    C::Future: Send + 'static,
    C::Error: Into<BoxError>,
{
    let connector = config.rustls_https_connector_with_connector(connector)?;
    let mut connector = TimeoutConnector::new(connector);
    connector.set_connect_timeout(config.connect_timeout);
    connector.set_read_timeout(config.read_timeout);
    connector.set_write_timeout(config.write_timeout);
    connector.set_reset_reader_on_write(config.reset_reader_on_write);
    let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(connector);
    let service = ServiceBuilder::new()
        .layer(log_layer(log_requests))
        .layer(config.base_uri_layer())
        .option_layer(
            config
                .default_retry
                .then(|| RetryLayer::new(RetryPolicy::server_retry())),
        )
        .option_layer(config.auth_layer()?)
        .option_layer(bearer.clone().map(AsyncFilterLayer::new))
        .option_layer(bearer.map(|bearer| {
            MapResponseLayer::new(move |response: http::Response<_>| {
                bearer.saw(response.status());
                response
            })
        }))
        .layer(config.extra_headers_layer()?)
        .map_err(BoxError::from)
        .layer_fn(Cut)
        .service(http);
    Ok(Client::new(service, config.default_namespace))
}

/// Every connection, to the API server or anywhere else, sends each write at
/// once (TCP_NODELAY), as curl and Go do.
fn tcp_connector() -> HttpConnector {
    let mut connector = HttpConnector::new();
    connector.enforce_http(false);
    connector.set_nodelay(true);
    connector
}

/// -vv: method and URL only; headers (credentials) are never printed.
fn log_layer(log_requests: bool) -> Either<LogLayer, tower::layer::util::Identity> {
    fn log(request: Request) -> Request {
        crate::term::stderr_line!("request: {} {}", request.method(), request.uri());
        request
    }
    tower::util::option_layer(log_requests.then_some(MapRequestLayer::new(log as fn(_) -> _)))
}

type Request = http::Request<kube::client::Body>;
type LogLayer = MapRequestLayer<fn(Request) -> Request>;

/// `--kubeconfig`, else every existing file in `KUBECONFIG` merged (missing
/// ones skipped, as kubectl does), else `~/.kube/config` if it exists; an
/// empty `KUBECONFIG` counts as unset. Also the files named but missing.
fn load_kubeconfig(args: &ConnectionArgs) -> Result<(Kubeconfig, Vec<PathBuf>)> {
    if let Some(path) = &args.kubeconfig {
        return Ok((read_kubeconfig(path)?, Vec::new()));
    }
    if let Some(list) = std::env::var_os("KUBECONFIG").filter(|l| !l.is_empty()) {
        let (paths, missing): (Vec<PathBuf>, Vec<PathBuf>) = std::env::split_paths(&list)
            .filter(|p| !p.as_os_str().is_empty())
            .partition(|p| p.exists());
        let mut merged = Kubeconfig::default();
        for path in &paths {
            // The first file to set a value wins (an empty one sets none).
            merged = merged.merge(read_kubeconfig(path)?).map_err(|e| {
                Exit::Usage(format!("cannot merge kubeconfig {}: {e}", path.display()))
            })?;
        }
        return Ok((merged, missing));
    }
    let default = std::env::var_os("HOME").map(|home| Path::new(&home).join(".kube/config"));
    match default {
        Some(path) if path.exists() => Ok((read_kubeconfig(&path)?, Vec::new())),
        _ => Ok((Kubeconfig::default(), Vec::new())),
    }
}

fn read_kubeconfig(path: &Path) -> Result<Kubeconfig> {
    if !path.exists() {
        return Err(Exit::Usage(format!(
            "kubeconfig {} does not exist: check --kubeconfig or KUBECONFIG",
            path.display()
        )));
    }
    let mut kubeconfig = Kubeconfig::read_from(path).map_err(|e| {
        Exit::Usage(format!(
            "cannot read kubeconfig {}: {}",
            path.display(),
            one_line(&e.to_string())
        ))
    })?;
    kubeconfig.current_context = kubeconfig.current_context.filter(|c| !c.is_empty());
    Ok(kubeconfig)
}

/// Select context, cluster and user as kubectl does, failing on names the
/// kubeconfig does not have (kube alone would fall back to anonymous on an
/// unknown user), then apply the flag overrides to the selected entries.
async fn config_from_kubeconfig(
    mut kc: Kubeconfig,
    args: &ConnectionArgs,
) -> Result<(Config, Option<Bearer>)> {
    let context_name = match args.context.clone().or_else(|| kc.current_context.clone()) {
        Some(name) if !name.is_empty() => name,
        _ if args.server.is_some() || args.cluster.is_some() => {
            // Flags alone describe the cluster, as `kubectl -s URL` allows.
            synthesize_context(&mut kc, args)
        }
        _ => {
            return Err(Exit::Usage(
                "the kubeconfig has no current context: pass --context NAME \
                 or run `kubectl config use-context NAME`"
                    .into(),
            ));
        }
    };
    let Some(context) = kc
        .contexts
        .iter()
        .find(|c| c.name == context_name)
        .and_then(|c| c.context.clone())
    else {
        return Err(Exit::Usage(format!(
            "context \"{context_name}\" not found in kubeconfig{}",
            known("contexts", kc.contexts.iter().map(|c| &c.name))
        )));
    };
    let cluster_name = args.cluster.clone().unwrap_or(context.cluster.clone());
    if !kc.clusters.iter().any(|c| c.name == cluster_name) {
        if args.server.is_some() {
            kc.clusters.push(NamedCluster {
                name: cluster_name.clone(),
                cluster: Some(Cluster::default()),
                ..Default::default()
            });
        } else {
            return Err(Exit::Usage(format!(
                "cluster \"{cluster_name}\" not found in kubeconfig{}",
                known("clusters", kc.clusters.iter().map(|c| &c.name))
            )));
        }
    }
    // A context naming a missing user connects anonymously in kubectl, but a
    // `--user` the kubeconfig lacks is an error there, and so here.
    let user_name = args
        .user
        .clone()
        .or(context.user.clone())
        .filter(|u| !u.is_empty());
    let known_user = user_name.filter(|u| kc.auth_infos.iter().any(|x| &x.name == u));
    if let (Some(user), None) = (&args.user, &known_user) {
        return Err(Exit::Usage(format!(
            "user \"{user}\" not found in kubeconfig{}",
            known("users", kc.auth_infos.iter().map(|u| &u.name))
        )));
    }
    let user_name = match known_user {
        Some(name) => name,
        None => {
            let name = "kubectl-notify-flags".to_string();
            kc.auth_infos.push(NamedAuthInfo {
                name: name.clone(),
                auth_info: Some(AuthInfo::default()),
                ..Default::default()
            });
            name
        }
    };

    let mut proxy_url = None;
    for named in kc.clusters.iter_mut().filter(|c| c.name == cluster_name) {
        let cluster = named.cluster.get_or_insert_with(Cluster::default);
        apply_to_cluster(cluster, args);
        check_trust(cluster, &cluster_name)?;
        // Chosen below by Go's rules; kube would use HTTPS_PROXY for any
        // server and match NO_PROXY against the proxy's own address.
        proxy_url = cluster.proxy_url.take();
    }
    for named in kc.auth_infos.iter_mut().filter(|u| u.name == user_name) {
        apply_to_user(named.auth_info.get_or_insert_with(AuthInfo::default), args)?;
    }
    let options = KubeConfigOptions {
        context: Some(context_name),
        cluster: Some(cluster_name),
        user: Some(user_name.clone()),
    };
    let mut config = Config::from_custom_kubeconfig(kc, &options)
        .await
        .map_err(|e| Exit::Usage(format!("invalid kubeconfig: {}", one_line(&e.to_string()))))?;
    if config.cluster_url.scheme_str() == Some("http") {
        // clientcmd reads a user's credentials only for a TLS server: over
        // plain HTTP nothing but the impersonation headers is sent.
        let user = std::mem::take(&mut config.auth_info);
        config.auth_info = AuthInfo {
            impersonate: user.impersonate,
            impersonate_groups: user.impersonate_groups,
            impersonate_uid: user.impersonate_uid,
            ..AuthInfo::default()
        };
    }
    config.proxy_url = proxy::choose(
        &config.cluster_url,
        proxy_url.as_deref(),
        &proxy::Env::from_process(),
    )
    .map_err(Exit::Usage)?;
    let bearer = bearer(&mut config.auth_info, &user_name)?;
    Ok((config, bearer))
}

/// Takes the token file and the exec plugin out of the user for our own
/// layer (kube's re-runs a plugin for each part of the client and keeps no
/// answer; it reads a token file untrimmed). The plugin runs here, once: a
/// certificate it returns goes to the TLS setup, a token to the layer.
fn bearer(user: &mut AuthInfo, name: &str) -> Result<Option<Bearer>> {
    if let Some(exec) = user.exec.take() {
        let plugin = Plugin::new(&exec, name)?;
        let answer = plugin.run()?;
        if let Some((cert, key)) = &answer.certificate {
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::STANDARD;
            user.client_certificate_data = Some(b64.encode(cert));
            user.client_key_data = Some(b64.encode(key).into());
        }
        return Ok(Some(Bearer::new(Source::Exec(Box::new(plugin)), &answer)));
    }
    if user.token.is_some() {
        return Ok(None);
    }
    user.token_file
        .take()
        .map(|file| Bearer::from_file(file.into()))
        .transpose()
}

fn synthesize_context(kc: &mut Kubeconfig, args: &ConnectionArgs) -> String {
    let name = "kubectl-notify-flags".to_string();
    kc.contexts.push(NamedContext {
        name: name.clone(),
        context: Some(Context {
            cluster: args.cluster.clone().unwrap_or(name.clone()),
            user: args.user.clone(),
            namespace: args.namespace.clone(),
            ..Default::default()
        }),
        ..Default::default()
    });
    name
}

/// clientcmd's overrides: `--server` also clears the kubeconfig's
/// `tls-server-name` (it named the old address); `--certificate-authority`
/// or `--insecure-skip-tls-verify` replaces the whole trust setting.
fn apply_to_cluster(cluster: &mut Cluster, args: &ConnectionArgs) {
    if let Some(server) = &args.server {
        cluster.server = Some(server.clone());
    }
    cluster.server = cluster.server.as_deref().map(normalize_server);
    if args.insecure_skip_tls_verify || args.certificate_authority.is_some() {
        cluster.insecure_skip_tls_verify = Some(args.insecure_skip_tls_verify);
        cluster.certificate_authority = args
            .certificate_authority
            .as_ref()
            .map(|ca| ca.display().to_string());
        cluster.certificate_authority_data = None;
    }
    if args.tls_server_name.is_some() || args.server.is_some() {
        cluster.tls_server_name = args.tls_server_name.clone();
    }
}

/// client-go refuses a CA together with skipping verification; kube
/// would silently skip it.
fn check_trust(cluster: &Cluster, name: &str) -> Result<()> {
    let tls = cluster
        .server
        .as_deref()
        .is_some_and(|s| s.starts_with("https://"));
    let ca =
        cluster.certificate_authority.is_some() || cluster.certificate_authority_data.is_some();
    if tls && ca && cluster.insecure_skip_tls_verify == Some(true) {
        return Err(Exit::Usage(format!(
            "cluster \"{name}\" has both a certificate authority and insecure-skip-tls-verify: \
             kubectl refuses this too (\"specifying a root certificates file with the insecure \
             flag is not allowed\"); keep one"
        )));
    }
    Ok(())
}

fn apply_to_user(user: &mut AuthInfo, args: &ConnectionArgs) -> Result<()> {
    if let Some(token) = &args.token {
        user.token = Some(token.clone().into());
        user.exec = None;
        user.auth_provider = None;
        user.username = None;
        user.password = None;
    }
    // client-go reads a readable tokenFile rather than the token beside it.
    if let (Some(file), Some(_)) = (&user.token_file, &user.token) {
        if std::fs::File::open(file).is_ok() {
            user.token = None;
        } else {
            user.token_file = None;
        }
    }
    if let Some(cert) = &args.client_certificate {
        user.client_certificate = Some(cert.display().to_string());
        user.client_certificate_data = None;
    }
    if let Some(key) = &args.client_key {
        user.client_key = Some(key.display().to_string());
        user.client_key_data = None;
    }
    apply_impersonation(user, args)
}

fn apply_impersonation(user: &mut AuthInfo, args: &ConnectionArgs) -> Result<()> {
    if let Some(name) = &args.as_user {
        user.impersonate = Some(name.clone());
    }
    if !args.as_group.is_empty() {
        user.impersonate_groups = Some(args.as_group.clone());
    }
    if let Some(uid) = &args.as_uid {
        user.impersonate_uid = Some(uid.clone());
    }
    user.impersonate = user.impersonate.take().filter(|u| !u.is_empty());
    // As kubectl: groups or a UID alone would be refused by the server,
    // and its answer (a 500) is no help.
    let groups = user
        .impersonate_groups
        .as_ref()
        .is_some_and(|g| !g.is_empty());
    if user.impersonate.is_none() && (groups || user.impersonate_uid.is_some()) {
        return Err(Exit::Usage(
            "--as-group and --as-uid impersonate a user's groups or UID: \
             add --as USER (the user to impersonate)"
                .into(),
        ));
    }
    Ok(())
}

/// Where a pod's service account is mounted.
const SERVICE_ACCOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// client-go's test: the service's address in the environment and a token.
fn in_cluster_possible() -> bool {
    let set = |name| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    set("KUBERNETES_SERVICE_HOST")
        && set("KUBERNETES_SERVICE_PORT")
        && Path::new(SERVICE_ACCOUNT).join("token").is_file()
}

/// The pod's service account as a kubeconfig, so flags apply to it as
/// clientcmd applies them in a pod: `--token` and `--certificate-authority`
/// replace the mounted ones; a `--user` is not found; flags that need a
/// kubeconfig cluster (`--insecure-skip-tls-verify`, `--tls-server-name`)
/// are refused, as kubectl does. The namespace is `POD_NAMESPACE`, else the
/// mounted file's (trimmed), else `default`.
fn in_cluster_kubeconfig(
    args: &ConnectionArgs,
    account: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Kubeconfig> {
    if let Some(user) = &args.user {
        return Err(Exit::Usage(format!(
            "user \"{user}\" not found: no kubeconfig (in a pod only the service account is known)"
        )));
    }
    if args.insecure_skip_tls_verify || args.tls_server_name.is_some() {
        return Err(Exit::Usage(
            "--insecure-skip-tls-verify and --tls-server-name need a kubeconfig cluster or \
             --server: in a pod kubectl refuses them too"
                .into(),
        ));
    }
    let (Some(host), Some(port)) = (
        env("KUBERNETES_SERVICE_HOST"),
        env("KUBERNETES_SERVICE_PORT"),
    ) else {
        return Err(Exit::Usage(
            "in a pod without KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT: \
             pass --kubeconfig PATH or --server URL"
                .into(),
        ));
    };
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let namespace = env("POD_NAMESPACE").or_else(|| {
        std::fs::read_to_string(account.join("namespace"))
            .ok()
            .map(|ns| ns.trim().to_string())
            .filter(|ns| !ns.is_empty())
    });
    let ca = args
        .certificate_authority
        .clone()
        .unwrap_or_else(|| account.join("ca.crt"));
    let name = "in-cluster".to_string();
    Ok(Kubeconfig {
        clusters: vec![NamedCluster {
            name: name.clone(),
            cluster: Some(Cluster {
                server: Some(format!("https://{host}:{port}")),
                certificate_authority: Some(ca.display().to_string()),
                ..Cluster::default()
            }),
            ..NamedCluster::default()
        }],
        auth_infos: vec![NamedAuthInfo {
            name: name.clone(),
            // `--token` replaces the mounted token file (clientcmd's
            // inClusterClientConfig), rather than standing beside it.
            auth_info: Some(AuthInfo {
                token_file: args
                    .token
                    .is_none()
                    .then(|| account.join("token").display().to_string()),
                ..AuthInfo::default()
            }),
            ..NamedAuthInfo::default()
        }],
        contexts: vec![NamedContext {
            name: name.clone(),
            context: Some(Context {
                cluster: name.clone(),
                user: Some(name.clone()),
                namespace: Some(namespace.unwrap_or_else(|| "default".into())),
                ..Context::default()
            }),
            ..NamedContext::default()
        }],
        current_context: Some(name),
        ..Kubeconfig::default()
    })
}

/// A server without a scheme (`-s host:port`) is plain HTTP in client-go
/// (`DefaultServerURL`, no TLS settings applied yet when it decides).
fn normalize_server(server: &str) -> String {
    if server.contains("://") {
        server.to_string()
    } else {
        format!("http://{server}")
    }
}

fn known<'a>(what: &str, names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<&str> = names.map(String::as_str).collect();
    if names.is_empty() {
        format!(" (it has no {what})")
    } else {
        format!(" (known {what}: {})", names.join(", "))
    }
}

pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[test]
    fn connections_send_each_write_at_once() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let uri: http::Uri = format!("http://{}", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let stream = runtime
            .block_on(tcp_connector().oneshot(uri))
            .expect("connect to the local listener");
        assert!(stream.inner().nodelay().unwrap(), "TCP_NODELAY is off");
    }

    fn pod(
        args: &ConnectionArgs,
        pod_namespace: Option<&str>,
        file: Option<&str>,
    ) -> Result<Kubeconfig> {
        let account = tempfile::tempdir().unwrap();
        if let Some(text) = file {
            std::fs::write(account.path().join("namespace"), text).unwrap();
        }
        let env = |name: &str| match name {
            "KUBERNETES_SERVICE_HOST" => Some("10.0.0.1".to_string()),
            "KUBERNETES_SERVICE_PORT" => Some("443".to_string()),
            "POD_NAMESPACE" => pod_namespace.map(str::to_string),
            _ => None,
        };
        in_cluster_kubeconfig(args, account.path(), &env)
    }

    fn namespace_of(kc: &Kubeconfig) -> String {
        kc.contexts[0]
            .context
            .as_ref()
            .unwrap()
            .namespace
            .clone()
            .unwrap()
    }

    /// clientcmd's inClusterClientConfig: POD_NAMESPACE first, then the
    /// mounted file without its newline, then "default".
    #[test]
    fn a_pods_namespace_is_client_gos() {
        let none = ConnectionArgs::default();
        assert_eq!(
            namespace_of(&pod(&none, None, Some("cx-b\n")).unwrap()),
            "cx-b"
        );
        assert_eq!(
            namespace_of(&pod(&none, Some("cx-a"), Some("cx-b\n")).unwrap()),
            "cx-a"
        );
        assert_eq!(namespace_of(&pod(&none, None, None).unwrap()), "default");
        assert_eq!(
            namespace_of(&pod(&none, None, Some(" \n")).unwrap()),
            "default"
        );
    }

    /// In a pod `--token` and `--certificate-authority` replace the mounted
    /// ones; `--user` and the flags that need a kubeconfig cluster are refused.
    #[test]
    fn flags_in_a_pod_are_honoured_or_refused_as_kubectl_does() {
        let args = ConnectionArgs {
            token: Some("flag-token".into()),
            certificate_authority: Some("/etc/other-ca.pem".into()),
            ..ConnectionArgs::default()
        };
        let kc = pod(&args, None, None).unwrap();
        let user = kc.auth_infos[0].auth_info.as_ref().unwrap();
        assert_eq!(
            user.token_file, None,
            "the mounted token stays beside --token"
        );
        let cluster = kc.clusters[0].cluster.as_ref().unwrap();
        assert_eq!(
            cluster.certificate_authority.as_deref(),
            Some("/etc/other-ca.pem")
        );
        assert_eq!(cluster.server.as_deref(), Some("https://10.0.0.1:443"));
        for refused in [
            ConnectionArgs {
                user: Some("nope".into()),
                ..ConnectionArgs::default()
            },
            ConnectionArgs {
                insecure_skip_tls_verify: true,
                ..ConnectionArgs::default()
            },
            ConnectionArgs {
                tls_server_name: Some("x".into()),
                ..ConnectionArgs::default()
            },
        ] {
            assert!(matches!(pod(&refused, None, None), Err(Exit::Usage(_))));
        }
    }

    /// Through an HTTP CONNECT proxy too: the tunnel is the same TCP
    /// connection, made by the same connector.
    #[test]
    fn proxied_connections_send_each_write_at_once() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let proxy: http::Uri = format!("http://{}", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        let answer = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut byte = [0u8];
            while !request.ends_with(b"\r\n\r\n") {
                conn.read_exact(&mut byte).unwrap();
                request.push(byte[0]);
            }
            conn.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .unwrap();
            String::from_utf8(request).unwrap()
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let tunnel =
            hyper_util::client::legacy::connect::proxy::Tunnel::new(proxy, tcp_connector());
        let target: http::Uri = "https://10.9.8.7:6443".parse().unwrap();
        let stream = runtime
            .block_on(tunnel.oneshot(target))
            .expect("a tunnel through the local proxy");
        assert!(answer.join().unwrap().starts_with("CONNECT 10.9.8.7:6443 "));
        assert!(stream.inner().nodelay().unwrap(), "TCP_NODELAY is off");
    }
}
