//! The metering service of Souk.
