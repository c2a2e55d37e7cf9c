//! The subcommands: `serve` (the default), `query`, `demo`, `check` and `healthcheck`. Each is
//! a thin layer over the library; `main` only parses the command line and calls one of them.

pub mod check;
pub mod demo;
pub mod query;
pub mod serve;
