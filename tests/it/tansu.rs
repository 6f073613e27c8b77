//! A real Kafka-protocol broker for the `kafka:` sink's tests and bench:
//! tansu with memory storage on a free 127.0.0.1 port, and Kafka's reference
//! client, librdkafka (PyPI's confluent-kafka, through
//! `tests/data/kafka_reader.py`), to create topics and read records back.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The tansu binary: `TANSU`, else where `scripts/tansu` installs it, else
/// `PATH`.
fn tansu_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("TANSU") {
        return path.into();
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")));
    match cache.map(|c| c.join("kubectl-notify/tansu-0.6.0/bin/tansu")) {
        Some(path) if path.exists() => path,
        _ => "tansu".into(),
    }
}

/// A tansu broker with memory storage on 127.0.0.1; it forgets everything
/// when stopped.
pub struct Tansu {
    child: Option<Child>,
    pub port: u16,
    /// The port clients are told to use: `port`, or the TLS proxy's.
    advertised: u16,
    args: Vec<String>,
    /// The SASL mechanism, user and password the reader logs in with.
    pub login: Option<[String; 3]>,
    /// The CA the reader trusts, for a broker that speaks TLS.
    pub ca: Option<PathBuf>,
}

impl Tansu {
    pub fn start() -> Tansu {
        Tansu::start_with(&[])
    }

    /// With more `tansu broker` arguments (`--authentication`, ...).
    pub fn start_with(extra: &[&str]) -> Tansu {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut tansu = Tansu {
            child: None,
            port,
            advertised: port,
            args: extra.iter().map(|a| a.to_string()).collect(),
            login: None,
            ca: None,
        };
        tansu.restart();
        tansu
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.advertised)
    }

    /// Behind a TLS proxy (tansu 0.6.0 cannot take both `--cert` and
    /// `--key`): clients reach it with TLS only, the certificate for
    /// 127.0.0.1 signed by a CA made here; the CA's PEM is written to `ca`.
    pub fn start_tls(ca: &std::path::Path) -> Tansu {
        let (ca_pem, config) = testserver::tls_identity();
        std::fs::write(ca, ca_pem).unwrap();
        let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        proxy.set_nonblocking(true).unwrap();
        let advertised = proxy.local_addr().unwrap().port();
        let mut tansu = Tansu::start();
        tansu.advertised = advertised;
        tansu.ca = Some(ca.to_path_buf());
        tansu.restart();
        let broker = tansu.port;
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let acceptor = testserver::TlsAcceptor::from(config);
                let proxy = tokio::net::TcpListener::from_std(proxy).unwrap();
                loop {
                    let Ok((client, _)) = proxy.accept().await else {
                        continue;
                    };
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        let Ok(mut client) = acceptor.accept(client).await else {
                            return;
                        };
                        let Ok(mut server) =
                            tokio::net::TcpStream::connect(("127.0.0.1", broker)).await
                        else {
                            return;
                        };
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    });
                }
            });
        });
        tansu
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (stopped first if running).
    pub fn restart(&mut self) {
        self.stop();
        let listener = format!("tcp://127.0.0.1:{}", self.port);
        let advertised = format!("tcp://127.0.0.1:{}", self.advertised);
        let child = Command::new(tansu_bin())
            .args(["broker", "--listener-url", &listener])
            .args(["--advertised-listener-url", &advertised])
            .args(["--storage-engine", "memory://tansu/", "--silent"])
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start tansu ({e}): install it with scripts/tansu, or name it in TANSU"
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "tansu did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn create_topic(&self, topic: &str, partitions: u32) {
        let out = self.reader(&["create", &self.bootstrap(), topic, &partitions.to_string()]);
        assert!(
            out.status.success(),
            "create {topic}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Every record of `topic` from the start, until `count` arrived or
    /// `seconds` passed.
    pub fn read(&self, topic: &str, count: usize, seconds: u32) -> Vec<Kept> {
        let out = self.reader(&[
            "read",
            &self.bootstrap(),
            topic,
            &count.to_string(),
            &seconds.to_string(),
        ]);
        assert!(
            out.status.success(),
            "read {topic}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|line| {
                let record: Value = serde_json::from_str(line).unwrap();
                Kept {
                    partition: record["partition"].as_i64().unwrap(),
                    key: record["key"].as_str().unwrap_or_default().to_string(),
                    value: record["value"].as_str().unwrap_or_default().to_string(),
                    headers: record["headers"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|h| {
                            (
                                h[0].as_str().unwrap().to_string(),
                                h[1].as_str().unwrap_or_default().to_string(),
                            )
                        })
                        .collect(),
                    timestamp: record["timestamp"].as_i64().unwrap(),
                }
            })
            .collect()
    }

    fn reader(&self, args: &[&str]) -> std::process::Output {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/kafka_reader.py");
        let mut command = Command::new("python3");
        command.arg(script).args(args).stdin(Stdio::null());
        if let Some([mechanism, user, password]) = &self.login {
            command
                .env("KAFKA_SASL_MECHANISM", mechanism)
                .env("KAFKA_SASL_USER", user)
                .env("KAFKA_SASL_PASSWORD", password);
        }
        if let Some(ca) = &self.ca {
            command.env("KAFKA_SSL_CA", ca);
        }
        let out = command.output().expect("python3 on PATH");
        if String::from_utf8_lossy(&out.stderr).contains("No module named 'confluent_kafka'") {
            panic!(
                "the Kafka tests read with confluent-kafka: pip install 'confluent-kafka==2.16.1'"
            );
        }
        out
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One record as librdkafka read it.
#[derive(Debug, Clone)]
pub struct Kept {
    pub partition: i64,
    pub key: String,
    pub value: String,
    pub headers: Vec<(String, String)>,
    pub timestamp: i64,
}

impl Kept {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.value).unwrap()
    }
}
