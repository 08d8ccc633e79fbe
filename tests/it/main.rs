//! The one integration-test binary. Each module starts its own simulator on 127.0.0.1:0.

mod apply;
mod cli;
mod client;
mod common;
mod contract;
mod corpus;
mod errors;
mod faults;
mod harness;
mod hostile;
mod keyspaces;
mod manifest;
mod ops;
mod plan;
mod refusals;
mod secrets;
mod server_limits;
