//! Where SNS signing certificates may come from, how they are fetched, and the verifier that
//! caches their public keys (docs/aws/notifications.md, certificate host rules).
//!
//! The certificate is trusted because of its URL: HTTPS from `sns.<region>.amazonaws.com`, so
//! the URL check is the security boundary and is deliberately narrow (a restricted character
//! set, exact host, no userinfo, no port) rather than a general URL parser's idea of a host.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rsa::RsaPublicKey;
use tokio_rustls::rustls;

use super::envelope::SnsEnvelope;
use super::signature::{self, VerifyError};

/// Public keys kept, by certificate URL (AWS uses a handful of certificates at a time).
const CACHE_CAPACITY: usize = 64;

/// A certificate fetch gives up after this long.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Certificates are about 2 KiB; anything much bigger is not one.
const MAX_CERTIFICATE_BYTES: usize = 64 * 1024;

/// Which `SigningCertURL`s may be fetched: AWS's SNS hosts, plus optionally one prefix (the
/// emulator's `<url>/_souk/sns/`) for test setups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificatePolicy {
    extra: Option<Prefix>,
}

/// An allowed URL prefix, split so it is compared part by part.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Prefix {
    text: String,
    parts: UrlParts,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct UrlParts {
    https: bool,
    /// Lower-cased.
    host: String,
    port: u16,
    path: String,
}

/// An extra prefix that cannot be honoured safely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("certificate URL prefix {prefix:?}: {reason}")]
pub struct PolicyError {
    prefix: String,
    reason: &'static str,
}

impl CertificatePolicy {
    /// Only `https://sns.<region>.amazonaws.com/<name>.pem`.
    pub fn aws() -> Self {
        Self::default()
    }

    /// Also allows URLs under `prefix` (same scheme, host and port; path starting with the
    /// prefix's path), e.g. `http://127.0.0.1:4566/_souk/sns/` for the emulator.
    pub fn with_extra_prefix(self, prefix: &str) -> Result<Self, PolicyError> {
        let error = |reason| PolicyError {
            prefix: prefix.to_owned(),
            reason,
        };
        let parts = split_url(prefix).ok_or_else(|| {
            error("must be http(s)://host[:port]/path with no userinfo, query or '..'")
        })?;
        Ok(Self {
            extra: Some(Prefix {
                text: prefix.to_owned(),
                parts,
            }),
        })
    }

    /// The extra prefix, if any.
    pub fn extra_prefix(&self) -> Option<&str> {
        self.extra.as_ref().map(|prefix| prefix.text.as_str())
    }

    /// Whether a certificate may be fetched from `url`.
    pub fn allows(&self, url: &str) -> bool {
        is_aws_certificate_url(url) || self.extra.as_ref().is_some_and(|prefix| prefix.covers(url))
    }
}

impl Prefix {
    fn covers(&self, url: &str) -> bool {
        let Some(parts) = split_url(url) else {
            return false;
        };
        let wanted = &self.parts;
        parts.https == wanted.https
            && parts.host == wanted.host
            && parts.port == wanted.port
            && parts.path.starts_with(&wanted.path)
    }
}

/// `https://sns.<region>.amazonaws.com/<path>.pem`, region `[a-z]{2}(-gov)?-[a-z]+-\d`.
fn is_aws_certificate_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let Some((host, path)) = rest.split_once('/') else {
        return false;
    };
    let Some(region) = host
        .strip_prefix("sns.")
        .and_then(|host| host.strip_suffix(".amazonaws.com"))
    else {
        return false;
    };
    let path = format!("/{path}");
    is_region(region)
        && is_plain_path(&path)
        && path.len() > "/.pem".len()
        && path.ends_with(".pem")
}

fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let (country, name, number) = match parts.as_slice() {
        [country, name, number] | [country, "gov", name, number] => (*country, *name, *number),
        _ => return false,
    };
    let lower = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_lowercase());
    country.len() == 2
        && lower(country)
        && lower(name)
        && number.len() == 1
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// A path of unreserved characters and slashes only: no query, fragment, percent-encoding,
/// backslash or `..` segment that a client might resolve differently from this check.
fn is_plain_path(path: &str) -> bool {
    path.starts_with('/')
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/'))
        && !path
            .split('/')
            .any(|segment| segment == ".." || segment == ".")
}

/// `http(s)://host[:port]/path`, strictly: a DNS name, IPv4 or bracketed IPv6 host, no userinfo.
fn split_url(url: &str) -> Option<UrlParts> {
    let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else {
        (false, url.strip_prefix("http://")?)
    };
    let slash = rest.find('/')?;
    let (authority, path) = rest.split_at(slash);
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (inside, after) = bracketed.split_once(']')?;
        if inside.is_empty() || !inside.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return None;
        }
        (format!("[{inside}]"), after)
    } else {
        let end = authority.find(':').unwrap_or(authority.len());
        let (host, after) = authority.split_at(end);
        let valid = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'));
        if !valid {
            return None;
        }
        (host.to_ascii_lowercase(), after)
    };
    let port = match port.strip_prefix(':') {
        None if port.is_empty() => {
            if https {
                443
            } else {
                80
            }
        }
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            digits.parse().ok()?
        }
        _ => return None,
    };
    if !is_plain_path(path) {
        return None;
    }
    Some(UrlParts {
        https,
        host,
        port,
        path: path.to_owned(),
    })
}

/// Why a certificate could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct FetchError {
    reason: String,
}

impl FetchError {
    /// A failure described by `reason`.
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }
}

/// Fetches a certificate document by URL (already allowed by the [`CertificatePolicy`]).
#[async_trait]
pub trait CertificateFetcher: Send + Sync {
    /// The body at `url`.
    async fn fetch(&self, url: &str) -> Result<Vec<u8>, FetchError>;
}

/// Fetches over HTTPS (system roots, ring) or plain HTTP (the emulator), with a 5 s timeout, a
/// 64 KiB body limit and no redirects: a redirect could leave the allowed host.
#[derive(Debug, Clone)]
pub struct HttpCertificateFetcher {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
}

impl HttpCertificateFetcher {
    /// A fetcher trusting the system's root certificates. Without any (a bare container), HTTPS
    /// fetches fail with an unknown-issuer error while plain HTTP (the emulator) still works.
    pub fn new() -> Result<Self, FetchError> {
        // Explicit provider: the AWS SDK enables aws-lc-rs in the same rustls, so there is no
        // process default to fall back on.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = match HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider.clone())
        {
            Ok(builder) => builder,
            Err(error) => {
                tracing::warn!(%error, "no system root certificates: SNS certificates cannot be fetched over HTTPS");
                let config = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| FetchError::new(format!("TLS configuration: {e}")))?
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth();
                HttpsConnectorBuilder::new().with_tls_config(config)
            }
        };
        let connector = builder.https_or_http().enable_http1().build();
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }
}

#[async_trait]
impl CertificateFetcher for HttpCertificateFetcher {
    async fn fetch(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let uri: http::Uri = url
            .parse()
            .map_err(|e| FetchError::new(format!("bad URL: {e}")))?;
        let request = http::Request::get(uri)
            .header(http::header::USER_AGENT, "souk-entitlement")
            .body(Empty::<Bytes>::new())
            .map_err(|e| FetchError::new(format!("bad request: {e}")))?;
        let fetch = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| FetchError::new(format!("request failed: {e}")))?;
            let status = response.status();
            if !status.is_success() {
                return Err(FetchError::new(format!("HTTP {status}")));
            }
            let body = Limited::new(response.into_body(), MAX_CERTIFICATE_BYTES)
                .collect()
                .await
                .map_err(|e| FetchError::new(format!("reading body: {e}")))?;
            Ok(body.to_bytes().to_vec())
        };
        tokio::time::timeout(FETCH_TIMEOUT, fetch)
            .await
            .map_err(|_| FetchError::new(format!("timed out after {FETCH_TIMEOUT:?}")))?
    }
}

