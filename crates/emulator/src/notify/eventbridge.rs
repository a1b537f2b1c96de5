//! EventBridge event envelopes (docs/aws/notifications.md, EventBridge envelope): `version`, `id`, `detail-type`, `source`,
//! `account`, `time`, `region`, `resources`, `detail`.

use serde_json::{Value, json};

use crate::at::At;

/// The event JSON for an `EventBridge` notification delivered at `at`.
pub fn event(
    source: &str,
    detail_type: &str,
    resources: &[String],
    detail: &Value,
    account: &str,
    region: &str,
    at: At,
) -> Value {
    let at = at.to_offset_datetime();
    let time = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    );
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": time,
        "region": region,
        "resources": resources,
        "detail": detail,
    })
}
