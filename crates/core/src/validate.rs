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

/// An IAM role ARN: `arn:<partition>:iam::<12 digits>:role/<path/name>`. Returns the account id.
pub fn role_arn(raw: &str) -> Result<&str, String> {
    const REASON: &str = "must be an IAM role ARN like arn:aws:iam::123456789012:role/SoukRole";
    match iam_arn(raw) {
        Some(arn)
            if arn
                .resource
                .strip_prefix("role/")
                .is_some_and(iam_path_name) =>
        {
            Ok(arn.account)
        }
        _ => Err(REASON.into()),
    }
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
