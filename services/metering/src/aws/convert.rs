//! Between the domain's calls and answers and the SDK's BatchMeterUsage shapes, and the
//! reading of its errors.

use std::collections::{HashMap, VecDeque};

use aws_sdk_marketplacemetering::error::{
    DisplayErrorContext, ProvideErrorMetadata as _, SdkError,
};
use aws_sdk_marketplacemetering::operation::batch_meter_usage::{
    BatchMeterUsageError, BatchMeterUsageOutput,
};
use aws_sdk_marketplacemetering::types::{
    Tag, UsageAllocation, UsageRecord, UsageRecordResultStatus,
};
use aws_smithy_types::DateTime;
use souk_core::Id;

use crate::domain::model::{Allocation, AwsCustomer};
use crate::domain::ports::{CallError, OutgoingRecord, RecordAnswer};

/// Request-level error codes a record of the call causes: splitting the call finds it.
const RECORD_CAUSED: [&str; 8] = [
    "ValidationException",
    "InvalidUsageDimensionException",
    "InvalidTagException",
    "InvalidUsageAllocationsException",
    "TimestampOutOfBoundsException",
    "InvalidCustomerIdentifierException",
    "InvalidProductCodeException",
    "InvalidLicenseException",
];

/// Codes of credentials AWS no longer accepts: the cached session is dropped.
const STALE_CREDENTIALS: [&str; 4] = [
    "ExpiredTokenException",
    "ExpiredToken",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
];

fn rejected(message: impl Into<String>) -> CallError {
    CallError::Rejected {
        code: "ValidationException".into(),
        message: message.into(),
    }
}

fn quantity(value: i64, what: &str) -> Result<i32, CallError> {
    i32::try_from(value)
        .ok()
        .filter(|q| *q >= 0)
        .ok_or_else(|| rejected(format!("{what} {value} is outside 0..=2147483647")))
}

