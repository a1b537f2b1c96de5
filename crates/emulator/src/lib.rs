//! Local AWS Marketplace emulator: Metering, Entitlement, Catalog, Agreement, STS, SQS, SNS/EventBridge notifications and seller data feeds, reachable by the official SDK clients.
