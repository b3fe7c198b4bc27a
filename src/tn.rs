//! tn
