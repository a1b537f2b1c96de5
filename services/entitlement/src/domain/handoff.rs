//! What Souk signs under an integration's hand-off secret for the buyer's browser to carry: the
//! hand-off appended to the seller's sign-up URL, and the page token that ties Souk's hosted
//! sign-up form to one customer. Pure: the caller passes the secret and the time. The rules
//! are the contract with sellers' receivers, spelled out in docs/fulfilment.md; change them
//! only with a new version.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::fulfilment::Resolved;

/// First line of the canonical string: the version of the signing rule.
pub const VERSION: &str = "v1";

/// The signed parameters, in canonical order.
pub const SIGNED_PARAMETERS: [&str; 8] = [
    "souk_customer_id",
    "souk_aws_account_id",
    "souk_customer_identifier",
    "souk_product_code",
    "souk_license_arn",
    "souk_agreement_id",
    "souk_offer_type",
    "souk_timestamp",
];

/// The parameter carrying the signature.
pub const SIGNATURE_PARAMETER: &str = "souk_signature";

/// How old (or how far ahead of the receiver's clock) a hand-off may be.
pub const MAX_AGE: std::time::Duration = std::time::Duration::from_secs(300);

/// How long the hosted sign-up form accepts its page token.
pub const PAGE_TOKEN_LIFETIME: std::time::Duration = std::time::Duration::from_secs(3600);

/// The buyer as the seller's sign-up page learns it; an empty string is a value AWS did not give.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Handoff {
    /// Souk's customer id (`cus_...`).
    pub customer_id: String,
    /// The buyer's AWS account id.
    pub aws_account_id: String,
    /// Legacy CustomerIdentifier.
    pub customer_identifier: String,
    /// Marketplace product code.
    pub product_code: String,
    /// Licence ARN (concurrent-agreement products).
    pub license_arn: String,
    /// AWS agreement id.
    pub agreement_id: String,
    /// `free-trial` or empty.
    pub offer_type: String,
    /// When Souk sent the buyer on, unix seconds.
    pub timestamp: i64,
}

