//! The one integration-test binary. Each module starts its own simulator on 127.0.0.1:0.

mod client;
mod common;
mod contract;
mod hostile;
mod manifest;
