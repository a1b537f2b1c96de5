//! The emulator's SNS signing identity: a 2048-bit RSA key and a self-signed X.509 certificate,
//! and the SNS string-to-sign (docs/aws/notifications.md, string to sign) signed with PKCS#1 v1.5 over SHA1
//! (`SignatureVersion` "1") or SHA256 ("2").
//!
//! Key generation is slow in debug builds, so the key is generated once per process, cached on
//! disk under the system temp dir (`souk-emulator/sns-signing-key.pem`, PKCS#8) and reused by later
//! processes; a fresh certificate is issued for it at start-up. The key is a test identity only.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::der::EncodePem;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::Validity;

/// The path (under the emulator URL) where the signing certificate is served.
pub const CERT_PATH: &str = "/_souk/sns/SimpleNotificationService-souk.pem";

/// The emulator's signing key and certificate.
pub struct Signer {
    key: RsaPrivateKey,
    cert_pem: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").finish_non_exhaustive()
    }
}

/// SNS `SignatureVersion`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SignatureVersion {
    /// SHA1withRSA.
    #[serde(rename = "1")]
    V1,
    /// SHA256withRSA.
    #[serde(rename = "2")]
    V2,
}

impl SignatureVersion {
    /// "1" or "2".
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "1",
            Self::V2 => "2",
        }
    }
}

static SIGNER: OnceLock<Arc<Signer>> = OnceLock::new();

/// Serializes key loading/generation so concurrent first uses do not each generate a key.
static GENERATING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The process-wide signer, created (or loaded from the cache) on first use. Blocking: call
/// from `spawn_blocking` or use [`signer`].
pub fn signer_blocking() -> Result<Arc<Signer>, String> {
    if let Some(signer) = SIGNER.get() {
        return Ok(signer.clone());
    }
    let _generating = GENERATING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(signer) = SIGNER.get() {
        return Ok(signer.clone());
    }
    let signer = Arc::new(Signer::load_or_generate()?);
    Ok(SIGNER.get_or_init(|| signer).clone())
}

/// The process-wide signer, without blocking the runtime.
pub async fn signer() -> Result<Arc<Signer>, String> {
    if let Some(signer) = SIGNER.get() {
        return Ok(signer.clone());
    }
    tokio::task::spawn_blocking(signer_blocking)
        .await
        .map_err(|e| format!("signer task failed: {e}"))?
}

impl Signer {
    fn load_or_generate() -> Result<Self, String> {
        let path = cache_path();
        let cached = std::fs::read_to_string(&path)
            .ok()
            .and_then(|pem| RsaPrivateKey::from_pkcs8_pem(&pem).ok());
        let key = match cached {
            Some(key) => key,
            None => {
                let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
                    .map_err(|e| format!("rsa key generation failed: {e}"))?;
                store(&path, &key);
                key
            }
        };
        let cert_pem = self_signed_cert(&key)?;
        Ok(Self { key, cert_pem })
    }

    /// The certificate, PEM-encoded.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Signs `string_to_sign` and returns the base64 signature.
    pub fn sign(&self, string_to_sign: &str, version: SignatureVersion) -> Result<String, String> {
        let signature = match version {
            SignatureVersion::V1 => self.key.sign(
                Pkcs1v15Sign::new::<Sha1>(),
                &Sha1::digest(string_to_sign.as_bytes()),
            ),
            SignatureVersion::V2 => self.key.sign(
                Pkcs1v15Sign::new::<Sha256>(),
                &Sha256::digest(string_to_sign.as_bytes()),
            ),
        }
        .map_err(|e| format!("signing failed: {e}"))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(signature))
    }
}

fn cache_path() -> PathBuf {
    std::env::temp_dir()
        .join("souk-emulator")
        .join("sns-signing-key.pem")
}

fn store(path: &std::path::Path, key: &RsaPrivateKey) {
    let Ok(pem) = key.to_pkcs8_pem(LineEnding::LF) else {
        return;
    };
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    // Write to a unique temporary name and rename, so concurrent processes never read half a key.
    let temporary = path.with_extension(format!("{}.tmp", uuid::Uuid::new_v4().simple()));
    if std::fs::write(&temporary, pem.as_bytes()).is_ok() {
        restrict_permissions(&temporary);
        if std::fs::rename(&temporary, path).is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
    }
}

#[cfg(unix)]
fn restrict_permissions(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict_permissions(_path: &std::path::Path) {}

fn self_signed_cert(key: &RsaPrivateKey) -> Result<String, String> {
    let fail = |e: &dyn std::fmt::Display| format!("certificate generation failed: {e}");
    let signing_key = rsa::pkcs1v15::SigningKey::<Sha256>::new(key.clone());
    let public_key = key.to_public_key();
    let spki = SubjectPublicKeyInfoOwned::from_key(public_key).map_err(|e| fail(&e))?;
    let validity =
        Validity::from_now(Duration::from_secs(10 * 365 * 24 * 3600)).map_err(|e| fail(&e))?;
    let subject = Name::from_str("CN=sns.souk.emulator,O=Souk Emulator").map_err(|e| fail(&e))?;
    let serial = SerialNumber::from(rand::random::<u32>());
    let builder =
        CertificateBuilder::new(Profile::Root, serial, validity, subject, spki, &signing_key)
            .map_err(|e| fail(&e))?;
    let cert = builder
        .build::<rsa::pkcs1v15::Signature>()
        .map_err(|e| fail(&e))?;
    cert.to_pem(LineEnding::LF).map_err(|e| fail(&e))
}

/// The SNS string to sign (docs/aws/notifications.md, string to sign): `Key\nValue\n` for the signed keys in byte order,
/// `Subject` only when present. `fields` maps envelope keys to their decoded values.
pub fn string_to_sign(message_type: &str, fields: &[(&str, &str)]) -> String {
    let keys: &[&str] = if message_type == "Notification" {
        &[
            "Message",
            "MessageId",
            "Subject",
            "Timestamp",
            "TopicArn",
            "Type",
        ]
    } else {
        &[
            "Message",
            "MessageId",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ]
    };
    let mut out = String::new();
    for key in keys {
        if let Some((_, value)) = fields.iter().find(|(k, _)| k == key) {
            out.push_str(key);
            out.push('\n');
            out.push_str(value);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::string_to_sign;

    #[test]
    fn string_to_sign_matches_the_documented_example() {
        let fields = [
            ("Type", "Notification"),
            ("MessageId", "4d4dc071"),
            ("TopicArn", "arn:aws:sns:us-west-2:123456789012:MyTopic"),
            ("Subject", "My subject"),
            ("Message", "My Test Message"),
            ("Timestamp", "2019-01-31T04:37:04.321Z"),
            ("SignatureVersion", "1"),
        ];
        assert_eq!(
            string_to_sign("Notification", &fields),
            "Message\nMy Test Message\nMessageId\n4d4dc071\nSubject\nMy subject\nTimestamp\n\
             2019-01-31T04:37:04.321Z\nTopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\nType\nNotification\n"
        );
    }
}
