//! Between the domain and the Catalog / Agreement SDK shapes: changes out, change-set status
//! and errors in.

use aws_sdk_marketplacecatalog::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_marketplacecatalog::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_marketplacecatalog::types::{Change, ChangeStatus, Entity};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use crate::domain::change_set;
use crate::domain::ports::{CallError, ChangeError, ChangeSetStatus};

/// The SDK change of a domain change (the details as a JSON string, `Details`).
pub(super) fn change(c: &change_set::Change) -> Result<Change, CallError> {
    let entity = Entity::builder()
        .r#type(c.entity_type)
        .set_identifier(c.identifier.clone())
        .build()
        .map_err(|e| CallError::Refused {
            code: "InvalidChange".into(),
            message: e.to_string(),
        })?;
    Change::builder()
        .change_type(c.change_type)
        .entity(entity)
        .set_change_name(c.change_name.map(str::to_owned))
        .details(c.details.to_string())
        .build()
        .map_err(|e| CallError::Refused {
            code: "InvalidChange".into(),
            message: e.to_string(),
        })
}

/// Change types that create the offer (their entity holds the new id once applied).
const CREATE_TYPES: &[&str] = &[
    "CreateOffer",
    "CreateReplacementOffer",
    "CreateOfferUsingResaleAuthorization",
    "CreateReplacementOfferUsingResaleAuthorization",
    "CreateResaleAuthorization",
];

/// A DescribeChangeSet answer as the domain reads it.
pub(super) fn status(output: &DescribeChangeSetOutput) -> ChangeSetStatus {
    match output.status() {
        Some(ChangeStatus::Succeeded) => {
            let entity_id = output
                .change_set()
                .iter()
                .find(|c| c.change_type().is_some_and(|t| CREATE_TYPES.contains(&t)))
                .or_else(|| output.change_set().first())
                .and_then(|c| c.entity())
                .and_then(|e| e.identifier())
                // An identifier may carry a revision (`offer-1@2`).
                .map(|id| id.split('@').next().unwrap_or(id).to_owned());
            ChangeSetStatus::Succeeded { entity_id }
        }
        Some(ChangeStatus::Failed) => ChangeSetStatus::Failed {
            failure_code: output
                .failure_code()
                .map(|c| c.as_str().to_owned())
                .unwrap_or_default(),
            description: output.failure_description().unwrap_or_default().to_owned(),
            errors: output
                .change_set()
                .iter()
                .flat_map(|c| {
                    let change_type = c.change_type().unwrap_or_default().to_owned();
                    c.error_detail_list().iter().map(move |e| ChangeError {
                        change_type: change_type.clone(),
                        code: e.error_code().unwrap_or_default().to_owned(),
                        message: e.error_message().unwrap_or_default().to_owned(),
                    })
                })
                .collect(),
        },
        Some(ChangeStatus::Cancelled) => ChangeSetStatus::Cancelled,
        _ => ChangeSetStatus::Running,
    }
}

/// A failed call: throttling, 5xx, timeouts and transport failures are retried; anything AWS
/// refused is not.
pub(super) fn call_error<E>(error: &SdkError<E, HttpResponse>) -> CallError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let Some(response) = souk_auth::error_response(error) {
        let code = response.code;
        if code.starts_with("Throttl")
            || response.status == 429
            || response.status >= 500
            // Another change set holds the entity: it finishes soon.
            || code == "ResourceInUseException"
        {
            return CallError::Retry(format!("{code}: {}", response.message));
        }
        return CallError::Refused {
            code,
            message: response.message,
        };
    }
    CallError::Retry(format!("the call failed: {}", DisplayErrorContext(error)))
}
