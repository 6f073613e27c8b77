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
            args: extra.iter().map(|a| a.to_string()).collect(),
            login: None,
            ca: None,
        };
        tansu.restart();
        tansu
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
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
        let child = Command::new(tansu_bin())
            .args(["broker", "--listener-url", &listener])
            .args(["--advertised-listener-url", &listener])
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

    /// `tansu user create`: a SCRAM-SHA-512 login.
    pub fn add_user(&self, user: &str, password: &str) {
        let out = Command::new(tansu_bin())
            .args(["user", "create", "--broker"])
            .arg(format!("tcp://{}", self.bootstrap()))
            .args([user, password, "--mechanism", "scram512"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tansu user create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
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
