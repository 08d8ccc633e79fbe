//! manifest tests
