//! Verifying an integration: the rules that turn AWS answers into permission checks (the AWS
//! adapter implements the [`Verifier`](super::ports::Verifier) port with them).

use super::model::{CheckStatus, Integration, PermissionCheck, VerificationReport};

/// What one probe found, before it becomes a [`PermissionCheck`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// The call was accepted or refused for a reason other than permissions.
    Allowed,
    /// IAM denied the call; AWS's code and message.
    Denied(String),
    /// AWS could not be reached; what happened.
    Unreachable(String),
}

/// The permission check for `action` of `api` given `outcome`, with the remedy a seller needs.
pub fn check(action: &str, api: &str, outcome: ProbeOutcome) -> PermissionCheck {
    let (status, detail, remedy) = match outcome {
        ProbeOutcome::Allowed => (CheckStatus::Ok, String::new(), String::new()),
        ProbeOutcome::Denied(detail) => (
            CheckStatus::Denied,
            detail,
            format!(
                "add {action} to the role's policy: re-deploy the onboarding template (GetOnboardingTemplate), \
                 or add the action to the role in IAM, then run VerifyIntegration again"
            ),
        ),
        ProbeOutcome::Unreachable(detail) => (
            CheckStatus::Unreachable,
            detail,
            format!(
                "{api} could not be reached; check network access to AWS (proxy, VPC endpoints) and the \
                 integration's region, then run VerifyIntegration again"
            ),
        ),
    };
    PermissionCheck {
        action: action.to_owned(),
        api: api.to_owned(),
        status,
        detail,
        remedy,
    }
}

/// The remedy when the role could not be assumed.
pub fn assume_role_remedy(integration: &Integration) -> String {
    format!(
        "check that role {} exists and that its trust policy allows Souk's principal with \
         sts:ExternalId \"{}\" (deploy the onboarding template from GetOnboardingTemplate)",
        integration.role_arn, integration.external_id
    )
}

/// A report for a role that could not be assumed.
pub fn role_not_assumed(verified_at: time::OffsetDateTime, error: String) -> VerificationReport {
    VerificationReport {
        verified_at,
        role_assumed: false,
        role_error: error,
        checks: Vec::new(),
    }
}
