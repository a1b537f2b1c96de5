//! Input rules of the integration service. Each check returns a reason for a field violation.

/// Longest display name (organisations, integrations, API keys).
pub const MAX_NAME_LEN: usize = 200;
/// Longest role ARN STS accepts.
pub const MAX_ROLE_ARN_LEN: usize = 2048;
/// Most products per integration.
pub const MAX_PRODUCTS: usize = 100;
/// Most SQS queues per integration.
pub const MAX_QUEUES: usize = 10;
pub use souk_core::validate::MAX_IDEMPOTENCY_KEY_LEN;

/// A display name: 1 to 200 characters, not blank, no control characters, no bidirectional or
/// zero-width controls (they let one name pose as another), no leading or trailing whitespace
/// (rejected rather than trimmed, so the stored name is exactly the one sent).
pub fn name(raw: &str) -> Result<(), String> {
    souk_core::validate::required(raw, MAX_NAME_LEN)?;
    if raw.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    if raw.chars().any(souk_core::validate::is_deceptive_char) {
        return Err(
            "must not contain bidirectional or zero-width control characters (U+202A-U+202E, U+2066-U+2069, ...)"
                .into(),
        );
    }
    if raw.trim() != raw {
        return Err("must not start or end with whitespace".into());
    }
    Ok(())
}

/// A role ARN, or empty when `allow_empty`. Returns nothing; the account id is derived later.
pub fn role_arn(raw: &str, allow_empty: bool) -> Result<(), String> {
    if raw.is_empty() {
        return if allow_empty {
            Ok(())
        } else {
            Err("must not be empty".into())
        };
    }
    if raw.len() > MAX_ROLE_ARN_LEN {
        return Err(format!("must be at most {MAX_ROLE_ARN_LEN} characters"));
    }
    souk_core::validate::role_arn(raw).map(|_| ())
}

/// A role ARN (or empty) whose partition matches the region's: an `arn:aws-cn` role with
/// `us-east-1` could never be assumed. Checked on create and on the merged result of an update.
pub fn role_arn_in_region(role_arn: &str, region: &str) -> Result<(), String> {
    souk_core::validate::role_arn_in_region(role_arn, region)
}

/// A Marketplace product code: 1 to 255 characters of `[-a-zA-Z0-9/=:_.@]`.
pub fn product_code(raw: &str) -> Result<(), String> {
    if raw.is_empty() {
        return Err("must not be empty".into());
    }
    if raw.len() > 255 {
        return Err("must be at most 255 characters".into());
    }
    if !raw
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-/=:_.@".contains(&b))
    {
        return Err("must contain only letters, digits and -/=:_.@".into());
    }
    Ok(())
}

