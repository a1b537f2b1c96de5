//! Checks on AWS-shaped input that several services share. Each returns a reason suitable for a
//! field violation.

/// AWS regions where Souk may run a seller integration (commercial partition plus GovCloud and
/// China); extend this list when AWS opens a region.
pub const KNOWN_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "mx-central-1",
    "sa-east-1",
    "us-gov-east-1",
    "us-gov-west-1",
    "cn-north-1",
    "cn-northwest-1",
];

/// A 12-digit AWS account id.
pub fn aws_account_id(raw: &str) -> Result<(), String> {
    if raw.len() == 12 && raw.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err("must be a 12-digit AWS account id".into())
    }
}

/// A known AWS region name.
pub fn region(raw: &str) -> Result<(), String> {
    if raw.is_empty() {
        return Err("must not be empty".into());
    }
    if KNOWN_REGIONS.contains(&raw) {
        Ok(())
    } else {
        Err(format!("unknown AWS region \"{raw}\""))
    }
}

/// The parts of an IAM ARN `arn:<aws|aws-cn|aws-us-gov>:iam::<12-digit account>:<resource>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IamArn<'a> {
    /// The 12-digit account id.
    pub account: &'a str,
    /// What follows the account: `root`, `role/<path/name>`, `user/<path/name>`, ...
    pub resource: &'a str,
}

/// Splits an IAM ARN in a known partition with a valid account id; `None` otherwise.
pub fn iam_arn(raw: &str) -> Option<IamArn<'_>> {
    let mut parts = raw.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let known = matches!(partition, "aws" | "aws-cn" | "aws-us-gov");
    (known && aws_account_id(account).is_ok()).then_some(IamArn { account, resource })
}

/// An IAM role or user name with its optional path (`path/to/Name`): IAM's characters, no
/// trailing slash, at most 512 characters.
pub fn iam_path_name(name: &str) -> bool {
    let valid = |b: u8| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b);
    !name.is_empty() && name.len() <= 512 && name.bytes().all(valid) && !name.ends_with('/')
}

/// Longest IAM role name (the part after the last `/`), as IAM enforces it.
pub const MAX_IAM_ROLE_NAME_LEN: usize = 64;

/// An IAM role ARN: `arn:<partition>:iam::<12 digits>:role/<path/name>` whose name is at most
/// [`MAX_IAM_ROLE_NAME_LEN`] characters. Returns the account id.
pub fn role_arn(raw: &str) -> Result<&str, String> {
    const REASON: &str = "must be an IAM role ARN like arn:aws:iam::123456789012:role/SoukRole";
    let arn = iam_arn(raw).ok_or(REASON)?;
    let path_name = arn
        .resource
        .strip_prefix("role/")
        .filter(|p| iam_path_name(p))
        .ok_or(REASON)?;
    let name = path_name.rsplit('/').next().unwrap_or(path_name);
    if name.is_empty() || name.len() > MAX_IAM_ROLE_NAME_LEN {
        return Err(format!(
            "the role name (after the last '/') must be 1 to {MAX_IAM_ROLE_NAME_LEN} characters"
        ));
    }
    Ok(arn.account)
}

