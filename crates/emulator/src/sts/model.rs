//! STS roles, sessions and registered access keys, and the rules that identify a caller
//! (data and pure functions; `World.sts`).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::at::At;

/// A role that can be assumed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// `arn:aws:iam::<account>:role/<name>`.
    pub role_arn: String,
    /// `AROA...` unique id.
    pub role_id: String,
    /// Accounts the trust policy allows (`sts:AssumeRole` principal).
    pub trusted_accounts: Vec<String>,
    /// The `sts:ExternalId` the trust policy requires, if any.
    pub external_id: Option<String>,
    /// `MaxSessionDuration` of the role (3600..=43200 seconds).
    pub max_session_duration: u32,
    /// IAM actions (`aws-marketplace:BatchMeterUsage`, `aws-marketplace:*`, `*`) the role's
    /// policy does not allow.
    pub denied_actions: BTreeSet<String>,
}

/// Credentials issued by AssumeRole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The role assumed.
    pub role_arn: String,
    /// `RoleSessionName`.
    pub session_name: String,
    /// Secret key.
    pub secret_access_key: String,
    /// Session token.
    pub session_token: String,
    /// When the credentials expire (whole seconds, as the state file and `Expiration` show).
    #[serde(with = "crate::at::seconds")]
    pub expiration: At,
}

/// An identity behind a registered long-term access key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// Account id.
    pub account_id: String,
    /// The principal ARN (`arn:aws:iam::<account>:user/<name>`).
    pub arn: String,
}

/// State of the STS emulation.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct StsState {
    /// Roles by ARN.
    pub roles: BTreeMap<String, Role>,
    /// Issued sessions by access key id.
    pub sessions: BTreeMap<String, Session>,
    /// Registered long-term access keys.
    pub access_keys: BTreeMap<String, Principal>,
}

/// Who a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Account id.
    pub account_id: String,
    /// ARN as AWS prints it in error messages.
    pub arn: String,
    /// `UserId` of GetCallerIdentity.
    pub user_id: String,
    /// The role, when the caller uses assumed-role credentials.
    pub role_arn: Option<String>,
}

/// The account of an IAM ARN (`arn:aws:iam::<account>:...`).
pub fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

pub(crate) fn role_name(role_arn: &str) -> &str {
    role_arn.rsplit('/').next().unwrap_or(role_arn)
}

pub(crate) fn random_upper(len: usize) -> String {
    use rand::Rng as _;
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

pub(crate) fn random_secret(len: usize) -> String {
    use rand::Rng as _;
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

impl StsState {
    /// Registers (or replaces) a role.
    pub fn put_role(
        &mut self,
        role_arn: &str,
        trusted_accounts: Vec<String>,
        external_id: Option<String>,
        max_session_duration: u32,
    ) -> Role {
        let role = Role {
            role_arn: role_arn.to_owned(),
            role_id: self
                .roles
                .get(role_arn)
                .map(|r| r.role_id.clone())
                .unwrap_or_else(|| format!("AROA{}", random_upper(17))),
            trusted_accounts,
            external_id,
            max_session_duration,
            denied_actions: self
                .roles
                .get(role_arn)
                .map(|r| r.denied_actions.clone())
                .unwrap_or_default(),
        };
        self.roles.insert(role_arn.to_owned(), role.clone());
        role
    }

    /// Identifies the caller behind `access_key_id` at `now` (expired sessions fall back to the
    /// default principal).
    pub fn caller(&self, access_key_id: Option<&str>, default_account: &str, now: At) -> Caller {
        if let Some(key) = access_key_id {
            if let Some(session) = self.sessions.get(key).filter(|s| s.expiration > now) {
                let account = arn_account(&session.role_arn)
                    .unwrap_or(default_account)
                    .to_owned();
                let role_id = self
                    .roles
                    .get(&session.role_arn)
                    .map(|r| r.role_id.clone())
                    .unwrap_or_default();
                return Caller {
                    arn: format!(
                        "arn:aws:sts::{account}:assumed-role/{}/{}",
                        role_name(&session.role_arn),
                        session.session_name
                    ),
                    user_id: format!("{role_id}:{}", session.session_name),
                    account_id: account,
                    role_arn: Some(session.role_arn.clone()),
                };
            }
            if let Some(principal) = self.access_keys.get(key) {
                return Caller {
                    account_id: principal.account_id.clone(),
                    arn: principal.arn.clone(),
                    user_id: key.to_owned(),
                    role_arn: None,
                };
            }
        }
        Caller {
            account_id: default_account.to_owned(),
            arn: format!("arn:aws:iam::{default_account}:user/souk-emulator"),
            user_id: access_key_id.unwrap_or("AIDASOUKEMULATOR").to_owned(),
            role_arn: None,
        }
    }

    /// The account behind a session or a registered key (not the default principal).
    pub fn known_account(&self, access_key_id: &str, now: At) -> Option<String> {
        if let Some(session) = self
            .sessions
            .get(access_key_id)
            .filter(|s| s.expiration > now)
        {
            return arn_account(&session.role_arn).map(str::to_owned);
        }
        self.access_keys
            .get(access_key_id)
            .map(|p| p.account_id.clone())
    }

    /// Whether `access_key_id` is an emulator-issued session that has expired at `now`.
    pub fn session_expired(&self, access_key_id: &str, now: At) -> bool {
        self.sessions
            .get(access_key_id)
            .is_some_and(|s| s.expiration <= now)
    }

    /// If `access_key_id` is a live session of a role that denies `action`, the caller ARN to
    /// put in the AccessDenied message.
    pub fn denied_caller(&self, access_key_id: &str, action: &str, now: At) -> Option<String> {
        let session = self
            .sessions
            .get(access_key_id)
            .filter(|s| s.expiration > now)?;
        let role = self.roles.get(&session.role_arn)?;
        let service_wildcard = action.split(':').next().map(|prefix| format!("{prefix}:*"));
        let denied = role.denied_actions.iter().any(|denied| {
            denied == "*" || denied == action || Some(denied) == service_wildcard.as_ref()
        });
        denied.then(|| self.caller(Some(access_key_id), "", now).arn)
    }
}
