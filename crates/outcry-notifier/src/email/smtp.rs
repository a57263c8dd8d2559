//! One SMTP transaction with the relay, over plain TCP, STARTTLS or TLS (see the
//! module above for what is spoken and how failures are classed).

use super::base64;
use outcry_runtime::config::WebhookConfig;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// How one SMTP transaction failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpFailure {
    /// the reply code, if the relay answered one
    pub code: Option<u16>,
    pub detail: String,
    /// no retry can help, although the relay answered no 5xx (a certificate that does not
    /// verify, a relay without STARTTLS)
    pub permanent: bool,
}

impl SmtpFailure {
    /// A connection that failed or broke: worth another attempt.
    fn io(detail: String) -> SmtpFailure {
        SmtpFailure {
            code: None,
            detail,
            permanent: false,
        }
    }

    /// What the relay is or offers, which the next attempt would meet again.
    fn permanent(detail: String) -> SmtpFailure {
        SmtpFailure {
            code: None,
            detail,
            permanent: true,
        }
    }

    /// Whether trying again may help: a 4xx reply, or no reply at all, unless the failure
    /// is permanent.
    pub fn transient(&self) -> bool {
        !self.permanent && self.code.is_none_or(|c| (400..500).contains(&c))
    }

    /// The `result` label of the attempt: the reply's class, or `error`.
    pub fn label(&self) -> &'static str {
        match self.code {
            Some(400..=499) => "4xx",
            Some(500..=599) => "5xx",
            _ => "error",
        }
    }
}

/// How the connection to a relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    Plain,
    StartTls,
    Tls,
}

