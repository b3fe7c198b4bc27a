//! The shell's clock: the current time and its RFC 3339 form.

/// The current time in Unix seconds (the shell owns the clock).
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Format Unix seconds as RFC 3339 UTC.
pub fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn rfc3339_known() {
        assert_eq!(rfc3339(1471375418), "2016-08-16T19:23:38Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
