//! The one integration-test binary. Each module starts its own simulator on 127.0.0.1:0.

mod apply;
mod cli;
mod client;
mod common;
mod contract;
mod corpus;
mod faults;
mod harness;
mod hostile;
mod manifest;
mod ops;
mod outage;
mod plan;
mod secrets;