/// The host and `host:port` of an `smtp://host[:port]` url (port 25 by default) or an
/// `smtps://host[:port]` one (port 465), and whether it is `smtps`.
fn relay(url: &str) -> Option<(String, String, bool)> {
    let (rest, tls) = match url.strip_prefix("smtps://") {
        Some(rest) => (rest, true),
        None => (url.strip_prefix("smtp://")?, false),
    };
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.contains(['/', '@', '?']) {
        return None;
    }
    let port = rest.rsplit_once(':').and_then(|(host, port)| {
        (!host.is_empty() && !host.ends_with(':'))
            .then(|| port.parse::<u16>().ok().map(|p| (host, p)))
            .flatten()
    });
    let (host, addr) = match port {
        Some((host, _)) => (host, rest.to_string()),
        None => (rest, format!("{rest}:{}", if tls { 465 } else { 25 })),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((host.to_string(), addr, tls))
}

/// One email webhook's relay: where it is and how to talk to it, prepared once when the
/// notifier starts (the TLS roots are read then, not for every message).
pub struct Relay {
    addr: String,
    security: Security,
    /// the name the relay's certificate must carry
    server_name: ServerName<'static>,
    tls: Option<TlsConnector>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("addr", &self.addr)
            .field("security", &self.security)
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// The relay of an email webhook; an error says what in its config cannot be used.
    pub fn new(hook: &WebhookConfig) -> Result<Relay, String> {
        let Some((host, addr, smtps)) = relay(&hook.url) else {
            return Err(format!(
                "{:?} is not an smtp://host[:port] or smtps://host[:port] url",
                hook.url
            ));
        };
        let security = match (smtps, hook.starttls) {
            (true, _) => Security::Tls,
            (false, true) => Security::StartTls,
            (false, false) => Security::Plain,
        };
        let server_name = ServerName::try_from(host.clone())
            .map_err(|e| format!("{host:?} is not a host name TLS can check: {e}"))?;
        let tls = match security {
            Security::Plain => None,
            _ => Some(connector(&hook.ca_file)?),
        };
        Ok(Relay {
            addr,
            security,
            server_name,
            tls,
        })
    }

    /// The TLS handshake over `tcp`.
    async fn handshake(
        &self,
        tcp: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, SmtpFailure> {
        let Some(tls) = &self.tls else {
            return Err(SmtpFailure::permanent("no TLS configured".into()));
        };
        tls.connect(self.server_name.clone(), tcp)
            .await
            .map_err(|e| {
                let detail = format!("TLS with {}: {e}", self.addr);
                // an error of TLS itself (the certificate, the protocol) comes back on every
                // attempt; a connection that broke during the handshake may not
                match e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                {
                    Some(_) => SmtpFailure::permanent(detail),
                    None => SmtpFailure::io(detail),
                }
            })
    }
}

/// A TLS client trusting the CA certificates of `ca_file` (PEM), or the public web roots
/// when it is empty.
fn connector(ca_file: &str) -> Result<TlsConnector, String> {
    let mut roots = rustls::RootCertStore::empty();
    if ca_file.is_empty() {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    } else {
        let certs = CertificateDer::pem_file_iter(ca_file)
            .map_err(|e| format!("cannot read the CA file {ca_file}: {e}"))?;
        for cert in certs {
            let cert = cert.map_err(|e| format!("cannot read the CA file {ca_file}: {e}"))?;
            roots.add(cert).map_err(|e| {
                format!("a certificate in {ca_file} is not a CA Outcry can use: {e}")
            })?;
        }
        if roots.is_empty() {
            return Err(format!("no certificate in the CA file {ca_file}"));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Reads one reply, its continuation lines included: the code and the text of each line.
async fn reply<R: AsyncBufReadExt + Unpin>(
    reader: &mut R,
) -> Result<(u16, Vec<String>), SmtpFailure> {
    let mut line = String::new();
    let mut texts = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .await
            .map_err(|e| SmtpFailure::io(format!("reading the reply: {e}")))?;
        if n == 0 {
            return Err(SmtpFailure::io("the relay closed the connection".into()));
        }
        let code = line.get(..3).and_then(|c| c.parse::<u16>().ok());
        let Some(code) = code else {
            return Err(SmtpFailure::io(format!(
                "not an SMTP reply: {:?}",
                line.trim_end()
            )));
        };
        texts.push(line.get(4..).unwrap_or_default().trim_end().to_string());
        // `250-...` continues, `250 ...` (or `250`) ends the reply; a relay cannot make the
        // client read for ever
        if line.as_bytes().get(3) != Some(&b'-') || texts.len() > 100 {
            return Ok((code, texts));
        }
    }
}

/// Sends `command` (unless empty) and wants a reply of code `want`; returns the reply's
/// lines. Errors name the command by `label`, never by its text (which may be a
/// credential).
async fn exchange<S>(
    reader: &mut BufReader<S>,
    command: &str,
    want: u16,
    label: &str,
) -> Result<Vec<String>, SmtpFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if !command.is_empty() {
        reader
            .get_mut()
            .write_all(command.as_bytes())
            .await
            .map_err(|e| SmtpFailure::io(format!("writing {label}: {e}")))?;
    }
    let (code, texts) = reply(reader).await?;
    let ok = if want == 250 {
        code == 250 || code == 251
    } else {
        code == want
    };
    if ok {
        Ok(texts)
    } else {
        let text = format!("{code} {}", texts.last().map_or("", String::as_str));
        Err(SmtpFailure {
            code: Some(code),
            detail: format!("smtp {label} answered {:?}", text.trim_end()),
            permanent: false,
        })
    }
}

/// [`exchange`] of a command without secrets, named by its verb.
async fn step<S>(reader: &mut BufReader<S>, command: &str, want: u16) -> Result<(), SmtpFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let verb = command.split([' ', ':', '\r']).next().unwrap_or_default();
    let label = if verb.is_empty() { "greeting" } else { verb };
    exchange(reader, command, want, label).await.map(drop)
}

/// What the relay's EHLO reply offers: each extension's keyword (upper case) and its
/// parameters.
struct Extensions(Vec<(String, Vec<String>)>);

impl Extensions {
    /// From the lines of an EHLO reply: the first greets, each further one is an extension.
    /// Old relays write `AUTH=LOGIN` for `AUTH LOGIN`.
    fn parse(lines: &[String]) -> Extensions {
        Extensions(
            lines
                .iter()
                .skip(1)
                .filter_map(|line| {
                    let mut words = line.split([' ', '=']).filter(|w| !w.is_empty());
                    let keyword = words.next()?.to_ascii_uppercase();
                    Some((keyword, words.map(str::to_ascii_uppercase).collect()))
                })
                .collect(),
        )
    }

    fn offers(&self, keyword: &str) -> bool {
        self.0.iter().any(|(k, _)| k == keyword)
    }

    /// The parameters of every line of `keyword`.
    fn params(&self, keyword: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == keyword)
            .flat_map(|(_, params)| params.iter().map(String::as_str))
            .collect()
    }
}

async fn ehlo<S>(reader: &mut BufReader<S>) -> Result<Extensions, SmtpFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let lines = exchange(reader, "EHLO outcry\r\n", 250, "EHLO").await?;
    Ok(Extensions::parse(&lines))
}

