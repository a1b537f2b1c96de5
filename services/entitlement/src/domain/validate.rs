//! Input rules of the entitlement service; every bad field is reported, nothing is changed.

use souk_core::error::Violations;
use souk_core::validate::{max_len, required};

use super::error::Error;
use super::fulfilment::SettingsPatch;
use super::model::Signup;
use super::plan::{Grant, PlanFeature};
use super::plans::{NewPlan, PlanPatch};

/// Most features one plan may grant.
pub const MAX_PLAN_FEATURES: usize = 200;
/// Most dimensions one plan may name.
pub const MAX_PLAN_DIMENSIONS: usize = 50;

fn finish(v: Violations) -> Result<(), Error> {
    v.finish().map_err(Error::from)
}

/// A registration token as the browser posted it.
pub fn registration_token(token: &str) -> Result<(), Error> {
    let mut v = Violations::new();
    if token.is_empty() {
        v.add("registration_token", "is required");
    } else if token.len() > 4096 || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        v.add(
            "registration_token",
            "must be at most 4096 characters without spaces",
        );
    }
    finish(v)
}

/// What the hosted sign-up page collects.
pub fn signup(signup: &Signup) -> Result<(), Error> {
    let mut v = Violations::new();
    v.check("company", required(signup.company.trim(), 200));
    v.check("contact_name", required(signup.contact_name.trim(), 200));
    v.check("email", email(&signup.email));
    finish(v)
}

fn email(raw: &str) -> Result<(), String> {
    required(raw, 254)?;
    let (local, domain) = raw
        .split_once('@')
        .ok_or_else(|| "must be an e-mail address".to_owned())?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !raw.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err("must be an e-mail address".into())
    }
}

/// A change of fulfilment settings.
pub fn settings_patch(patch: &SettingsPatch) -> Result<(), Error> {
    let mut v = Violations::new();
    if let Some(Some(url)) = &patch.signup_url {
        v.check("signup_url", signup_url(url));
    }
    if let Some(topics) = &patch.sns_topic_arns {
        if topics.len() > 20 {
            v.add("sns_topic_arns", "at most 20 topics");
        }
        for (i, topic) in topics.iter().enumerate() {
            v.check(&format!("sns_topic_arns[{i}]"), sns_topic_arn(topic));
        }
    }
    if let Some(days) = &patch.expiry_notice_days {
        if days.len() > 10 {
            v.add("expiry_notice_days", "at most 10 thresholds");
        }
        for (i, d) in days.iter().enumerate() {
            if !(1..=365).contains(d) {
                v.add(format!("expiry_notice_days[{i}]"), "must be 1 to 365 days");
            }
        }
        let mut sorted = days.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != days.len() {
            v.add("expiry_notice_days", "must not repeat a threshold");
        }
    }
    finish(v)
}

/// Where buyers are sent: https, or http on a loopback host (local development), without
/// credentials in the URL.
pub fn signup_url(raw: &str) -> Result<(), String> {
    required(raw, 2048)?;
    let rest = if let Some(rest) = raw.strip_prefix("https://") {
        rest
    } else if let Some(rest) = raw.strip_prefix("http://") {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
        if !matches!(host, "localhost" | "127.0.0.1" | "[::1]") {
            return Err("must be an https:// URL (http:// only for localhost)".into());
        }
        rest
    } else {
        return Err("must be an https:// URL (http:// only for localhost)".into());
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err("must name a host, without user name or password".into());
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces".into());
    }
    Ok(())
}

/// `arn:aws:sns:<region>:<account>:<topic>`.
pub fn sns_topic_arn(raw: &str) -> Result<(), String> {
    let parts: Vec<&str> = raw.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "sns"
        && souk_core::validate::region(parts[3]).is_ok()
        && souk_core::validate::aws_account_id(parts[4]).is_ok()
        && !parts[5].is_empty()
        && parts[5].len() <= 256
        && parts[5]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err("must be an SNS topic ARN, arn:aws:sns:<region>:<account>:<name>".into())
    }
}

/// The seller's own customer id: printable ASCII that cannot be mistaken for a Souk id or an
/// AWS account id (checks accept all three).
pub fn external_id(raw: &str) -> Result<(), String> {
    required(raw, 128)?;
    if !raw.chars().all(|c| c.is_ascii_graphic()) {
        return Err("must be printable ASCII without spaces".into());
    }
    if raw.starts_with("cus_") {
        return Err("must not start with \"cus_\" (Souk's own customer ids)".into());
    }
    if raw.len() == 12 && raw.chars().all(|c| c.is_ascii_digit()) {
        return Err("must not be 12 digits (an AWS account id)".into());
    }
    Ok(())
}

