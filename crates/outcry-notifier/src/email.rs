//! Email through an SMTP relay: the message for one escalation record, and one SMTP
//! transaction to send it.
//!
//! SMTP (RFC 5321) to the relay named by the webhook's url:
//!
//! - `smtp://host[:port]` (port 25 by default): plain text, for the relay a cluster runs next
//!   to its services (a Postfix sidecar, a cloud mail relay's local endpoint);
//! - the same with `starttls: true` (the submission port 587 of a mail provider): the
//!   connection is upgraded with STARTTLS (RFC 3207) before anything else is sent, and a relay
//!   that does not offer it fails the delivery rather than getting the message in clear;
//! - `smtps://host[:port]` (port 465 by default): TLS from the first byte (RFC 8314).
//!
//! TLS checks the relay's certificate against the public web roots (`webpki-roots`) or the
//! CA certificates of the webhook's `ca_file`, and the relay's name from the url. With a
//! `username`, the client authenticates (RFC 4954) with PLAIN, or LOGIN when that is all the
//! relay offers, only ever over TLS (the config refuses AUTH on a plain connection); the
//! credentials never appear in an error.
//!
//! The message is UTF-8 text, base64 encoded, so it passes any relay whatever the mention
//! wrote; the subject is cut to 150 characters, with control characters (a newline in a handle
//! could otherwise start a header of its own) made spaces, and RFC 2047 encoded when it is
//! not ASCII. `Message-ID` is made from the escalation id (`case:3` as `case.3`), the same
//! on every retry, so a mail system that deduplicates on it shows one message per record.
//!
//! Reply codes decide retries as SMTP means them: 2xx delivered, 4xx (and a dropped
//! connection or a timeout) transient, retried; 5xx permanent, not retried. So is what no
//! retry can change: a certificate that does not verify, a relay without STARTTLS or without
//! an AUTH mechanism Outcry speaks.

use crate::json;
use outcry_proto::millis_from_timestamp;
use outcry_proto::v1::{CaseState, Escalation, Priority};
use outcry_runtime::config::WebhookConfig;
use outcry_runtime::time::format_rfc3339_millis;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Longest subject, in characters, before it is cut.
const SUBJECT_MAX: usize = 150;

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

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(TABLE[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The subject as one header value: control characters made spaces, cut on a character,
/// and RFC 2047 encoded words (each at most 75 characters) when it is not ASCII.
fn subject_header(subject: &str) -> String {
    let clean: String = subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(SUBJECT_MAX)
        .collect();
    if clean.is_ascii() {
        return clean;
    }
    // 45 bytes of UTF-8 make 60 base64 characters: with `=?UTF-8?B?` and `?=`, 72
    let mut words = Vec::new();
    let mut word = String::new();
    for c in clean.chars() {
        if word.len() + c.len_utf8() > 45 {
            words.push(format!("=?UTF-8?B?{}?=", base64(word.as_bytes())));
            word.clear();
        }
        word.push(c);
    }
    if !word.is_empty() {
        words.push(format!("=?UTF-8?B?{}?=", base64(word.as_bytes())));
    }
    words.join("\r\n ")
}

/// `Wed, 02 Dec 2026 18:00:00 +0000` (RFC 5322) for unix milliseconds.
fn mail_date(ms: i64) -> String {
    let iso = format_rfc3339_millis(ms); // 2026-12-02T18:00:00.000Z
    let days = ms.max(0).div_euclid(86_400_000);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let month: usize = iso.get(5..7).and_then(|m| m.parse().ok()).unwrap_or(1);
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{weekday}, {} {} {} {} +0000",
        iso.get(8..10).unwrap_or("01"),
        months[month.clamp(1, 12) - 1],
        iso.get(0..4).unwrap_or("1970"),
        iso.get(11..19).unwrap_or("00:00:00"),
    )
}

/// The text of the message: what the case is, why, and how to find it.
fn text(e: &Escalation) -> String {
    let priority = Priority::try_from(e.priority)
        .unwrap_or(Priority::Unspecified)
        .label();
    let mut out = format!(
        "{priority} {} case for {}\n\n{}\n\n",
        json::state_label(e.state),
        e.team,
        e.summary
    );
    if let Some(x) = &e.explanation {
        if !x.text.is_empty() {
            out.push_str(&format!("Why: {}\n", x.text));
        }
        for s in &x.signals {
            out.push_str(&format!("Signal {}: \"{}\"\n", s.name, s.evidence));
        }
    }
    if e.state != CaseState::Resolved as i32 {
        let due = millis_from_timestamp(e.sla_due.as_ref());
        if due > 0 {
            out.push_str(&format!("SLA due: {}\n", format_rfc3339_millis(due)));
        }
    }
    out.push_str(&format!(
        "\nCase {} (record {}, {}), brand {}, {} mention(s) from {} author(s), reach {}\nSample mentions: {}\n",
        e.case_id,
        e.sequence,
        e.escalation_id,
        e.brand_id,
        e.mention_count,
        e.unique_authors,
        e.reach,
        e.sample_mention_ids.join(", ")
    ));
    out
}

/// The escalation id as the left part of a `Message-ID` (a dot-atom): letters, digits, `-`
/// and `_` kept, anything else (the `:` before the sequence) a `.`.
fn message_id(escalation_id: &str) -> String {
    let id: String = escalation_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '.'
            }
        })
        .collect();
    // a dot-atom neither starts nor ends with a dot, nor has two in a row
    let parts: Vec<&str> = id.split('.').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        "escalation".into()
    } else {
        parts.join(".")
    }
}

/// The whole message for one record, CRLF line endings, ready for `DATA` (before dot
/// stuffing).
pub fn message(hook: &WebhookConfig, e: &Escalation) -> String {
    let priority = Priority::try_from(e.priority)
        .unwrap_or(Priority::Unspecified)
        .label();
    let subject = format!(
        "[{priority}] {} {}: {}",
        e.team,
        json::state_label(e.state),
        e.summary
    );
    let body = base64(text(e).as_bytes());
    let mut lines = vec![
        format!("From: {}", hook.from),
        format!("To: {}", hook.to.join(", ")),
        format!("Subject: {}", subject_header(&subject)),
        format!(
            "Date: {}",
            mail_date(millis_from_timestamp(e.emitted_at.as_ref()))
        ),
        format!("Message-ID: <{}@outcry>", message_id(&e.escalation_id)),
        format!(
            "X-Outcry-Case-Id: {}",
            e.case_id.replace(char::is_control, " ")
        ),
        "MIME-Version: 1.0".to_string(),
        "Content-Type: text/plain; charset=utf-8".to_string(),
        "Content-Transfer-Encoding: base64".to_string(),
        String::new(),
    ];
    let bytes = body.as_bytes();
    lines.extend(
        bytes
            .chunks(76)
            .map(|l| String::from_utf8_lossy(l).into_owned()),
    );
    let mut out = lines.join("\r\n");
    out.push_str("\r\n");
    out
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
