//! Test harness: brokers to run one scenario against, and helpers to read topics.
//!
//! Backends: librdkafka's in-process mock cluster, and a real Kafka-protocol broker process
//! (Tansu, a Kafka-compatible broker in Rust). The real broker binary is found through
//! `OUTCRY_BROKER_BIN`; `make test` installs one and sets it. The real broker can also be
//! reached over mutual TLS only, through `tls_proxy.py` (see [`TestBroker::start_tls`]).

use anyhow::{bail, Context as _};
use outcry_cli::broker::Broker;
use outcry_runtime::config::KafkaConfig;
use outcry_runtime::kafka::TopicSpec;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Message, OwnedMessage};
use std::io::BufRead as _;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which broker a scenario runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Mock,
    Real,
    /// the real broker, reachable only over mutual TLS (see [`TestBroker::start_tls`])
    RealTls,
}

/// A running broker; a real one (and its TLS proxy) is killed on drop.
pub struct TestBroker {
    broker: Broker,
    children: Vec<Child>,
    tls: Option<TlsFiles>,
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

impl TestBroker {
    pub fn start(backend: Backend) -> anyhow::Result<TestBroker> {
        match backend {
            Backend::Mock => Ok(TestBroker {
                broker: Broker::embedded()?,
                children: Vec::new(),
                tls: None,
            }),
            Backend::Real => {
                let port = free_port()?;
                let child = real_broker(port, port)?;
                Ok(TestBroker {
                    broker: Broker::External(format!("127.0.0.1:{port}")),
                    children: vec![child],
                    tls: None,
                })
            }
            Backend::RealTls => TestBroker::start_tls(TlsFiles::generate()?),
        }
    }

    /// The certificates of a TLS broker.
    pub fn tls(&self) -> Option<&TlsFiles> {
        self.tls.as_ref()
    }

    /// The `kafka.properties` a client needs for this broker: none, or those of
    /// [`TlsFiles::client_properties`] trusting the broker's CA.
    pub fn client_properties(&self) -> Vec<(String, String)> {
        self.tls
            .as_ref()
            .map_or_else(Vec::new, |tls| tls.client_properties(&tls.ca))
    }

    /// The real broker, reachable only over TLS with a client certificate that `tls.ca`
    /// signed: it listens on one loopback port in plaintext and advertises another, where
    /// `tls_proxy.py` terminates TLS (the broker cannot itself, see the script). Clients
    /// need the `kafka.properties` of [`TestBroker::client_properties`].
    fn start_tls(tls: TlsFiles) -> anyhow::Result<TestBroker> {
        let (plain, secure) = (free_port()?, free_port()?);
        let broker = real_broker(plain, secure)?;
        let mut broker = TestBroker {
            broker: Broker::External(format!("127.0.0.1:{secure}")),
            children: vec![broker],
            tls: None,
        };
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tls_proxy.py");
        let mut proxy = Command::new("python3")
            .arg(&script)
            .args(["--listen", &format!("127.0.0.1:{secure}")])
            .args(["--upstream", &format!("127.0.0.1:{plain}")])
            .arg("--cert")
            .arg(&tls.server_cert)
            .arg("--key")
            .arg(&tls.server_key)
            .arg("--client-ca")
            .arg(&tls.ca)
            .args(["--max-seconds", "300"])
            // the proxy stops when its stdin closes, so it never outlives the test process
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting python3 {}", script.display()))?;
        let stdout = proxy.stdout.take().context("the proxy's stdout")?;
        broker.children.push(proxy);
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        if line.trim() != "ready" {
            bail!("the TLS proxy did not start: {line:?}");
        }
        broker.tls = Some(tls);
        Ok(broker)
    }

    pub fn bootstrap_servers(&self) -> String {
        self.broker.bootstrap_servers()
    }

    pub fn mock(
        &self,
    ) -> Option<&rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext>>
    {
        match &self.broker {
            Broker::Embedded(cluster) => Some(cluster),
            Broker::External(_) => None,
        }
    }