/// Whether `key` may be a plan key: 1 to 64 of `[a-z0-9_-]`.
pub fn is_plan_key(key: &str) -> bool {
    (1..=64).contains(&key.len())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn is_dimension(key: &str) -> bool {
    (1..=100).contains(&key.len())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// A feature name: 1 to 128 of letters, digits, `_`, `-`, `.`, `:`.
pub fn feature_name(field: &str, name: &str) -> Result<(), Error> {
    let mut v = Violations::new();
    check_feature_name(&mut v, field, name);
    finish(v)
}

fn check_feature_name(v: &mut Violations, field: &str, name: &str) {
    let ok = (1..=128).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c));
    if !ok {
        v.add(
            field,
            "must be 1 to 128 letters, digits, '_', '-', '.' or ':'",
        );
    }
}

fn check_feature(v: &mut Violations, field: &str, feature: &PlanFeature) {
    check_feature_name(v, &format!("{field}.feature"), &feature.feature);
    match &feature.grant {
        Grant::Limit(n) if *n < 0 => v.add(format!("{field}.limit"), "must be 0 or more"),
        Grant::DimensionQuantity(d) if !is_dimension(d) => v.add(
            format!("{field}.dimension"),
            "must be an AWS dimension key (1 to 100 letters, digits, '_', '.', '-')",
        ),
        _ => {}
    }
}

/// One feature of a plan.
pub fn plan_feature(field: &str, feature: &PlanFeature) -> Result<(), Error> {
    let mut v = Violations::new();
    check_feature(&mut v, field, feature);
    finish(v)
}

fn check_dimensions(v: &mut Violations, dimensions: &[String]) {
    if dimensions.len() > MAX_PLAN_DIMENSIONS {
        v.add("dimensions", format!("at most {MAX_PLAN_DIMENSIONS}"));
    }
    for (i, d) in dimensions.iter().enumerate() {
        if !is_dimension(d) {
            v.add(
                format!("dimensions[{i}]"),
                "must be an AWS dimension key (1 to 100 letters, digits, '_', '.', '-')",
            );
        }
    }
}

fn check_features(v: &mut Violations, features: &[PlanFeature]) {
    if features.len() > MAX_PLAN_FEATURES {
        v.add("features", format!("at most {MAX_PLAN_FEATURES}"));
    }
    for (i, f) in features.iter().enumerate() {
        check_feature(v, &format!("features[{i}]"), f);
        if features[..i].iter().any(|other| other.feature == f.feature) {
            v.add(
                format!("features[{i}].feature"),
                format!("{:?} appears twice", f.feature),
            );
        }
    }
}

/// A plan to create.
pub fn new_plan(plan: &NewPlan) -> Result<(), Error> {
    let mut v = Violations::new();
    v.check("product_code", required(&plan.product_code, 255));
    if !is_plan_key(&plan.key) {
        v.add(
            "key",
            "must be 1 to 64 lowercase letters, digits, '_' or '-'",
        );
    }
    if let Some(name) = &plan.name {
        v.check("name", required(name, 200));
    }
    check_dimensions(&mut v, &plan.dimensions);
    check_features(&mut v, &plan.features);
    finish(v)
}

/// A change to a plan.
pub fn plan_patch(patch: &PlanPatch) -> Result<(), Error> {
    let mut v = Violations::new();
    if let Some(name) = &patch.name {
        v.check("name", max_len(name, 200));
    }
    if let Some(dimensions) = &patch.dimensions {
        check_dimensions(&mut v, dimensions);
    }
    if let Some(features) = &patch.features {
        check_features(&mut v, features);
    }
    if patch.expected_version.is_some_and(|n| n < 1) {
        v.add("expected_version", "must be 1 or more");
    }
    finish(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signup_urls() {
        assert!(signup_url("https://app.example.com/aws/welcome?x=1").is_ok());
        assert!(signup_url("http://localhost:3000/welcome").is_ok());
        assert!(signup_url("http://127.0.0.1/welcome").is_ok());
        for bad in [
            "",
            "ftp://example.com",
            "http://example.com/x",
            "https://user:pw@example.com/",
            "https:///path",
            "https://exa mple.com",
        ] {
            assert!(signup_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn external_ids_cannot_pass_for_other_customer_keys() {
        assert!(external_id("acct-42").is_ok());
        assert!(external_id("cus_123").is_err());
        assert!(external_id("111122223333").is_err());
        assert!(external_id("has space").is_err());
    }

    #[test]
    fn topic_arns() {
        assert!(
            sns_topic_arn(
                "arn:aws:sns:us-east-1:287250355862:aws-mp-subscription-notification-abc"
            )
            .is_ok()
        );
        assert!(sns_topic_arn("arn:aws:sqs:us-east-1:287250355862:x").is_err());
        assert!(sns_topic_arn("arn:aws:sns:mars-1:287250355862:x").is_err());
    }
}
