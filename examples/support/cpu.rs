//! CPU time of the calling thread, for the examples that measure per CPU
//! second (included with `#[path]`; not an example of its own).

/// CPU time of this thread so far, in nanoseconds (Linux
/// `/proc/thread-self/schedstat`; 0 where it is missing).
pub fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|t| t.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}
