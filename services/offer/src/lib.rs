//! The offer service of Souk.
