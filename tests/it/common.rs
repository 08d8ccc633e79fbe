//! common tests
