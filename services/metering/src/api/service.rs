//! The tonic `MeteringService`: authorise, convert, call one use case, convert back.

use std::pin::Pin;

use futures::Stream;
use souk_core::access::{Caller, Permission};
use souk_proto::metering as pb;
use souk_proto::metering::metering_service_server::MeteringService;
use souk_service::convert::{page, timestamp};
use souk_service::{authorize, idempotency};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::convert;
use crate::domain::Metering;
use crate::domain::model::{EventAck, EventStatus};
use crate::domain::ports::oldest_unsent;
use crate::proto;

/// The gRPC adapter of the metering service.
#[derive(Debug, Clone)]
pub struct MeteringApi {
    metering: Metering,
}

impl MeteringApi {
    /// The adapter over the use cases.
    pub fn new(metering: Metering) -> Self {
        Self { metering }
    }
}

/// The RPC's name for idempotency records and page tokens.
macro_rules! rpc {
    ($method:literal) => {
        concat!("souk.metering.v1.MeteringService/", $method)
    };
}

/// Metering data is readable with a metering key as well as a read key.
fn reader<T>(request: Request<T>) -> Result<(Caller, T), Status> {
    if souk_auth::authorized(&request, Permission::Metering).is_ok() {
        authorize(request, Permission::Metering)
    } else {
        authorize(request, Permission::Read)
    }
}

fn results(acks: Vec<EventAck>) -> Vec<pb::UsageEventResult> {
    acks.into_iter()
        .map(|ack| pb::UsageEventResult {
            idempotency_key: ack.idempotency_key,
            status: match ack.status {
                EventStatus::Recorded => pb::UsageEventStatus::Recorded,
                EventStatus::Duplicate => pb::UsageEventStatus::Duplicate,
            } as i32,
            usage_id: ack.usage_id.to_string(),
            hour_start: Some(timestamp(ack.hour_start)),
        })
        .collect()
}

type Acks = Pin<Box<dyn Stream<Item = Result<pb::StreamUsageResponse, Status>> + Send>>;

#[tonic::async_trait]
impl MeteringService for MeteringApi {
    async fn record_usage(
        &self,
        request: Request<pb::RecordUsageRequest>,
    ) -> Result<Response<pb::RecordUsageResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Metering)?;
        let events = convert::events(req.events)?;
        let acks = self
            .metering
            .record(&caller.organization_id, &events)
            .await?;
        Ok(Response::new(pb::RecordUsageResponse {
            results: results(acks),
        }))
    }

    async fn stream_usage(
        &self,
        request: Request<Streaming<pb::StreamUsageRequest>>,
    ) -> Result<Response<Acks>, Status> {
        let (caller, mut chunks) = authorize(request, Permission::Metering)?;
        let metering = self.metering.clone();
        // Two acknowledgements may wait for a slow reader; beyond, reading the next chunk waits
        // too, so a fast client cannot pile chunks up in memory.
        let (acks, out) = tokio::sync::mpsc::channel(2);
        tokio::spawn(async move {
            let mut chunk = 0_i64;
            loop {
                let next = match chunks.message().await {
                    Ok(Some(next)) => next,
                    Ok(None) => return,
                    Err(status) => {
                        let _ = acks.send(Err(status)).await;
                        return;
                    }
                };
                let answer = match convert::events(next.events) {
                    Ok(events) => {
                        metering
                            .record(&caller.organization_id, &events)
                            .await
                            .map(|acked| pb::StreamUsageResponse {
                                chunk,
                                results: results(acked),
                            })
                    }
                    Err(error) => Err(error),
                }
                .map_err(|error| {
                    let status = Status::from(error);
                    Status::with_details_and_metadata(
                        status.code(),
                        format!("chunk {chunk}: {}", status.message()),
                        status.details().to_vec().into(),
                        status.metadata().clone(),
                    )
                });
                let failed = answer.is_err();
                if acks.send(answer).await.is_err() || failed {
                    return;
                }
                chunk += 1;
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(out))))
    }

    async fn put_meter(
        &self,
        request: Request<pb::PutMeterRequest>,
    ) -> Result<Response<pb::PutMeterResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Write)?;
        let spec = convert::meter(req.meter)?;
        let meter = self
            .metering
            .put_meter(&caller.organization_id, spec)
            .await?;
        Ok(Response::new(pb::PutMeterResponse {
            meter: Some(proto::meter(&meter)),
        }))
    }

    async fn list_meters(
        &self,
        request: Request<pb::ListMetersRequest>,
    ) -> Result<Response<pb::ListMetersResponse>, Status> {
        let (caller, req) = reader(request)?;
        let product = (!req.product_code.is_empty()).then_some(req.product_code.as_str());
        let meters = self.metering.list_meters(&caller.organization_id, product);
        Ok(Response::new(pb::ListMetersResponse {
            meters: meters.iter().map(proto::meter).collect(),
        }))
    }

    async fn list_usage_records(
        &self,
        request: Request<pb::ListUsageRecordsRequest>,
    ) -> Result<Response<pb::ListUsageRecordsResponse>, Status> {
        let (caller, req) = reader(request)?;
        let statuses = convert::statuses(&req.statuses)?;
        let status_filter: String = req.statuses.iter().map(|s| format!("{s},")).collect();
        let page = page(
            rpc!("ListUsageRecords"),
            &caller,
            &[&req.customer, &req.dimension, &status_filter],
            req.page_size,
            &req.page_token,
        )
        .map_err(crate::domain::Error::from)?;
        let customer = (!req.customer.is_empty()).then_some(req.customer.as_str());
        let dimension = (!req.dimension.is_empty()).then_some(req.dimension.as_str());
        let found = self
            .metering
            .list_records(
                &caller.organization_id,
                customer,
                dimension,
                statuses,
                &page,
            )
            .await?;
        Ok(Response::new(pb::ListUsageRecordsResponse {
            records: found.items.iter().map(proto::hourly_record).collect(),
            next_page_token: found.next_page_token,
        }))
    }

    async fn get_metering_summary(
        &self,
        request: Request<pb::GetMeteringSummaryRequest>,
    ) -> Result<Response<pb::GetMeteringSummaryResponse>, Status> {
        let (caller, _req) = reader(request)?;
        let counts = self.metering.summary(&caller.organization_id).await?;
        let mut response = pb::GetMeteringSummaryResponse {
            oldest_unsent_hour_start: oldest_unsent(&counts).map(timestamp),
            ..pb::GetMeteringSummaryResponse::default()
        };
        for c in &counts {
            let row = proto::counts(c);
            response.open += row.open;
            response.pending += row.pending;
            response.sent += row.sent;
            response.held += row.held;
            response.failed += row.failed;
            response.carried += row.carried;
            response.counts.push(row);
        }
        Ok(Response::new(response))
    }

    async fn retry_records(
        &self,
        request: Request<pb::RetryRecordsRequest>,
    ) -> Result<Response<pb::RetryRecordsResponse>, Status> {
        let (caller, req) = authorize(request, Permission::Write)?;
        convert::idempotency_key(&req.idempotency_key)?;
        let ids = convert::record_ids(&req.record_ids)?;
        let idem = idempotency(rpc!("RetryRecords"), &req, |r| &mut r.idempotency_key);
        let outcome = self
            .metering
            .retry_held(&caller.organization_id, &ids, idem.as_ref())
            .await?;
        souk_service::reply(outcome, |retried| pb::RetryRecordsResponse { retried })
    }
}
