//! The service kit as a new service uses it: a draft service served through the shared stack
//! with in-memory keys, reflection in both versions, bounded metrics.

mod stack;
