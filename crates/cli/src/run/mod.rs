//! Running Souk: `souk dev`, `souk serve <service>`, `souk emulator`, and what they share.

pub mod assembly;
pub mod clock;
pub mod data_dir;
pub mod demo;
pub mod dev;
pub mod directory;
pub mod emulator;
pub mod hints;
pub mod http;
pub mod metered;
pub mod roles;
pub mod schedules;
pub mod serve;
pub mod servers;
pub mod shutdown;
pub mod subscribers;