/// SMTP AUTH with the webhook's credentials: PLAIN (RFC 4616), or LOGIN when that is all
/// the relay offers.
async fn authenticate<S>(
    reader: &mut BufReader<S>,
    extensions: &Extensions,
    hook: &WebhookConfig,
) -> Result<(), SmtpFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mechanisms = extensions.params("AUTH");
    if mechanisms.contains(&"PLAIN") {
        let token = base64(format!("\0{}\0{}", hook.username, hook.password).as_bytes());
        exchange(
            reader,
            &format!("AUTH PLAIN {token}\r\n"),
            235,
            "AUTH PLAIN",
        )
        .await?;
    } else if mechanisms.contains(&"LOGIN") {
        exchange(reader, "AUTH LOGIN\r\n", 334, "AUTH LOGIN").await?;
        let user = format!("{}\r\n", base64(hook.username.as_bytes()));
        exchange(reader, &user, 334, "AUTH LOGIN username").await?;
        let password = format!("{}\r\n", base64(hook.password.as_bytes()));
        exchange(reader, &password, 235, "AUTH LOGIN password").await?;
    } else {
        return Err(SmtpFailure::permanent(format!(
            "the relay offers no AUTH mechanism Outcry speaks (PLAIN, LOGIN): offered {mechanisms:?}"
        )));
    }
    Ok(())
}

/// Everything after the greeting and EHLO: AUTH when configured, the envelope, the data.
async fn mail<S>(
    mut conn: BufReader<S>,
    extensions: &Extensions,
    hook: &WebhookConfig,
    message: &str,
) -> Result<(), SmtpFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if !hook.username.is_empty() {
        authenticate(&mut conn, extensions, hook).await?;
    }
    step(&mut conn, &format!("MAIL FROM:<{}>\r\n", hook.from), 250).await?;
    for to in &hook.to {
        step(&mut conn, &format!("RCPT TO:<{to}>\r\n"), 250).await?;
    }
    step(&mut conn, "DATA\r\n", 354).await?;
    // dot stuffing: a line that starts with `.` gets another
    let mut data = String::with_capacity(message.len() + 8);
    for line in message.split_inclusive("\r\n") {
        if line.starts_with('.') {
            data.push('.');
        }
        data.push_str(line);
    }
    if !data.ends_with("\r\n") {
        data.push_str("\r\n");
    }
    data.push_str(".\r\n");
    step(&mut conn, &data, 250).await?;
    // delivered; a relay that hangs up before answering QUIT changes nothing
    let _ = conn.get_mut().write_all(b"QUIT\r\n").await;
    let _ = conn.get_mut().shutdown().await;
    Ok(())
}

/// One SMTP transaction: the message to every recipient, within `timeout`.
pub async fn send(
    relay: &Relay,
    hook: &WebhookConfig,
    message: &str,
    timeout: Duration,
) -> Result<(), SmtpFailure> {
    let addr = relay.addr.as_str();
    let transaction = async {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| SmtpFailure::io(format!("connecting to {addr}: {e}")))?;
        if relay.security == Security::Tls {
            let mut conn = BufReader::new(relay.handshake(tcp).await?);
            step(&mut conn, "", 220).await?;
            let extensions = ehlo(&mut conn).await?;
            return mail(conn, &extensions, hook, message).await;
        }
        let mut conn = BufReader::new(tcp);
        step(&mut conn, "", 220).await?;
        let extensions = ehlo(&mut conn).await?;
        if relay.security == Security::Plain {
            return mail(conn, &extensions, hook, message).await;
        }
        if !extensions.offers("STARTTLS") {
            return Err(SmtpFailure::permanent(format!(
                "{addr} does not offer STARTTLS, and the webhook has starttls: true"
            )));
        }
        step(&mut conn, "STARTTLS\r\n", 220).await?;
        // anything the relay sent after agreeing came before TLS, where anyone on the path
        // could have written it (CVE-2011-0411): refuse it rather than read it as protected
        if !conn.buffer().is_empty() {
            return Err(SmtpFailure::permanent(format!(
                "{addr} sent data after agreeing to STARTTLS"
            )));
        }
        let mut conn = BufReader::new(relay.handshake(conn.into_inner()).await?);
        // what the relay offered before TLS is forgotten (RFC 3207, 4.2)
        let extensions = ehlo(&mut conn).await?;
        mail(conn, &extensions, hook, message).await
    };
    match tokio::time::timeout(timeout, transaction).await {
        Ok(result) => result,
        Err(_) => Err(SmtpFailure::io(format!(
            "no answer from {addr} within {}ms",
            timeout.as_millis()
        ))),
    }
}

#[cfg(test)]
mod tests;
