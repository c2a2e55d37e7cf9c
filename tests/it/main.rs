//! The integration tests, as one binary (the AWS SDK is linked once). Each module starts the
//! real application, or the real binary, against fakes on loopback.

mod common;

mod accounts_and_details;
mod cli;
mod faults;
mod hostile;
mod interactions;
mod manifest;
mod notifications;
mod operations;
mod organization;
mod queue;
mod replicas;
mod rust_version;
mod slash_command;
mod sns_verify;
mod socket;
mod tls;
