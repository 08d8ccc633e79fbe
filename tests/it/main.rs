//! The one integration-test binary. Each module starts its own simulator on 127.0.0.1:0.

mod apply;
mod ci;
mod cli;
mod client;
mod common;
mod contract;
mod corpus;
mod export;
mod faults;
mod first_hour;
mod fleet;
mod harness;
mod hostile;
mod manifest;
mod ops;
mod plan;
mod props;
mod reconcile;
mod refusals;
mod release;
mod secrets;
mod shared;
