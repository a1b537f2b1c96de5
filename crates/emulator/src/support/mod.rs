//! Helpers every service shares and that know nothing of the emulator's state: decimal and
//! date formats, JSON accessors, pagination tokens, MD5.

pub mod format;
pub mod json;
pub mod md5;
pub mod paging;
