//! STS (awsQuery): `AssumeRole` with trust and ExternalId checks, `GetCallerIdentity`, and the
//! registry of roles, sessions and known access keys that also drives per-role action denials.
//!
//! Callers are identified by the access key id of their SigV4
//! `Authorization` header: a session issued here (its role), an access key registered through
//! the control API (its account and ARN), or otherwise the default principal
//! `arn:aws:iam::<caller_account_id>:user/souk-emulator`.

pub mod model;

use axum::response::Response;
use http::StatusCode;

pub use model::{Caller, Principal, Role, Session, StsState, arn_account};
use model::{random_secret, random_upper, role_name};

use crate::Emulator;
use crate::wire::query::{escape, form_value, ok_response};
use crate::wire::{ApiError, Protocol};

/// The XML namespace of STS responses.
pub const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// Handles an STS awsQuery call (`Action=AssumeRole|GetCallerIdentity`).
pub fn handle(
    emulator: &Emulator,
    action: &str,
    form: &[(String, String)],
    access_key_id: Option<&str>,
    region: Option<&str>,
) -> Response {
    if let Some(region) = region
        && emulator.world().faults.disabled_regions.contains(region)
    {
        return ApiError::with_status(
            StatusCode::FORBIDDEN,
            "RegionDisabledException",
            format!(
                "STS is not activated in region {region}. An administrator can activate STS in this region using the IAM Console."
            ),
        )
        .into_response(Protocol::AwsQuery);
    }
    let result = match action {
        "AssumeRole" => assume_role(emulator, form, access_key_id),
        "GetCallerIdentity" => Ok(get_caller_identity(emulator, access_key_id)),
        other => Err(ApiError::client(
            "InvalidAction",
            format!("Could not find operation {other} for version 2011-06-15"),
        )),
    };
    result.unwrap_or_else(|err| err.into_response(Protocol::AwsQuery))
}

fn validation(message: String) -> ApiError {
    ApiError::client(
        "ValidationError",
        format!("1 validation error detected: {message}"),
    )
}

fn assume_role(
    emulator: &Emulator,
    form: &[(String, String)],
    access_key_id: Option<&str>,
) -> Result<Response, ApiError> {
    let role_arn = form_value(form, "RoleArn").unwrap_or_default();
    if role_arn.len() < 20 || role_arn.len() > 2048 {
        return Err(validation(format!(
            "Value '{role_arn}' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20"
        )));
    }
    let session_name = form_value(form, "RoleSessionName").unwrap_or_default();
    let name_ok = (2..=64).contains(&session_name.len())
        && session_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if !name_ok {
        return Err(validation(format!(
            "Value '{session_name}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        )));
    }
    let external_id = form_value(form, "ExternalId");
    if let Some(id) = external_id
        && !(2..=1224).contains(&id.len())
    {
        return Err(validation(format!(
            "Value '{id}' at 'externalId' failed to satisfy constraint: Member must have length greater than or equal to 2"
        )));
    }
    if let Some(policy) = form_value(form, "Policy") {
        if serde_json::from_str::<serde_json::Value>(policy).map_or(true, |p| !p.is_object()) {
            return Err(ApiError::client(
                "MalformedPolicyDocument",
                "The policy is not in the valid JSON format.",
            ));
        }
        if policy.len() > 2048 {
            return Err(ApiError::client(
                "PackedPolicyTooLarge",
                "Packed policy consumes more than 100% of the allotted space.",
            ));
        }
    }
    let requested = match form_value(form, "DurationSeconds") {
        None => None,
        Some(raw) => match raw.parse::<i64>() {
            Ok(v) if (900..=43200).contains(&v) => Some(v),
            Ok(v) if v < 900 => {
                return Err(validation(format!(
                    "Value '{v}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"
                )));
            }
            Ok(v) => {
                return Err(validation(format!(
                    "Value '{v}' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200"
                )));
            }
            Err(_) => {
                return Err(ApiError::client(
                    "MalformedInput",
                    format!("DurationSeconds '{raw}' is not a number"),
                ));
            }
        },
    };

    let now = emulator.clock().now_at();
    let config = emulator.config();
    let mut world = emulator.world();
    let caller = world
        .sts
        .caller(access_key_id, &config.caller_account_id, now);
    let denied = || {
        ApiError::with_status(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                caller.arn
            ),
        )
    };
    let role = world.sts.roles.get(role_arn).cloned().ok_or_else(denied)?;
    if !role
        .trusted_accounts
        .iter()
        .any(|a| a == &caller.account_id || a == "*")
    {
        return Err(denied());
    }
    if let Some(required) = &role.external_id
        && external_id != Some(required.as_str())
    {
        return Err(denied());
    }
    let duration = match requested {
        Some(d) if caller.role_arn.is_some() && d > 3600 => {
            return Err(ApiError::client(
                "ValidationError",
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
            ));
        }
        Some(d) if d > i64::from(role.max_session_duration) => {
            return Err(ApiError::client(
                "ValidationError",
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
            ));
        }
        Some(d) => d,
        None => i64::try_from(config.sts_default_duration.as_secs())
            .unwrap_or(3600)
            .max(1),
    };
    world
        .sts
        .sessions
        .retain(|_, s| s.expiration + time::Duration::HOUR > now);
    let access_key = format!("ASIA{}", random_upper(16));
    let session = Session {
        role_arn: role_arn.to_owned(),
        session_name: session_name.to_owned(),
        secret_access_key: random_secret(40),
        session_token: format!("FwoGZXIvYXdzE{}", random_secret(120)),
        // Whole seconds, as `Expiration` shows them.
        expiration: now.floor_seconds() + time::Duration::seconds(duration),
    };
    world
        .sts
        .sessions
        .insert(access_key.clone(), session.clone());
    drop(world);

    let account = arn_account(role_arn).unwrap_or(&config.seller_account_id);
    let name = role_name(role_arn);
    let result = format!(
        "    <Credentials>\n      <AccessKeyId>{access_key}</AccessKeyId>\n      <SecretAccessKey>{}</SecretAccessKey>\n      \
         <SessionToken>{}</SessionToken>\n      <Expiration>{}</Expiration>\n    </Credentials>\n    <AssumedRoleUser>\n      \
         <AssumedRoleId>{}:{}</AssumedRoleId>\n      <Arn>arn:aws:sts::{}:assumed-role/{}/{}</Arn>\n    </AssumedRoleUser>\n",
        escape(&session.secret_access_key),
        escape(&session.session_token),
        session.expiration.rfc3339(),
        role.role_id,
        escape(session_name),
        escape(account),
        escape(name),
        escape(session_name),
    );
    Ok(ok_response("AssumeRole", NAMESPACE, &result))
}

fn get_caller_identity(emulator: &Emulator, access_key_id: Option<&str>) -> Response {
    let now = emulator.clock().now_at();
    let caller =
        emulator
            .world()
            .sts
            .caller(access_key_id, &emulator.config().caller_account_id, now);
    let result = format!(
        "    <Arn>{}</Arn>\n    <UserId>{}</UserId>\n    <Account>{}</Account>\n",
        escape(&caller.arn),
        escape(&caller.user_id),
        escape(&caller.account_id)
    );
    ok_response("GetCallerIdentity", NAMESPACE, &result)
}