/// Why a hand-off does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandoffError {
    /// A signed parameter or the signature is missing.
    #[error("parameter {0} is missing")]
    Missing(&'static str),
    /// A parameter appears more than once (which one counts would be ambiguous).
    #[error("parameter {0} appears more than once")]
    Repeated(&'static str),
    /// A value cannot be what Souk sends.
    #[error("parameter {0} is malformed")]
    Malformed(&'static str),
    /// The signature does not match: wrong secret or tampered values.
    #[error("the signature does not match")]
    BadSignature,
    /// Older than the allowed age.
    #[error("the hand-off is too old")]
    Expired,
    /// Further ahead of the receiver's clock than the allowed age.
    #[error("the hand-off is from the future")]
    FromTheFuture,
}

impl Handoff {
    /// The hand-off of a resolved buyer at `now` (unix seconds).
    pub fn of(resolved: &Resolved, now: i64) -> Self {
        let customer = &resolved.customer;
        Self {
            customer_id: customer.id.to_string(),
            aws_account_id: customer.aws_account_id.clone().unwrap_or_default(),
            customer_identifier: customer.customer_identifier.clone().unwrap_or_default(),
            product_code: customer.product_code.clone(),
            license_arn: customer.license_arn.clone().unwrap_or_default(),
            agreement_id: resolved
                .agreement_id
                .clone()
                .or_else(|| resolved.subscription.agreement_id.clone())
                .unwrap_or_default(),
            // The browser posts the offer type: only the one value AWS sends is passed on.
            offer_type: match resolved.offer_type.as_deref() {
                Some("free-trial") => "free-trial".to_owned(),
                _ => String::new(),
            },
            timestamp: now,
        }
    }

    /// The signed parameters with their values, in canonical order.
    pub fn parameters(&self) -> [(&'static str, String); 8] {
        let [
            customer,
            account,
            identifier,
            product,
            licence,
            agreement,
            offer,
            timestamp,
        ] = SIGNED_PARAMETERS;
        [
            (customer, self.customer_id.clone()),
            (account, self.aws_account_id.clone()),
            (identifier, self.customer_identifier.clone()),
            (product, self.product_code.clone()),
            (licence, self.license_arn.clone()),
            (agreement, self.agreement_id.clone()),
            (offer, self.offer_type.clone()),
            (timestamp, self.timestamp.to_string()),
        ]
    }

    /// The signature under `secret`.
    pub fn signature(&self, secret: &str) -> String {
        let values = self.parameters().map(|(_, value)| value);
        signature(secret, &values.each_ref().map(String::as_str))
    }

    /// `signup_url` with the signed hand-off appended to its query. The URL's own query and
    /// fragment are kept, except `souk_*` parameters, which would make the hand-off ambiguous.
    pub fn append_to(&self, signup_url: &str, secret: &str) -> String {
        let (rest, fragment) = match signup_url.split_once('#') {
            Some((rest, fragment)) => (rest, Some(fragment)),
            None => (signup_url, None),
        };
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut url = escape_non_ascii(path);
        let mut separator = '?';
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let key = pair.split_once('=').map_or(pair, |(k, _)| k);
            if query_pairs(key)
                .first()
                .is_some_and(|(k, _)| k.starts_with("souk_"))
            {
                continue;
            }
            url.push(separator);
            url.push_str(&escape_non_ascii(pair));
            separator = '&';
        }
        let signature = self.signature(secret);
        let parameters = self.parameters();
        let all = parameters
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .chain([(SIGNATURE_PARAMETER, signature.as_str())]);
        for (key, value) in all {
            url.push(separator);
            url.push_str(&serde_urlencoded::to_string([(key, value)]).unwrap_or_default());
            separator = '&';
        }
        if let Some(fragment) = fragment {
            url.push('#');
            url.push_str(&escape_non_ascii(fragment));
        }
        url
    }
}

/// The canonical string of the signed values (in [`SIGNED_PARAMETERS`] order): `v1\n`, then
/// `name=value\n` for each.
pub fn canonical(values: &[&str; 8]) -> String {
    let mut text = format!("{VERSION}\n");
    for (name, value) in SIGNED_PARAMETERS.iter().zip(values) {
        text.push_str(name);
        text.push('=');
        text.push_str(value);
        text.push('\n');
    }
    text
}

/// Lowercase hex HMAC-SHA256 of the canonical string under `secret` (its UTF-8 bytes).
pub fn signature(secret: &str, values: &[&str; 8]) -> String {
    hex::encode(hmac_sha256(secret.as_bytes(), canonical(values).as_bytes()))
}

/// Checks the decoded query parameters `params` of a request Souk redirected: each signed
/// parameter and the signature present exactly once, the signature right under `secret`
/// (compared in constant time), and the timestamp within `max_age` of `now` (unix seconds)
/// either way. Other parameters are ignored.
pub fn verify(
    secret: &str,
    params: &[(String, String)],
    now: i64,
    max_age: std::time::Duration,
) -> Result<Handoff, HandoffError> {
    let one = |name: &'static str| -> Result<&str, HandoffError> {
        let mut found = params.iter().filter(|(k, _)| k == name);
        let (_, value) = found.next().ok_or(HandoffError::Missing(name))?;
        if found.next().is_some() {
            return Err(HandoffError::Repeated(name));
        }
        Ok(value.as_str())
    };
    let mut values = [""; 8];
    for (slot, name) in values.iter_mut().zip(SIGNED_PARAMETERS) {
        *slot = one(name)?;
        if slot.contains('\n') {
            return Err(HandoffError::Malformed(name));
        }
    }
    let given = one(SIGNATURE_PARAMETER)?;
    if !mac_matches(secret.as_bytes(), canonical(&values).as_bytes(), given) {
        return Err(HandoffError::BadSignature);
    }
    let [
        customer,
        account,
        identifier,
        product,
        licence,
        agreement,
        offer,
        timestamp,
    ] = values;
    let timestamp = parse_seconds(timestamp).ok_or(HandoffError::Malformed("souk_timestamp"))?;
    let max_age = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
    if now.saturating_sub(timestamp) > max_age {
        return Err(HandoffError::Expired);
    }
    if timestamp.saturating_sub(now) > max_age {
        return Err(HandoffError::FromTheFuture);
    }
    Ok(Handoff {
        customer_id: customer.to_owned(),
        aws_account_id: account.to_owned(),
        customer_identifier: identifier.to_owned(),
        product_code: product.to_owned(),
        license_arn: licence.to_owned(),
        agreement_id: agreement.to_owned(),
        offer_type: offer.to_owned(),
        timestamp,
    })
}

/// Why a page token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PageTokenError {
    /// Not a page token of this integration under this secret.
    #[error("the page token is not valid")]
    Invalid,
    /// Valid, but older than [`PAGE_TOKEN_LIFETIME`].
    #[error("the page token has expired")]
    Expired,
}