    pub async fn create_topics(
        &self,
        kafka: &KafkaConfig,
        topics: &[TopicSpec],
    ) -> anyhow::Result<()> {
        self.broker.create_topics(kafka, topics).await
    }
}

/// Starts the real broker listening on `port` and advertising `advertised` (both loopback),
/// and waits until it accepts connections.
fn real_broker(port: u16, advertised: u16) -> anyhow::Result<Child> {
    let bin = std::env::var("OUTCRY_BROKER_BIN").context(
        "OUTCRY_BROKER_BIN is not set: run `make test`, which installs a real Kafka-protocol broker, or point it at a tansu binary",
    )?;
    let mut child = Command::new(&bin)
        .args([
            "broker",
            "--listener-url",
            &format!("tcp://127.0.0.1:{port}"),
        ])
        .args([
            "--advertised-listener-url",
            &format!("tcp://127.0.0.1:{advertised}"),
        ])
        .args(["--storage-engine", "memory://tansu/"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting the broker {bin}"))?;
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the broker did not listen on 127.0.0.1:{port} within 15s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(child)
}

/// Certificates for a TLS test, made with the `openssl` command in a directory of their own:
/// a CA, a server certificate for 127.0.0.1 and a client certificate it signed, and a second
/// CA that signed neither.
pub struct TlsFiles {
    pub dir: PathBuf,
    pub ca: PathBuf,
    pub other_ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl TlsFiles {
    pub fn generate() -> anyhow::Result<TlsFiles> {
        let dir = std::env::temp_dir().join(unique("outcry-tls"));
        std::fs::create_dir_all(&dir)?;
        let path = |name: &str| dir.join(name);
        let openssl = |args: &[&str]| -> anyhow::Result<()> {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .output()
                .context("running openssl (Debian package openssl)")?;
            if !out.status.success() {
                bail!(
                    "openssl {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            Ok(())
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        for (name, cn) in [("ca", "outcry test CA"), ("other-ca", "another CA")] {
            let subject = format!("/CN={cn}");
            let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
            let mut args = vec!["req", "-x509", "-days", "1", "-subj", &subject];
            args.extend(ec);
            args.extend(["-keyout", &key, "-out", &pem]);
            args.extend(["-addext", "basicConstraints=critical,CA:TRUE"]);
            args.extend(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
            openssl(&args)?;
        }
        for (name, cn, ext) in [
            (
                "server",
                "127.0.0.1",
                "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
            ),
            (
                "client",
                "outcry test client",
                "extendedKeyUsage=clientAuth\n",
            ),
        ] {
            let subject = format!("/CN={cn}");
            let (key, csr, pem, cnf) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.pem"),
                format!("{name}.cnf"),
            );
            std::fs::write(path(&cnf), ext)?;
            let mut args = vec!["req", "-subj", &subject];
            args.extend(ec);
            args.extend(["-keyout", &key, "-out", &csr]);
            openssl(&args)?;
            openssl(&[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "1",
                "-extfile",
                &cnf,
                "-out",
                &pem,
            ])?;
        }
        Ok(TlsFiles {
            ca: path("ca.pem"),
            other_ca: path("other-ca.pem"),
            server_cert: path("server.pem"),
            server_key: path("server.key"),
            client_cert: path("client.pem"),
            client_key: path("client.key"),
            dir,
        })
    }

    /// The `kafka.properties` of a client that trusts `ca` and presents the client
    /// certificate.
    pub fn client_properties(&self, ca: &Path) -> Vec<(String, String)> {
        let text = |p: &Path| p.display().to_string();
        vec![
            ("security.protocol".into(), "ssl".into()),
            ("ssl.ca.location".into(), text(ca)),
            ("ssl.certificate.location".into(), text(&self.client_cert)),
            ("ssl.key.location".into(), text(&self.client_key)),
        ]
    }
}

impl Drop for TlsFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A name no other test run uses.
pub fn unique(prefix: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!(
        "{prefix}-{}-{}-{n}",
        std::process::id(),
        outcry_runtime::time::now_millis()
    )
}

/// Reads `topic` from the beginning (read_committed, a fresh group) until `done` says so or
/// `timeout` passes; returns what it read.
pub async fn read_until(
    kafka: &KafkaConfig,
    topic: &str,
    timeout: Duration,
    mut done: impl FnMut(&[OwnedMessage]) -> bool,
) -> anyhow::Result<Vec<OwnedMessage>> {
    let consumer: StreamConsumer =
        outcry_runtime::kafka::consumer(kafka, "test-reader", &unique("reader"))?;
    consumer.subscribe(&[topic])?;
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while !done(&out) {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            break;
        }
        if let Ok(Ok(m)) = tokio::time::timeout(remaining, consumer.recv()).await {
            out.push(m.detach());
        }
    }
    outcry_runtime::kafka::close_within(consumer, Duration::from_secs(10)).await;
    Ok(out)
}

/// The payload of a message, empty when absent.
pub fn payload(m: &OwnedMessage) -> &[u8] {
    m.payload().unwrap_or_default()
}
