//! The SNS signature check (docs/aws/notifications.md, signature): RSA PKCS#1 v1.5 over the
//! envelope's string to sign, SHA-1 for `SignatureVersion` "1" and SHA-256 for "2", with the
//! public key of the certificate at `SigningCertURL`.

use base64::Engine as _;
use rsa::pkcs8::DecodePublicKey as _;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use sha1::Sha1;
use sha2::{Digest as _, Sha256};
use x509_cert::Certificate;
use x509_cert::der::{DecodePem as _, Encode as _};

use super::envelope::SnsEnvelope;

/// Why an envelope is not authentic (or could not be checked).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// `SigningCertURL` is not an SNS certificate URL (nor the allowed emulator prefix); nothing
    /// was fetched.
    #[error("certificate URL not allowed: {0}")]
    CertificateUrlNotAllowed(String),
    /// The certificate could not be fetched; retrying later may work.
    #[error("certificate unavailable: {0}")]
    CertificateUnavailable(String),
    /// The fetched document is not a PEM X.509 certificate with an RSA key.
    #[error("bad certificate: {0}")]
    BadCertificate(String),
    /// `SignatureVersion` is neither "1" nor "2".
    #[error("unsupported SignatureVersion {0:?}")]
    UnsupportedSignatureVersion(String),
    /// The signature does not match the envelope.
    #[error("bad signature")]
    BadSignature,
}

/// The digest a `SignatureVersion` signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Digest {
    Sha1,
    Sha256,
}

/// Refuses unknown versions before anything is fetched.
pub(super) fn digest(envelope: &SnsEnvelope) -> Result<Digest, VerifyError> {
    match envelope.signature_version() {
        "1" => Ok(Digest::Sha1),
        "2" => Ok(Digest::Sha256),
        other => Err(VerifyError::UnsupportedSignatureVersion(
            other.chars().take(16).collect(),
        )),
    }
}

/// The decoded `Signature`; undecodable base64 is a bad signature, found without fetching.
pub(super) fn signature_bytes(envelope: &SnsEnvelope) -> Result<Vec<u8>, VerifyError> {
    base64::engine::general_purpose::STANDARD
        .decode(envelope.signature())
        .map_err(|_| VerifyError::BadSignature)
}

/// The RSA public key of a PEM certificate. Only the key matters: the certificate is trusted
/// because of where it was fetched from (an SNS host over TLS), not because of its chain.
pub(super) fn public_key(pem: &[u8]) -> Result<RsaPublicKey, VerifyError> {
    let bad = |what: &str, error: &dyn std::fmt::Display| {
        VerifyError::BadCertificate(format!("{what}: {error}"))
    };
    let certificate = Certificate::from_pem(pem).map_err(|e| bad("not a PEM certificate", &e))?;
    let spki = certificate
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| bad("unreadable public key", &e))?;
    RsaPublicKey::from_public_key_der(&spki).map_err(|e| bad("not an RSA public key", &e))
}

/// Checks `signature` over the envelope's string to sign.
pub(super) fn verify(
    key: &RsaPublicKey,
    envelope: &SnsEnvelope,
    digest: Digest,
    signature: &[u8],
) -> Result<(), VerifyError> {
    let text = envelope.string_to_sign();
    let result = match digest {
        Digest::Sha1 => key.verify(
            Pkcs1v15Sign::new::<Sha1>(),
            &Sha1::digest(text.as_bytes()),
            signature,
        ),
        Digest::Sha256 => key.verify(
            Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(text.as_bytes()),
            signature,
        ),
    };
    result.map_err(|_| VerifyError::BadSignature)
}