/// Checks SNS envelope signatures: the certificate URL against the policy, then the signature
/// with the certificate's key, fetched once per URL and kept (failed fetches are not kept).
pub struct SnsVerifier {
    policy: CertificatePolicy,
    fetcher: Arc<dyn CertificateFetcher>,
    /// Oldest first; a std mutex, never held across an await.
    keys: Mutex<VecDeque<(String, Arc<RsaPublicKey>)>>,
}

impl std::fmt::Debug for SnsVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnsVerifier")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl SnsVerifier {
    /// A verifier fetching allowed certificates with `fetcher`.
    pub fn new(policy: CertificatePolicy, fetcher: Arc<dyn CertificateFetcher>) -> Self {
        Self {
            policy,
            fetcher,
            keys: Mutex::new(VecDeque::new()),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &CertificatePolicy {
        &self.policy
    }

    /// Whether `envelope` was signed by SNS (or the allowed emulator). Cheap checks come first,
    /// so a forged envelope never makes Souk fetch anything from a host of the sender's choice.
    pub async fn verify(&self, envelope: &SnsEnvelope) -> Result<(), VerifyError> {
        let digest = signature::digest(envelope)?;
        let url = envelope.signing_cert_url();
        if !self.policy.allows(url) {
            return Err(VerifyError::CertificateUrlNotAllowed(
                url.chars().take(200).collect(),
            ));
        }
        let signature = signature::signature_bytes(envelope)?;
        let key = self.key(url).await?;
        signature::verify(&key, envelope, digest, &signature)
    }

    async fn key(&self, url: &str) -> Result<Arc<RsaPublicKey>, VerifyError> {
        if let Some(key) = self.cached(url) {
            return Ok(key);
        }
        let pem = self
            .fetcher
            .fetch(url)
            .await
            .map_err(|e| VerifyError::CertificateUnavailable(e.to_string()))?;
        let key = Arc::new(signature::public_key(&pem)?);
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if !keys.iter().any(|(cached, _)| cached == url) {
            if keys.len() >= CACHE_CAPACITY {
                keys.pop_front();
            }
            keys.push_back((url.to_owned(), key.clone()));
        }
        Ok(key)
    }

    fn cached(&self, url: &str) -> Option<Arc<RsaPublicKey>> {
        let keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        keys.iter()
            .find(|(cached, _)| cached == url)
            .map(|(_, key)| key.clone())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use souk_emulator::notify::signing::{CERT_PATH, SignatureVersion};
    use souk_emulator::notify::sns::Envelope;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;
    use crate::notifications::fixtures;
    use crate::notifications::parse_sns_envelope;

    /// Serves one document (or fails while `failures` lasts) and counts the calls.
    struct FakeFetcher {
        body: Vec<u8>,
        failures: AtomicUsize,
        calls: AtomicUsize,
    }

    impl FakeFetcher {
        fn new(body: impl Into<Vec<u8>>) -> Arc<Self> {
            Arc::new(Self {
                body: body.into(),
                failures: AtomicUsize::new(0),
                calls: AtomicUsize::new(0),
            })
        }

        fn emulator_certificate() -> Arc<Self> {
            Self::new(fixtures::signer().cert_pem())
        }

        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl CertificateFetcher for FakeFetcher {
        async fn fetch(&self, _url: &str) -> Result<Vec<u8>, FetchError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let failing = self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if failing {
                return Err(FetchError::new("connection refused"));
            }
            Ok(self.body.clone())
        }
    }

    fn emulator_policy() -> CertificatePolicy {
        CertificatePolicy::aws()
            .with_extra_prefix("http://localhost:4566/_souk/sns/")
            .expect("policy")
    }

    fn verifier(fetcher: &Arc<FakeFetcher>) -> SnsVerifier {
        SnsVerifier::new(emulator_policy(), fetcher.clone())
    }

    fn parsed(sent: &Envelope) -> SnsEnvelope {
        parse_sns_envelope(sent.to_json().as_bytes()).expect("envelope")
    }

    fn signed(version: SignatureVersion) -> Envelope {
        let message = fixtures::message(&fixtures::market_lifecycle(false)[0]);
        fixtures::envelope(&message, version)
    }

    #[tokio::test]
    async fn emulator_signatures_verify_in_both_versions() {
        let fetcher = FakeFetcher::emulator_certificate();
        let verifier = verifier(&fetcher);
        for version in [SignatureVersion::V1, SignatureVersion::V2] {
            assert_eq!(verifier.verify(&parsed(&signed(version))).await, Ok(()));
        }
        assert_eq!(
            verifier.verify(&parsed(&fixtures::confirmation())).await,
            Ok(())
        );
    }

    #[tokio::test]
    async fn a_changed_message_byte_breaks_the_signature() {
        let fetcher = FakeFetcher::emulator_certificate();
        let mut sent = signed(SignatureVersion::V2);
        sent.message = sent.message.replacen("subscribe", "subscribf", 1);
        assert_eq!(
            verifier(&fetcher).verify(&parsed(&sent)).await,
            Err(VerifyError::BadSignature)
        );
        let mut sent = signed(SignatureVersion::V1);
        sent.signature = "!!not base64!!".to_owned();
        assert_eq!(
            verifier(&fetcher).verify(&parsed(&sent)).await,
            Err(VerifyError::BadSignature)
        );
        // A signature made with SHA-256 does not pass as version 1.
        let mut sent = signed(SignatureVersion::V2);
        sent.signature_version = "1".to_owned();
        assert_eq!(
            verifier(&fetcher).verify(&parsed(&sent)).await,
            Err(VerifyError::BadSignature)
        );
    }

    #[tokio::test]
    async fn unknown_signature_versions_are_refused_without_fetching() {
        let fetcher = FakeFetcher::emulator_certificate();
        let mut sent = signed(SignatureVersion::V2);
        sent.signature_version = "3".to_owned();
        assert_eq!(
            verifier(&fetcher).verify(&parsed(&sent)).await,
            Err(VerifyError::UnsupportedSignatureVersion("3".to_owned()))
        );
        assert_eq!(fetcher.calls(), 0);
    }

    #[tokio::test]
    async fn certificates_from_anywhere_else_are_never_fetched() {
        let fetcher = FakeFetcher::emulator_certificate();
        let verifier = verifier(&fetcher);
        for url in [
            "https://evil.test/SimpleNotificationService-1.pem",
            "https://sns.us-east-1.amazonaws.com.evil.test/x.pem",
            "https://evil-sns.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com@evil.test/x.pem",
            "https://evil.test@sns.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com\\@evil.test/x.pem",
            "https://sns.us-east-1.amazonaws.com:8443/x.pem",
            "https://sns.us-east-1.amazonaws.com:443/x.pem",
            "http://sns.us-east-1.amazonaws.com/x.pem",
            "https://54.239.28.85/x.pem",
            "https://[::1]/x.pem",
            "https://sns.us-east-1.amazonaws.com/x.txt",
            "https://sns.us-east-1.amazonaws.com/x.pem?evil=1",
            "https://sns.us-east-1.amazonaws.com/x.pem#frag",
            "https://sns.us-east-1.amazonaws.com/%2e%2e/x.pem",
            "https://sns.us-east-1.amazonaws.com/../x.pem",
            "https://sns.us-east-1.amazonaws.com/.pem",
            "https://sns.useast1.amazonaws.com/x.pem",
            "https://sns.us-east-12.amazonaws.com/x.pem",
            "https://SNS.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com",
            "http://localhost:4566.evil.test/_souk/sns/x.pem",
            "http://localhost:4567/_souk/sns/SimpleNotificationService-souk.pem",
            "https://localhost:4566/_souk/sns/SimpleNotificationService-souk.pem",
            "http://localhost/_souk/sns/SimpleNotificationService-souk.pem",
            "http://user@localhost:4566/_souk/sns/SimpleNotificationService-souk.pem",
            "http://localhost:4566/_souk/other/x.pem",
            "http://localhost:4566/_souk/sns/../../x.pem",
            "http://localhost:4566/_souk/snsx.pem",
            "",
        ] {
            let mut sent = signed(SignatureVersion::V1);
            sent.signing_cert_url = url.to_owned();
            let verdict = match parse_sns_envelope(sent.to_json().as_bytes()) {
                Ok(envelope) => verifier.verify(&envelope).await,
                // The empty URL does not even parse.
                Err(_) => Err(VerifyError::CertificateUrlNotAllowed(String::new())),
            };
            assert!(
                matches!(verdict, Err(VerifyError::CertificateUrlNotAllowed(_))),
                "{url}: {verdict:?}"
            );
        }
        assert_eq!(fetcher.calls(), 0);
    }

    #[test]
    fn aws_certificate_urls_of_every_partition_style_are_allowed() {
        let policy = CertificatePolicy::aws();
        for url in [
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem",
            "https://sns.eu-central-1.amazonaws.com/SimpleNotificationService-01d088a6f77103d0fe307c0069e40ed6.pem",
            "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-x.pem",
            "https://sns.ap-southeast-2.amazonaws.com/a/b.pem",
        ] {
            assert!(policy.allows(url), "{url}");
        }
        assert!(!policy.allows(fixtures::EMULATOR_CERT_URL));
        assert!(emulator_policy().allows(fixtures::EMULATOR_CERT_URL));
        assert!(
            emulator_policy()
                .allows("http://LOCALHOST:4566/_souk/sns/SimpleNotificationService-souk.pem")
        );
        let exact = CertificatePolicy::aws()
            .with_extra_prefix("http://127.0.0.1:80/_souk/sns/SimpleNotificationService-souk.pem")
            .expect("policy");
        assert!(exact.allows("http://127.0.0.1/_souk/sns/SimpleNotificationService-souk.pem"));
        assert_eq!(
            exact.extra_prefix(),
            Some("http://127.0.0.1:80/_souk/sns/SimpleNotificationService-souk.pem")
        );
    }

    #[test]
    fn unsafe_extra_prefixes_are_refused() {
        for prefix in [
            "",
            "localhost:4566/_souk/sns/",
            "ftp://localhost/_souk/sns/",
            "http://localhost:4566",
            "http://user@localhost:4566/_souk/sns/",
            "http://localhost:99999/_souk/sns/",
            "http://localhost:/_souk/sns/",
            "http://localhost:4566/_souk/sns/?x",
            "http://localhost:4566/_souk/../",
            "http://[zz]/x/",
        ] {
            assert!(
                CertificatePolicy::aws().with_extra_prefix(prefix).is_err(),
                "{prefix}"
            );
        }
    }

    #[tokio::test]
    async fn a_certificate_is_fetched_once_per_url() {
        let fetcher = FakeFetcher::emulator_certificate();
        let verifier = verifier(&fetcher);
        assert_eq!(
            verifier
                .verify(&parsed(&signed(SignatureVersion::V1)))
                .await,
            Ok(())
        );
        assert_eq!(
            verifier
                .verify(&parsed(&signed(SignatureVersion::V2)))
                .await,
            Ok(())
        );
        assert_eq!(fetcher.calls(), 1);
    }

    #[tokio::test]
    async fn a_failed_fetch_is_not_remembered() {
        let fetcher = FakeFetcher::emulator_certificate();
        fetcher.failures.store(1, Ordering::SeqCst);
        let verifier = verifier(&fetcher);
        let envelope = parsed(&signed(SignatureVersion::V2));
        assert_eq!(
            verifier.verify(&envelope).await,
            Err(VerifyError::CertificateUnavailable(
                "connection refused".to_owned()
            ))
        );
        assert_eq!(verifier.verify(&envelope).await, Ok(()));
        assert_eq!(fetcher.calls(), 2);
    }

    #[tokio::test]
    async fn a_document_that_is_no_rsa_certificate_is_a_bad_certificate() {
        let fetcher = FakeFetcher::new("<html>not found</html>");
        let verdict = verifier(&fetcher)
            .verify(&parsed(&signed(SignatureVersion::V1)))
            .await;
        assert!(
            matches!(verdict, Err(VerifyError::BadCertificate(_))),
            "{verdict:?}"
        );
    }

    #[tokio::test]
    async fn the_cache_is_bounded() {
        let fetcher = FakeFetcher::emulator_certificate();
        let verifier = verifier(&fetcher);
        let mut sent = signed(SignatureVersion::V1);
        for n in 0..=CACHE_CAPACITY {
            sent.signing_cert_url = format!("http://localhost:4566/_souk/sns/{n}.pem");
            assert_eq!(verifier.verify(&parsed(&sent)).await, Ok(()));
        }
        let cached = verifier.keys.lock().expect("lock").len();
        assert_eq!(cached, CACHE_CAPACITY);
        // The oldest entry went first.
        sent.signing_cert_url = "http://localhost:4566/_souk/sns/0.pem".to_owned();
        assert_eq!(verifier.verify(&parsed(&sent)).await, Ok(()));
        assert_eq!(fetcher.calls(), CACHE_CAPACITY + 2);
    }

    #[tokio::test]
    async fn the_http_fetcher_verifies_against_the_certificate_a_running_emulator_serves() {
        let emulator = souk_emulator::spawn(souk_emulator::EmulatorConfig::default())
            .await
            .expect("emulator");
        let policy = CertificatePolicy::aws()
            .with_extra_prefix(&format!("{}/_souk/sns/", emulator.url))
            .expect("policy");
        let fetcher = HttpCertificateFetcher::new().expect("fetcher");
        let verifier = SnsVerifier::new(policy, Arc::new(fetcher));
        let mut sent = signed(SignatureVersion::V2);
        sent.signing_cert_url = format!("{}{CERT_PATH}", emulator.url);
        assert_eq!(verifier.verify(&parsed(&sent)).await, Ok(()));
        emulator.stop().await.expect("stop");
    }

    /// A one-connection HTTP server answering `response`; returns its base URL.
    async fn serve_once(response: Vec<u8>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            if let Ok((mut socket, _)) = listener.accept().await {
                let mut request = [0_u8; 4096];
                let _ = socket.read(&mut request).await;
                let _ = socket.write_all(&response).await;
                let _ = socket.shutdown().await;
            }
        });
        url
    }

    #[tokio::test]
    async fn the_http_fetcher_follows_no_redirect_and_reads_no_huge_body() {
        let fetcher = HttpCertificateFetcher::new().expect("fetcher");
        let redirect = serve_once(
            b"HTTP/1.1 302 Found\r\nLocation: https://evil.test/x.pem\r\nContent-Length: 0\r\n\r\n"
                .to_vec(),
        )
        .await;
        let error = fetcher
            .fetch(&format!("{redirect}/x.pem"))
            .await
            .expect_err("a redirect");
        assert_eq!(error.to_string(), "HTTP 302 Found");
        let mut huge = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
            MAX_CERTIFICATE_BYTES + 1
        )
        .into_bytes();
        huge.extend(std::iter::repeat_n(b'a', MAX_CERTIFICATE_BYTES + 1));
        let huge = serve_once(huge).await;
        let error = fetcher
            .fetch(&format!("{huge}/x.pem"))
            .await
            .expect_err("too big");
        assert!(error.to_string().starts_with("reading body"), "{error}");
        let small = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\npem!".to_vec()).await;
        assert_eq!(
            fetcher.fetch(&format!("{small}/x.pem")).await,
            Ok(b"pem!".to_vec())
        );
    }
}
