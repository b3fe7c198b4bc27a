//! The HTML report in headless Chromium (issue 20).
