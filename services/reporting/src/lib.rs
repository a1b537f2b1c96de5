//! The reporting service of Souk.
