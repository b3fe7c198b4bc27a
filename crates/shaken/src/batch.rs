//! One line of a batch: the JSON Lines that `shaken verify --batch` and
//! `shaken sign --batch` read. The request model is [`crate::atis`]'s (the
//! same rules as the REST service and the C ABI); this module keeps the
//! names the batch readers have always used.

pub use crate::atis::{Rejected, RequestError, RequestPolicy, SignRequest, VerifyRequest};
