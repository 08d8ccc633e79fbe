//! contract tests
