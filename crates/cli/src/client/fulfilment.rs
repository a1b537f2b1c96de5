//! `souk fulfilment …`: how buyers of an integration are fulfilled and how its notifications are
//! accepted; the secrets the server generates are printed once.

use serde_json::{Value, json};
use souk_proto::entitlement::{
    FulfilmentSettings, GetFulfilmentSettingsRequest, UpdateFulfilmentSettingsRequest,
};

use super::entitlements::entitlement_client;
use super::output::{Table, emit, time, time_json};
use super::{call, idempotency_key};
use crate::args::{ClientArgs, FulfilmentCommand, OutputFormat, UpdateFulfilmentArgs};
use crate::exit::{Failure, Kind};

/// Runs a `fulfilment` subcommand.
pub async fn run(command: FulfilmentCommand) -> anyhow::Result<()> {
    match command {
        FulfilmentCommand::Get {
            integration,
            client,
        } => get(integration, &client).await,
        FulfilmentCommand::Update(args) => update(args).await,
    }
}

async fn get(integration_id: String, args: &ClientArgs) -> anyhow::Result<()> {
    let mut client = entitlement_client(args).await?;
    let request = GetFulfilmentSettingsRequest { integration_id };
    let settings = call(client.get_fulfilment_settings(request))
        .await?
        .settings
        .unwrap_or_default();
    emit(args.output, &table(&settings), &settings_json(&settings));
    Ok(())
}

async fn update(args: UpdateFulfilmentArgs) -> anyhow::Result<()> {
    let request = update_request(&args)?;
    let mut client = entitlement_client(&args.client).await?;
    let response = call(client.update_fulfilment_settings(request)).await?;
    let settings = response.settings.unwrap_or_default();
    let mut value = settings_json(&settings);
    if !response.handoff_secret.is_empty() {
        value["handoff_secret"] = json!(response.handoff_secret);
    }
    if !response.eventbridge_secret.is_empty() {
        value["eventbridge_secret"] = json!(response.eventbridge_secret);
    }
    emit(args.client.output, &table(&settings), &value);
    if args.client.output == OutputFormat::Table {
        print!(
            "{}",
            secrets_text(&response.handoff_secret, &response.eventbridge_secret)
        );
    }
    Ok(())
}

/// The UpdateFulfilmentSettings request for the options given; a usage error when none is.
fn update_request(args: &UpdateFulfilmentArgs) -> anyhow::Result<UpdateFulfilmentSettingsRequest> {
    let replace_sns_topic_arns = args.clear_sns_topics || !args.sns_topics.is_empty();
    let anything = args.signup_url.is_some()
        || args.clear_signup_url
        || replace_sns_topic_arns
        || !args.expiry_notice_days.is_empty()
        || args.rotate_handoff_secret
        || args.rotate_eventbridge_secret;
    if !anything {
        return Err(Failure::new(
            Kind::Usage,
            "nothing to update: give at least one of --signup-url/--clear-signup-url, \
             --sns-topic/--clear-sns-topics, --expiry-notice-days, --rotate-handoff-secret, \
             --rotate-eventbridge-secret",
        )
        .into());
    }
    Ok(UpdateFulfilmentSettingsRequest {
        integration_id: args.integration.clone(),
        signup_url: args.signup_url.clone().unwrap_or_default(),
        clear_signup_url: args.clear_signup_url,
        sns_topic_arns: args.sns_topics.clone(),
        replace_sns_topic_arns,
        expiry_notice_days: args.expiry_notice_days.clone(),
        rotate_handoff_secret: args.rotate_handoff_secret,
        rotate_eventbridge_secret: args.rotate_eventbridge_secret,
        idempotency_key: idempotency_key(),
    })
}

/// The lines printing the secrets this call generated (nothing when it generated none).
fn secrets_text(handoff_secret: &str, eventbridge_secret: &str) -> String {
    let secrets = [
        ("hand-off secret:    ", handoff_secret),
        ("EventBridge secret: ", eventbridge_secret),
    ];
    let lines: Vec<String> = secrets
        .iter()
        .filter(|(_, secret)| !secret.is_empty())
        .map(|(label, secret)| format!("{label}{secret}\n"))
        .collect();
    if lines.is_empty() {
        return String::new();
    }
    format!(
        "\n{}(shown once: store it now; --rotate-handoff-secret / --rotate-eventbridge-secret \
         make new ones)\n",
        lines.concat()
    )
}

