//! RFC 3339 date-times for report date ranges (RFC 8460 4.4; DEC-17).
//!
//! The type and the calendar arithmetic live in [`mta_sts_core::time`],
//! the workspace's one home for them; this module re-exports all of it so
//! that `tlsrpt_core::time::Timestamp` and the other paths keep working.
//! The `chrono` and `time` features of this crate turn on that module's
//! conversions to and from `chrono::DateTime<Utc>` and
//! `time::OffsetDateTime`.
//!
//! ```
//! use tlsrpt_core::time::{Leniency, Timestamp};
//! let (t, l) = Timestamp::parse_rfc3339("2016-04-01T00:00:00Z", false)?;
//! assert_eq!((t.secs, l), (1_459_468_800, Leniency::None));
//! assert_eq!(t, mta_sts_core::time::Timestamp::from_unix(1_459_468_800));
//! # Ok::<(), tlsrpt_core::time::TimeError>(())
//! ```

pub use mta_sts_core::time::*;
