//! The `serve --ui` page in headless Chromium (issue 20).
