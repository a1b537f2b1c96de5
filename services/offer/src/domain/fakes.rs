//! A scripted Catalog for tests of the use cases and the tracker over a real store: it records
//! every call and answers what the test set. (The real Catalog is exercised against the
//! emulator in `tests/it`.)

#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use async_trait::async_trait;

use super::ports::{Acting, CallError, Catalog, ChangeSetRequest, ChangeSetStatus};

/// The scripted Catalog.
#[derive(Debug, Default)]
pub struct FakeCatalog {
    /// StartChangeSet requests, in order.
    pub started: Mutex<Vec<ChangeSetRequest>>,
    /// Answers of the next StartChangeSet calls (then `cs-<n>` by token).
    pub start_answers: Mutex<VecDeque<Result<String, CallError>>>,
    /// Answers of the next DescribeChangeSet calls (then `Running`).
    pub describe_answers: Mutex<VecDeque<Result<ChangeSetStatus, CallError>>>,
    /// Agreements by AWS offer id.
    pub agreements: Mutex<HashMap<String, String>>,
    /// Offer DetailsDocuments by AWS offer id (ListEntities, DescribeEntity).
    pub entities: Mutex<std::collections::BTreeMap<String, serde_json::Value>>,
}

impl FakeCatalog {
    /// How many StartChangeSet calls were made.
    pub fn starts(&self) -> usize {
        self.started.lock().unwrap().len()
    }
}

#[async_trait]
impl Catalog for FakeCatalog {
    async fn start_change_set(
        &self,
        _acting: &Acting,
        request: &ChangeSetRequest,
    ) -> Result<String, CallError> {
        self.started.lock().unwrap().push(request.clone());
        self.start_answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| Ok(format!("cs-{}", request.client_request_token)))
    }

    async fn describe_change_set(
        &self,
        _acting: &Acting,
        _change_set_id: &str,
    ) -> Result<ChangeSetStatus, CallError> {
        self.describe_answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Ok(ChangeSetStatus::Running))
    }

    async fn list_offer_ids(&self, _acting: &Acting) -> Result<Vec<String>, CallError> {
        Ok(self.entities.lock().unwrap().keys().cloned().collect())
    }

    async fn list_resale_authorization_ids(
        &self,
        _acting: &Acting,
    ) -> Result<Vec<String>, CallError> {
        Ok(Vec::new())
    }

    async fn count_offers_from(
        &self,
        _acting: &Acting,
        resale_authorization_id: &str,
    ) -> Result<u32, CallError> {
        let entities = self.entities.lock().unwrap();
        let made = entities.values().filter(|details| {
            details
                .get("ResaleAuthorizationId")
                .and_then(serde_json::Value::as_str)
                == Some(resale_authorization_id)
        });
        Ok(u32::try_from(made.count()).unwrap_or(u32::MAX))
    }

    async fn describe_offer(
        &self,
        _acting: &Acting,
        aws_offer_id: &str,
    ) -> Result<serde_json::Value, CallError> {
        self.entities
            .lock()
            .unwrap()
            .get(aws_offer_id)
            .cloned()
            .ok_or_else(|| CallError::Refused {
                code: "ResourceNotFoundException".into(),
                message: aws_offer_id.into(),
            })
    }

    async fn product_type(&self, _acting: &Acting, _product_id: &str) -> Result<String, CallError> {
        Ok("SaaSProduct@1.0".into())
    }

    async fn agreement_of_offer(
        &self,
        _acting: &Acting,
        aws_offer_id: &str,
    ) -> Result<Option<String>, CallError> {
        Ok(self.agreements.lock().unwrap().get(aws_offer_id).cloned())
    }
}
