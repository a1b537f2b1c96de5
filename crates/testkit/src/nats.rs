//! NATS for tests: a client to the development server and names that keep tests apart.
//!
//! Tests share one NATS server, so each test puts its streams and subjects under its own
//! [`unique_prefix`] and deletes its streams when done (or leaves them to a `max_age`).

use std::time::Duration;

use anyhow::Context as _;

/// The server tests use unless [`URL_ENV`] says otherwise.
pub const DEFAULT_URL: &str = "nats://127.0.0.1:4222";

/// Environment variable that overrides [`DEFAULT_URL`].
pub const URL_ENV: &str = "SOUK_TEST_NATS_URL";

/// The NATS URL for tests.
pub fn url() -> String {
    std::env::var(URL_ENV)
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_URL.to_owned())
}

/// A client connected to the test server; fails (with the URL in the message) within 5 seconds
/// when the server is down.
pub async fn connect() -> anyhow::Result<async_nats::Client> {
    let url = url();
    async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        .connect(url.as_str())
        .await
        .with_context(|| format!("cannot connect to NATS at {url} (set {URL_ENV} to override)"))
}

/// A JetStream context on a fresh client.
pub async fn jetstream() -> anyhow::Result<async_nats::jetstream::Context> {
    Ok(async_nats::jetstream::new(connect().await?))
}

/// Deletes every JetStream stream whose name starts with `prefix`; returns how many. For a
/// test's cleanup (stream names are upper- or lowercase as the test made them).
pub async fn delete_streams(
    js: &async_nats::jetstream::Context,
    prefix: &str,
) -> anyhow::Result<usize> {
    use futures::TryStreamExt as _;
    let names: Vec<String> = js
        .stream_names()
        .try_collect()
        .await
        .context("cannot list streams")?;
    let mut deleted = 0;
    for name in names.into_iter().filter(|n| n.starts_with(prefix)) {
        js.delete_stream(&name)
            .await
            .with_context(|| format!("cannot delete stream {name}"))?;
        deleted += 1;
    }
    Ok(deleted)
}

/// A prefix unique to this call (`t` and 20 lowercase hex digits): valid as a subject token and
/// inside a stream or consumer name.
pub fn unique_prefix() -> String {
    let id = uuid::Uuid::now_v7().simple().to_string();
    // time-ordered high bits + random low bits
    format!("t{}{}", &id[..8], &id[20..])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connects_to_the_test_server() {
        let client = connect().await.unwrap();
        let subject = format!("{}.ping", unique_prefix());
        let mut sub = client.subscribe(subject.clone()).await.unwrap();
        client.publish(subject, "hi".into()).await.unwrap();
        client.flush().await.unwrap();
        let message = tokio::time::timeout(Duration::from_secs(5), futures_next(&mut sub))
            .await
            .unwrap();
        assert_eq!(message.as_deref(), Some(&b"hi"[..]));
    }

    async fn futures_next(sub: &mut async_nats::Subscriber) -> Option<Vec<u8>> {
        use futures::StreamExt as _;
        sub.next().await.map(|m| m.payload.to_vec())
    }

    #[tokio::test]
    async fn streams_are_deleted_by_prefix() {
        let js = jetstream().await.unwrap();
        let prefix = unique_prefix();
        for area in ["a", "b"] {
            js.create_stream(async_nats::jetstream::stream::Config {
                name: format!("{prefix}_{area}"),
                subjects: vec![format!("{prefix}.{area}.>")],
                max_age: Duration::from_secs(600),
                ..Default::default()
            })
            .await
            .unwrap();
        }
        assert_eq!(delete_streams(&js, &prefix).await.unwrap(), 2);
        assert_eq!(delete_streams(&js, &prefix).await.unwrap(), 0);
    }

    #[test]
    fn prefixes_are_unique_tokens() {
        let a = unique_prefix();
        let b = unique_prefix();
        assert_ne!(a, b);
        assert_eq!(a.len(), 21);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
    }
}