/// The hosted sign-up form's hidden token naming `customer_id` of `integration_id`, valid for
/// [`PAGE_TOKEN_LIFETIME`] from `now` (unix seconds): `<customer_id>.<expiry>.<hex HMAC>`. The
/// MAC's input starts with its own line, so no hand-off signature can pass for a page token.
pub fn page_token(secret: &str, integration_id: &str, customer_id: &str, now: i64) -> String {
    let lifetime = i64::try_from(PAGE_TOKEN_LIFETIME.as_secs()).unwrap_or(i64::MAX);
    let expires = now.saturating_add(lifetime);
    let mac = page_mac(secret, integration_id, customer_id, expires);
    format!("{customer_id}.{expires}.{mac}")
}

/// The customer id a page token of `integration_id` names, if it is genuine and unexpired at
/// `now`.
pub fn open_page_token(
    secret: &str,
    integration_id: &str,
    token: &str,
    now: i64,
) -> Result<String, PageTokenError> {
    let mut parts = token.split('.');
    let (Some(customer_id), Some(expires), Some(mac), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(PageTokenError::Invalid);
    };
    let expires = parse_seconds(expires).ok_or(PageTokenError::Invalid)?;
    if !mac_matches(
        secret.as_bytes(),
        page_message(integration_id, customer_id, expires).as_bytes(),
        mac,
    ) {
        return Err(PageTokenError::Invalid);
    }
    if now > expires {
        return Err(PageTokenError::Expired);
    }
    Ok(customer_id.to_owned())
}

fn page_message(integration_id: &str, customer_id: &str, expires: i64) -> String {
    format!("souk-signup-page\n{integration_id}\n{customer_id}\n{expires}\n")
}

fn page_mac(secret: &str, integration_id: &str, customer_id: &str, expires: i64) -> String {
    let message = page_message(integration_id, customer_id, expires);
    hex::encode(hmac_sha256(secret.as_bytes(), message.as_bytes()))
}

/// Decodes a query string (or form body) into its pairs, in order: `+` is a space, `%XX` a
/// byte; bad escapes stay as they are.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    // Form decoding never fails: bad escapes stay as they are.
    serde_urlencoded::from_str(query).unwrap_or_default()
}

/// Unsigned decimal seconds, as Souk writes them.
fn parse_seconds(raw: &str) -> Option<i64> {
    if raw.is_empty() || raw.len() > 18 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok()
}

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 of `message` under `key`.
fn mac(key: &[u8], message: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(message);
    mac
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    mac(key, message).finalize().into_bytes().into()
}

/// Whether `given_hex` (lowercase, as Souk writes it) is the HMAC of `message` under `key`,
/// compared in constant time.
fn mac_matches(key: &[u8], message: &[u8], given_hex: &str) -> bool {
    let lowercase = given_hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    lowercase
        && hex::decode(given_hex).is_ok_and(|given| mac(key, message).verify_slice(&given).is_ok())
}