/// The AWS partition of a region: `aws-cn` for `cn-*`, `aws-us-gov` for `us-gov-*`, else `aws`.
pub fn partition_of_region(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The partition named in an ARN (`arn:<partition>:…`), if it has one.
pub fn partition_of_arn(raw: &str) -> Option<&str> {
    let mut parts = raw.splitn(3, ':');
    match (parts.next(), parts.next()) {
        (Some("arn"), Some(partition)) => Some(partition),
        _ => None,
    }
}

/// A role ARN usable from `region`: STS in one partition cannot assume a role of another, so an
/// `arn:aws-cn` role needs a `cn-*` region and an `arn:aws-us-gov` role a `us-gov-*` one.
pub fn role_arn_in_region(role_arn: &str, region: &str) -> Result<(), String> {
    let expected = partition_of_region(region);
    match partition_of_arn(role_arn) {
        Some(partition) if partition != expected => Err(format!(
            "is in partition {partition} but region {region} is in partition {expected}"
        )),
        _ => Ok(()),
    }
}

/// Characters that change how text around them is displayed without being visible: the Unicode
/// bidirectional controls (U+202E turns `txt.exe` into `exe.txt` on screen) and zero-width
/// marks. A name containing one can impersonate another name in a listing.
pub fn is_deceptive_char(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{200B}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// A string no longer than `max` characters.
pub fn max_len(raw: &str, max: usize) -> Result<(), String> {
    if raw.chars().count() > max {
        Err(format!("must be at most {max} characters"))
    } else {
        Ok(())
    }
}

/// A non-empty string no longer than `max` characters.
pub fn required(raw: &str, max: usize) -> Result<(), String> {
    if raw.trim().is_empty() {
        Err("must not be empty".into())
    } else {
        max_len(raw, max)
    }
}

/// The region of an AWS SQS queue URL (`https://sqs.<region>.amazonaws.com/...` or the legacy
/// `https://<region>.queue.amazonaws.com/...`), if it is one.
pub fn queue_region(queue_url: &str) -> Option<&str> {
    let rest = queue_url.strip_prefix("https://")?;
    let host = rest.split('/').next()?;
    let mut labels = host.split('.');
    match (labels.next(), labels.next()) {
        (Some("sqs"), Some(region)) if region.contains('-') => Some(region),
        (Some(region), Some("queue")) if region.contains('-') => Some(region),
        _ => None,
    }
}

/// Longest idempotency key accepted.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 128;

/// An idempotency key: empty (no idempotency) or 1 to 128 printable ASCII characters.
pub fn idempotency_key(raw: &str) -> Result<(), String> {
    if raw.len() > MAX_IDEMPOTENCY_KEY_LEN {
        return Err(format!(
            "must be at most {MAX_IDEMPOTENCY_KEY_LEN} characters"
        ));
    }
    if !raw.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err("must contain only printable ASCII characters without spaces".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns() {
        assert_eq!(
            role_arn("arn:aws:iam::123456789012:role/SoukRole"),
            Ok("123456789012")
        );
        assert!(role_arn("arn:aws:iam::123456789012:role/path/to/Role").is_ok());
        assert!(role_arn("arn:aws:iam::12345678901:role/SoukRole").is_err());
        assert!(role_arn("arn:aws:s3:::bucket").is_err());
        assert!(role_arn("arn:aws:iam::123456789012:user/bob").is_err());
        assert!(role_arn("").is_err());
        let name_64 = "r".repeat(64);
        assert!(role_arn(&format!("arn:aws:iam::123456789012:role/{name_64}")).is_ok());
        assert!(role_arn(&format!("arn:aws:iam::123456789012:role/path/{name_64}")).is_ok());
        assert_eq!(
            role_arn(&format!("arn:aws:iam::123456789012:role/{name_64}x")),
            Err("the role name (after the last '/') must be 1 to 64 characters".into())
        );
    }

    #[test]
    fn partitions_match_regions() {
        let cn = "arn:aws-cn:iam::123456789012:role/Souk";
        let gov = "arn:aws-us-gov:iam::123456789012:role/Souk";
        let commercial = "arn:aws:iam::123456789012:role/Souk";
        assert!(role_arn_in_region(cn, "cn-north-1").is_ok());
        assert!(role_arn_in_region(gov, "us-gov-west-1").is_ok());
        assert!(role_arn_in_region(commercial, "eu-west-1").is_ok());
        assert_eq!(
            role_arn_in_region(cn, "us-east-1"),
            Err("is in partition aws-cn but region us-east-1 is in partition aws".into())
        );
        assert!(role_arn_in_region(gov, "us-east-1").is_err());
        assert!(role_arn_in_region(commercial, "cn-north-1").is_err());
        assert!(role_arn_in_region("", "us-east-1").is_ok());
    }

    #[test]
    fn deceptive_characters() {
        assert!(is_deceptive_char('\u{202E}'));
        assert!(is_deceptive_char('\u{2067}'));
        assert!(is_deceptive_char('\u{200B}'));
        assert!(!is_deceptive_char('a'));
        assert!(!is_deceptive_char('é'));
        // The zero-width (non-)joiners shape emoji sequences and Persian script: allowed.
        assert!(!is_deceptive_char('\u{200D}'));
        assert!(!is_deceptive_char('\u{200C}'));
    }

    #[test]
    fn regions_and_lengths() {
        assert!(region("us-east-1").is_ok());
        assert_eq!(
            region("mars-1"),
            Err("unknown AWS region \"mars-1\"".into())
        );
        assert!(required("  ", 10).is_err());
        assert!(max_len("abc", 2).is_err());
    }
}