fn allocation(allocation: &Allocation) -> Result<UsageAllocation, CallError> {
    let tags = allocation
        .tags
        .iter()
        .map(|t| {
            Tag::builder()
                .key(&t.key)
                .value(&t.value)
                .build()
                .map_err(|e| rejected(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    UsageAllocation::builder()
        .allocated_usage_quantity(quantity(allocation.quantity, "allocated quantity")?)
        .set_tags((!tags.is_empty()).then_some(tags))
        .build()
        .map_err(|e| rejected(e.to_string()))
}

/// The SDK's usage records, in the call's order. Legacy customers: `CustomerIdentifier`;
/// licences: `CustomerAWSAccountId` + `LicenseArn`. The timestamp is the hour's start.
pub(super) fn usage_records(records: &[OutgoingRecord]) -> Result<Vec<UsageRecord>, CallError> {
    records
        .iter()
        .map(|record| {
            let mut builder = UsageRecord::builder()
                .timestamp(DateTime::from_secs(record.timestamp.unix_timestamp()))
                .dimension(&record.dimension)
                .quantity(quantity(record.quantity, "quantity")?);
            builder = match &record.customer {
                AwsCustomer::Identifier(identifier) => builder.customer_identifier(identifier),
                AwsCustomer::Licence {
                    aws_account_id,
                    license_arn,
                } => builder
                    .customer_aws_account_id(aws_account_id)
                    .license_arn(license_arn),
            };
            if !record.allocations.is_empty() {
                let allocations = record
                    .allocations
                    .iter()
                    .map(allocation)
                    .collect::<Result<Vec<_>, _>>()?;
                builder = builder.set_usage_allocations(Some(allocations));
            }
            builder.build().map_err(|e| rejected(e.to_string()))
        })
        .collect()
}

/// What identifies a record within one call: customer, dimension and timestamp.
type MatchKey = (String, String, i64);

fn outgoing_key(record: &OutgoingRecord) -> MatchKey {
    let customer = match &record.customer {
        AwsCustomer::Identifier(identifier) => identifier.clone(),
        AwsCustomer::Licence { aws_account_id, .. } => aws_account_id.clone(),
    };
    (
        customer,
        record.dimension.clone(),
        record.timestamp.unix_timestamp(),
    )
}

fn echoed_key(record: &UsageRecord) -> MatchKey {
    let customer = record
        .customer_aws_account_id()
        .filter(|a| !a.is_empty())
        .unwrap_or(record.customer_identifier());
    (
        customer.to_owned(),
        record.dimension().to_owned(),
        record.timestamp().secs(),
    )
}

/// The answer per record, matched back through the echoed usage record (AWS does not promise
/// the order). Records AWS did not mention get no answer (the domain sends them again).
pub(super) fn answers(
    records: &[OutgoingRecord],
    output: &BatchMeterUsageOutput,
) -> Vec<RecordAnswer> {
    let mut ids: HashMap<MatchKey, VecDeque<Id>> = HashMap::with_capacity(records.len());
    for record in records {
        ids.entry(outgoing_key(record))
            .or_default()
            .push_back(record.id.clone());
    }
    let mut take = |echoed: &UsageRecord| {
        ids.get_mut(&echoed_key(echoed))
            .and_then(VecDeque::pop_front)
    };
    let mut answers = Vec::with_capacity(records.len());
    for result in output.results() {
        let Some(id) = result.usage_record().and_then(&mut take) else {
            continue;
        };
        let answer = match (result.status(), result.metering_record_id()) {
            (Some(UsageRecordResultStatus::Success), Some(metering_record_id))
                if !metering_record_id.is_empty() =>
            {
                RecordAnswer::Success {
                    id,
                    metering_record_id: metering_record_id.to_owned(),
                }
            }
            (Some(UsageRecordResultStatus::DuplicateRecord), _) => RecordAnswer::Duplicate { id },
            (Some(UsageRecordResultStatus::CustomerNotSubscribed), _) => {
                RecordAnswer::NotSubscribed { id }
            }
            // No status we know, or Success without its id: sent again.
            _ => RecordAnswer::Unprocessed { id },
        };
        answers.push(answer);
    }
    for unprocessed in output.unprocessed_records() {
        if let Some(id) = take(unprocessed) {
            answers.push(RecordAnswer::Unprocessed { id });
        }
    }
    answers
}

/// Reads a failed call: throttling, unavailability (5xx, timeouts, transport: AWS may have
/// applied the call), a record's fault (the call is split), or a refusal no record causes.
pub(super) fn call_error(error: &SdkError<BatchMeterUsageError>) -> CallError {
    if let Some(response) = souk_auth::error_response(error) {
        return classify(response.status, &response.code, response.message);
    }
    match error {
        SdkError::TimeoutError(_) => CallError::Unavailable("the call timed out".into()),
        SdkError::DispatchFailure(_) => {
            CallError::Unavailable(format!("connection failed: {}", DisplayErrorContext(error)))
        }
        SdkError::ResponseError(_) => CallError::Unavailable(format!(
            "unreadable response: {}",
            DisplayErrorContext(error)
        )),
        _ => CallError::Denied(format!(
            "the call could not be made: {}",
            DisplayErrorContext(error)
        )),
    }
}

fn classify(status: u16, code: &str, message: String) -> CallError {
    if code.starts_with("Throttl") || code == "RequestLimitExceeded" || status == 429 {
        return CallError::Throttled(format!("{code}: {message}"));
    }
    if code == "InternalServiceErrorException" || status >= 500 {
        return CallError::Unavailable(format!("{code}: {message}"));
    }
    if RECORD_CAUSED.contains(&code) {
        return CallError::Rejected {
            code: code.to_owned(),
            message,
        };
    }
    // AccessDenied*, DisabledApiException, stale credentials, anything unknown.
    CallError::Denied(format!("{code}: {message}"))
}

/// Whether AWS refused the credentials themselves (the role's cached session is dropped).
pub(super) fn credentials_rejected(error: &SdkError<BatchMeterUsageError>) -> bool {
    match error {
        SdkError::ServiceError(service) => service
            .err()
            .code()
            .is_some_and(|code| STALE_CREDENTIALS.contains(&code)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::Tag as DomainTag;
    use time::macros::datetime;

    fn record(id: &str, customer: AwsCustomer, dimension: &str) -> OutgoingRecord {
        OutgoingRecord {
            id: Id::from_trusted(id.into()),
            timestamp: datetime!(2026-03-01 10:00 UTC),
            customer,
            dimension: dimension.into(),
            quantity: 7,
            allocations: Vec::new(),
        }
    }

    #[test]
    fn error_codes_are_read_as_the_domain_needs() {
        assert!(matches!(
            classify(400, "ThrottlingException", "slow".into()),
            CallError::Throttled(_)
        ));
        assert!(matches!(
            classify(500, "InternalServiceErrorException", "oops".into()),
            CallError::Unavailable(_)
        ));
        assert!(matches!(
            classify(503, "ServiceUnavailable", "".into()),
            CallError::Unavailable(_)
        ));
        for code in RECORD_CAUSED {
            assert!(
                matches!(classify(400, code, "bad".into()), CallError::Rejected { code: c, .. } if c == code)
            );
        }
        for code in [
            "AccessDeniedException",
            "DisabledApiException",
            "ExpiredTokenException",
        ] {
            assert!(matches!(
                classify(400, code, "no".into()),
                CallError::Denied(_)
            ));
        }
    }

    #[test]
    fn legacy_and_licence_records_have_their_shapes() {
        let mut tagged = record("hrec_1", AwsCustomer::Identifier("cust-1".into()), "users");
        tagged.allocations = vec![
            Allocation {
                quantity: 3,
                tags: Vec::new(),
            },
            Allocation {
                quantity: 4,
                tags: vec![DomainTag {
                    key: "team".into(),
                    value: "a".into(),
                }],
            },
        ];
        let licence = record(
            "hrec_2",
            AwsCustomer::Licence {
                aws_account_id: "444455556666".into(),
                license_arn: "arn:aws:license-manager::1:license:l-1".into(),
            },
            "users",
        );
        let built = usage_records(&[tagged, licence]).expect("valid records");
        assert_eq!(built[0].customer_identifier(), "cust-1");
        assert_eq!(built[0].customer_aws_account_id(), None);
        assert_eq!(built[0].usage_allocations().len(), 2);
        assert!(built[0].usage_allocations()[0].tags().is_empty());
        assert_eq!(built[0].usage_allocations()[1].tags()[0].key(), "team");
        assert_eq!(built[1].customer_identifier(), "");
        assert_eq!(built[1].customer_aws_account_id(), Some("444455556666"));
        assert!(built[1].license_arn().is_some());
        assert_eq!(built[1].timestamp().secs(), 1_772_359_200);
        assert_eq!(built[1].quantity(), Some(7));
    }

    #[test]
    fn answers_are_matched_by_content_whatever_the_order() {
        let a = record("hrec_a", AwsCustomer::Identifier("c1".into()), "users");
        let b = record("hrec_b", AwsCustomer::Identifier("c1".into()), "seats");
        let c = record("hrec_c", AwsCustomer::Identifier("c2".into()), "users");
        let sent = usage_records(&[a.clone(), b.clone(), c.clone()]).expect("valid");
        let output = BatchMeterUsageOutput::builder()
            .results(
                aws_sdk_marketplacemetering::types::UsageRecordResult::builder()
                    .usage_record(sent[1].clone())
                    .status(UsageRecordResultStatus::DuplicateRecord)
                    .build(),
            )
            .results(
                aws_sdk_marketplacemetering::types::UsageRecordResult::builder()
                    .usage_record(sent[0].clone())
                    .status(UsageRecordResultStatus::Success)
                    .metering_record_id("mr-1")
                    .build(),
            )
            .unprocessed_records(sent[2].clone())
            .build();
        let answers = answers(&[a, b, c], &output);
        assert_eq!(
            answers,
            vec![
                RecordAnswer::Duplicate {
                    id: Id::from_trusted("hrec_b".into())
                },
                RecordAnswer::Success {
                    id: Id::from_trusted("hrec_a".into()),
                    metering_record_id: "mr-1".into()
                },
                RecordAnswer::Unprocessed {
                    id: Id::from_trusted("hrec_c".into())
                },
            ]
        );
    }

    #[test]
    fn out_of_range_quantities_are_the_record_s_fault() {
        let mut huge = record("hrec_h", AwsCustomer::Identifier("c".into()), "users");
        huge.quantity = i64::from(i32::MAX) + 1;
        assert!(matches!(
            usage_records(&[huge]),
            Err(CallError::Rejected { .. })
        ));
    }
}
