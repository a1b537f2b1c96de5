//! The entitlement service of Souk.