/// One setting per row: the settings are too many for one line.
fn table(settings: &FulfilmentSettings) -> Table {
    let or = |value: String, default: &str| {
        if value.is_empty() {
            default.to_owned()
        } else {
            value
        }
    };
    let set = |yes: bool| if yes { "set" } else { "not set" }.to_owned();
    let days: Vec<String> = settings
        .expiry_notice_days
        .iter()
        .map(i32::to_string)
        .collect();
    let mut table = Table::new(vec!["SETTING", "VALUE"]);
    let rows = [
        ("integration", settings.integration_id.clone()),
        (
            "fulfilment URL (give it to AWS)",
            settings.fulfilment_url.clone(),
        ),
        (
            "sign-up URL",
            or(settings.signup_url.clone(), "(Souk's hosted sign-up page)"),
        ),
        (
            "SNS topics accepted",
            or(
                settings.sns_topic_arns.join(","),
                "(the AWS Marketplace topics of the integration's products)",
            ),
        ),
        ("SNS endpoint URL", settings.sns_endpoint_url.clone()),
        (
            "EventBridge endpoint URL",
            settings.eventbridge_endpoint_url.clone(),
        ),
        ("expiry notice days", or(days.join(","), "30,7,1 (default)")),
        ("hand-off secret", set(settings.handoff_secret_set)),
        ("EventBridge secret", set(settings.eventbridge_secret_set)),
        (
            "updated",
            or(time(settings.update_time.as_ref()), "(defaults)"),
        ),
    ];
    for (name, value) in rows {
        table.row(vec![name.to_owned(), value]);
    }
    table
}

fn settings_json(settings: &FulfilmentSettings) -> Value {
    json!({
        "integration_id": settings.integration_id,
        "signup_url": settings.signup_url,
        "sns_topic_arns": settings.sns_topic_arns,
        "expiry_notice_days": settings.expiry_notice_days,
        "handoff_secret_set": settings.handoff_secret_set,
        "eventbridge_secret_set": settings.eventbridge_secret_set,
        "fulfilment_url": settings.fulfilment_url,
        "sns_endpoint_url": settings.sns_endpoint_url,
        "eventbridge_endpoint_url": settings.eventbridge_endpoint_url,
        "update_time": time_json(settings.update_time.as_ref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;

    fn update_args(line: &str) -> UpdateFulfilmentArgs {
        let cli = Cli::try_parse_from(line.split_whitespace()).unwrap();
        let Command::Fulfilment(FulfilmentCommand::Update(args)) = cli.command else {
            panic!("not fulfilment update");
        };
        args
    }

    #[test]
    fn only_the_options_given_change() {
        let args = update_args(
            "souk fulfilment update --integration int_1 --sns-topic arn:a --sns-topic arn:b \
             --expiry-notice-days 14,1",
        );
        let request = update_request(&args).unwrap();
        assert!(request.replace_sns_topic_arns);
        assert_eq!(request.sns_topic_arns, ["arn:a", "arn:b"]);
        assert_eq!(request.expiry_notice_days, [14, 1]);
        assert!(!request.clear_signup_url && request.signup_url.is_empty());
        assert!(!request.rotate_handoff_secret);
        assert!(!request.idempotency_key.is_empty());

        let args = update_args("souk fulfilment update --integration int_1 --clear-sns-topics");
        let request = update_request(&args).unwrap();
        assert!(request.replace_sns_topic_arns && request.sns_topic_arns.is_empty());

        let args = update_args("souk fulfilment update --integration int_1");
        let error = update_request(&args).unwrap_err();
        assert_eq!(crate::exit::kind_of(&error), Kind::Usage);
    }

    #[test]
    fn secrets_are_printed_once_with_a_warning() {
        assert_eq!(secrets_text("", ""), "");
        let text = secrets_text("souk_hs_abc", "");
        assert!(text.contains("\nhand-off secret:    souk_hs_abc\n"));
        assert!(text.contains("shown once"));
        assert!(!text.contains("EventBridge secret:"));
    }

    #[test]
    fn defaults_are_spelled_out() {
        let settings = FulfilmentSettings {
            integration_id: "int_1".into(),
            handoff_secret_set: true,
            ..FulfilmentSettings::default()
        };
        let text = table(&settings).render();
        assert!(text.contains("(Souk's hosted sign-up page)"));
        assert!(text.contains("30,7,1 (default)"));
        let line = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(name))
                .unwrap_or_default()
        };
        assert!(line("hand-off secret").ends_with("  set"));
        assert!(line("EventBridge secret").ends_with("not set"));
    }
}