/// Percent-encodes the non-ASCII bytes of the seller's URL, which a `Location` header cannot
/// carry as they are.
fn escape_non_ascii(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for ch in raw.chars() {
        if ch.is_ascii() {
            out.push(ch);
        } else {
            let mut buf = [0u8; 4];
            for byte in ch.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const SECRET: &str = "souk_hs_test-secret";
    const NOW: i64 = 1_767_225_600;

    fn handoff() -> Handoff {
        Handoff {
            customer_id: "cus_0196f3a0c0de7000800000000000abcd".into(),
            aws_account_id: "111122223333".into(),
            customer_identifier: "Cu5t0m3r+Id/=".into(),
            product_code: "souk-demo-saas".into(),
            license_arn: String::new(),
            agreement_id: "agmt-1234567890abcdef".into(),
            offer_type: "free-trial".into(),
            timestamp: NOW,
        }
    }

    /// The query of `url`, decoded as a receiver's framework would.
    fn params_of(url: &str) -> Vec<(String, String)> {
        let query = url.split_once('?').unwrap().1;
        query_pairs(query.split('#').next().unwrap())
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test cases 2 (short key) and 6 (key longer than a block).
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn the_canonical_string_is_the_documented_one() {
        let h = handoff();
        let values = h.parameters().map(|(_, v)| v);
        assert_eq!(
            canonical(&values.each_ref().map(String::as_str)),
            "v1\nsouk_customer_id=cus_0196f3a0c0de7000800000000000abcd\n\
             souk_aws_account_id=111122223333\nsouk_customer_identifier=Cu5t0m3r+Id/=\n\
             souk_product_code=souk-demo-saas\nsouk_license_arn=\n\
             souk_agreement_id=agmt-1234567890abcdef\nsouk_offer_type=free-trial\n\
             souk_timestamp=1767225600\n"
        );
        let signature = h.signature(SECRET);
        assert_eq!(signature.len(), 64);
        assert!(
            signature
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
        );
    }

    #[test]
    fn a_hand_off_round_trips_through_the_url() {
        let h = handoff();
        let url = h.append_to(
            "https://app.example.com/signup?plan=pro&souk_customer_id=x#top",
            SECRET,
        );
        assert!(url.starts_with("https://app.example.com/signup?plan=pro&souk_customer_id=cus_"));
        assert!(url.ends_with("#top"), "{url}");
        assert!(
            url.contains("souk_customer_identifier=Cu5t0m3r%2BId%2F%3D"),
            "{url}"
        );
        let params = params_of(&url);
        assert_eq!(params[0], ("plan".into(), "pro".into()));
        assert_eq!(verify(SECRET, &params, NOW + 299, MAX_AGE), Ok(h.clone()));
        // Without a query of its own.
        let url = h.append_to("https://app.example.com/welcome", SECRET);
        assert!(url.starts_with("https://app.example.com/welcome?souk_customer_id="));
        assert_eq!(verify(SECRET, &params_of(&url), NOW, MAX_AGE), Ok(h));
    }

    #[test]
    fn non_ascii_in_the_sign_up_url_is_escaped() {
        let url = handoff().append_to("https://exämple.com/anmälan?ü=1", SECRET);
        assert!(url.is_ascii());
        assert!(url.starts_with("https://ex%C3%A4mple.com/anm%C3%A4lan?%C3%BC=1&souk_"));
    }

    #[test]
    fn every_tampered_field_fails() {
        let h = handoff();
        let params = params_of(&h.append_to("https://app.example.com/", SECRET));
        for name in SIGNED_PARAMETERS {
            let mut tampered = params.clone();
            let slot = tampered.iter_mut().find(|(k, _)| k == name).unwrap();
            slot.1 = if name == "souk_timestamp" {
                (NOW - 1).to_string()
            } else {
                format!("{}x", slot.1)
            };
            assert_eq!(
                verify(SECRET, &tampered, NOW, MAX_AGE),
                Err(HandoffError::BadSignature),
                "{name}"
            );
        }
        let mut tampered = params.clone();
        tampered.last_mut().unwrap().1.replace_range(..1, "0");
        if tampered == params {
            tampered.last_mut().unwrap().1.replace_range(..1, "1");
        }
        assert_eq!(
            verify(SECRET, &tampered, NOW, MAX_AGE),
            Err(HandoffError::BadSignature)
        );
        let mut upper = params.clone();
        upper.last_mut().unwrap().1.make_ascii_uppercase();
        assert_eq!(
            verify(SECRET, &upper, NOW, MAX_AGE),
            Err(HandoffError::BadSignature),
            "the signature is lowercase hex"
        );
        assert_eq!(
            verify("souk_hs_other", &params, NOW, MAX_AGE),
            Err(HandoffError::BadSignature)
        );
    }

    #[test]
    fn missing_or_repeated_parameters_fail() {
        let params = params_of(&handoff().append_to("https://app.example.com/", SECRET));
        for name in SIGNED_PARAMETERS.into_iter().chain([SIGNATURE_PARAMETER]) {
            let without: Vec<_> = params.iter().filter(|(k, _)| k != name).cloned().collect();
            assert_eq!(
                verify(SECRET, &without, NOW, MAX_AGE),
                Err(HandoffError::Missing(name))
            );
            let mut twice = params.clone();
            twice.push((name.to_owned(), String::new()));
            assert_eq!(
                verify(SECRET, &twice, NOW, MAX_AGE),
                Err(HandoffError::Repeated(name))
            );
        }
    }

    #[test]
    fn old_and_future_hand_offs_fail() {
        let params = params_of(&handoff().append_to("https://app.example.com/", SECRET));
        assert!(verify(SECRET, &params, NOW + 300, MAX_AGE).is_ok());
        assert_eq!(
            verify(SECRET, &params, NOW + 301, MAX_AGE),
            Err(HandoffError::Expired)
        );
        assert!(verify(SECRET, &params, NOW - 300, MAX_AGE).is_ok());
        assert_eq!(
            verify(SECRET, &params, NOW - 301, MAX_AGE),
            Err(HandoffError::FromTheFuture)
        );
    }

    #[test]
    fn a_malformed_timestamp_fails_even_when_signed() {
        let mut h = handoff();
        h.timestamp = -5;
        let params = params_of(&h.append_to("https://app.example.com/", SECRET));
        assert_eq!(
            verify(SECRET, &params, NOW, MAX_AGE),
            Err(HandoffError::Malformed("souk_timestamp"))
        );
    }

    #[test]
    fn page_tokens_name_one_customer_of_one_integration_for_an_hour() {
        let integration = "int_0196f3a0c0de7000800000000000abcd";
        let customer = "cus_0196f3a0c0de7000800000000000beef";
        let token = page_token(SECRET, integration, customer, NOW);
        assert_eq!(
            open_page_token(SECRET, integration, &token, NOW + 3600),
            Ok(customer.to_owned())
        );
        assert_eq!(
            open_page_token(SECRET, integration, &token, NOW + 3601),
            Err(PageTokenError::Expired)
        );
        // Another integration, another secret, another customer or a later expiry: refused.
        let other = "int_0196f3a0c0de7000800000000000ffff";
        assert_eq!(
            open_page_token(SECRET, other, &token, NOW),
            Err(PageTokenError::Invalid)
        );
        assert_eq!(
            open_page_token("souk_hs_other", integration, &token, NOW),
            Err(PageTokenError::Invalid)
        );
        let swapped = token.replace(customer, "cus_0196f3a0c0de7000800000000000cafe");
        assert_eq!(
            open_page_token(SECRET, integration, &swapped, NOW),
            Err(PageTokenError::Invalid)
        );
        let expiry = (NOW + 3600).to_string();
        let extended = token.replace(&expiry, &(NOW + 7200).to_string());
        assert_eq!(
            open_page_token(SECRET, integration, &extended, NOW + 5000),
            Err(PageTokenError::Invalid)
        );
        for garbage in [
            "",
            "a.b",
            "a.b.c.d",
            &format!("{customer}.x.{}", "0".repeat(64)),
        ] {
            assert_eq!(
                open_page_token(SECRET, integration, garbage, NOW),
                Err(PageTokenError::Invalid),
                "{garbage}"
            );
        }
    }

    #[test]
    fn a_hand_off_signature_is_no_page_token() {
        let h = handoff();
        let integration = "int_0196f3a0c0de7000800000000000abcd";
        let forged = format!("{}.{}.{}", h.customer_id, NOW + 60, h.signature(SECRET));
        assert_eq!(
            open_page_token(SECRET, integration, &forged, NOW),
            Err(PageTokenError::Invalid)
        );
    }

    #[test]
    fn query_pairs_decode_like_a_form() {
        assert_eq!(
            query_pairs("a=1+2&b=%41%zz&&c&d=%E2%9C%93"),
            [
                ("a".to_owned(), "1 2".to_owned()),
                ("b".to_owned(), "A%zz".to_owned()),
                ("c".to_owned(), String::new()),
                ("d".to_owned(), "✓".to_owned()),
            ]
        );
    }
}
