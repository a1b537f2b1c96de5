//! The integration service of Souk.