/// A Catalog product id: `prod-` followed by 1 to 250 letters and digits.
pub fn product_id(raw: &str) -> Result<(), String> {
    let ok = raw.strip_prefix("prod-").is_some_and(|rest| {
        !rest.is_empty() && rest.len() <= 250 && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    if ok {
        Ok(())
    } else {
        Err("must be a catalog product id like prod-abc123".into())
    }
}

/// An AWS SQS queue URL: `https://sqs.<region>.amazonaws.com/<account>/<queue>` (or the legacy
/// `https://<region>.queue.amazonaws.com/...`), with a known region, a 12-digit account and a
/// queue name of 1 to 80 letters, digits, `-` and `_` (optionally ending in `.fifo`).
pub fn sqs_queue_url(raw: &str) -> Result<(), String> {
    const REASON: &str = "must be an SQS queue URL like https://sqs.us-east-1.amazonaws.com/123456789012/souk-notifications";
    let Some(rest) = raw.strip_prefix("https://") else {
        return Err(REASON.into());
    };
    let mut parts = rest.split('/');
    let (Some(host), Some(account), Some(queue), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(REASON.into());
    };
    let region = match (
        host.strip_prefix("sqs."),
        host.strip_suffix(".queue.amazonaws.com"),
    ) {
        (Some(h), _) => h
            .strip_suffix(".amazonaws.com")
            .or_else(|| h.strip_suffix(".amazonaws.com.cn"))
            .unwrap_or(""),
        (None, Some(region)) => region,
        _ => "",
    };
    if souk_core::validate::region(region).is_err()
        || souk_core::validate::aws_account_id(account).is_err()
    {
        return Err(REASON.into());
    }
    let name = queue.strip_suffix(".fifo").unwrap_or(queue);
    if queue.is_empty()
        || queue.len() > 80
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        || name.is_empty()
    {
        return Err(REASON.into());
    }
    Ok(())
}

/// The ARN of an AWS SQS queue URL already checked by [`sqs_queue_url`].
pub fn queue_arn(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://")?;
    let mut parts = rest.split('/');
    let (host, account, queue) = (parts.next()?, parts.next()?, parts.next()?);
    let region = souk_core::validate::queue_region(url)?;
    let partition = if host.ends_with(".amazonaws.com.cn") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    };
    Some(format!("arn:{partition}:sqs:{region}:{account}:{queue}"))
}

/// An S3 bucket name (general purpose bucket rules): 3 to 63 lowercase letters, digits, dots
/// and hyphens, starting and ending with a letter or digit, no `..`, not an IP address, none of
/// the reserved prefixes and suffixes.
pub fn bucket_name(raw: &str) -> Result<(), String> {
    if raw.len() < 3 || raw.len() > 63 {
        return Err("must be 3 to 63 characters".into());
    }
    if !raw
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Err("must contain only lowercase letters, digits, '.' and '-'".into());
    }
    let edge_ok = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !edge_ok(raw.bytes().next()) || !edge_ok(raw.bytes().last()) {
        return Err("must start and end with a letter or digit".into());
    }
    if raw.contains("..") || raw.contains(".-") || raw.contains("-.") {
        return Err("must not contain '..', '.-' or '-.'".into());
    }
    if raw.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err("must not be an IP address".into());
    }
    if ["xn--", "sthree-", "amzn-s3-demo-"]
        .iter()
        .any(|p| raw.starts_with(p))
        || ["-s3alias", "--ol-s3", "--x-s3", "--table-s3"]
            .iter()
            .any(|s| raw.ends_with(s))
    {
        return Err("uses a prefix or suffix reserved by S3".into());
    }
    Ok(())
}

pub use souk_core::validate::idempotency_key;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_urls() {
        assert!(sqs_queue_url("https://sqs.us-east-1.amazonaws.com/123456789012/souk").is_ok());
        assert!(
            sqs_queue_url("https://eu-west-1.queue.amazonaws.com/123456789012/a_b-c.fifo").is_ok()
        );
        assert!(sqs_queue_url("http://sqs.us-east-1.amazonaws.com/123456789012/souk").is_err());
        assert!(sqs_queue_url("https://sqs.mars-1.amazonaws.com/123456789012/souk").is_err());
        assert!(sqs_queue_url("https://sqs.us-east-1.amazonaws.com/1234/souk").is_err());
        assert!(sqs_queue_url("https://sqs.us-east-1.amazonaws.com/123456789012/").is_err());
        assert!(sqs_queue_url("https://sqs.us-east-1.amazonaws.com/123456789012/a/b").is_err());
        assert_eq!(
            queue_arn("https://sqs.us-east-1.amazonaws.com/123456789012/souk").as_deref(),
            Some("arn:aws:sqs:us-east-1:123456789012:souk")
        );
    }

    #[test]
    fn buckets() {
        assert!(bucket_name("souk-data-feeds.acme").is_ok());
        for bad in [
            "ab",
            "Upper",
            "-start",
            "end-",
            "a..b",
            "192.168.1.1",
            "xn--abc",
            "a_b",
            &"a".repeat(64),
        ] {
            assert!(bucket_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn products_and_keys() {
        assert!(product_code("6n6gb6nrmo2x7y6hr1q6yfu3h").is_ok());
        assert!(product_code("bad code").is_err());
        assert!(product_id("prod-abc123").is_ok());
        assert!(product_id("abc").is_err());
        assert!(idempotency_key("").is_ok());
        assert!(idempotency_key("req-1").is_ok());
        assert!(idempotency_key("with space").is_err());
        assert!(idempotency_key(&"k".repeat(129)).is_err());
        assert!(name("ok").is_ok());
        assert!(name(" ").is_err());
        assert!(name(&"n".repeat(201)).is_err());
        assert!(name(" leading").is_err());
        assert!(name("trailing ").is_err());
        assert!(name("inner space").is_ok());
        assert!(name("invoice\u{202E}fdp.exe").is_err());
        assert!(name("caf\u{e9} \u{1F469}\u{200D}\u{1F4BB}").is_ok());
        assert!(role_arn_in_region("arn:aws-cn:iam::123456789012:role/R", "us-east-1").is_err());
    }
}
