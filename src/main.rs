use std::process::ExitCode;

use clap::Parser;
use marketplace_activity::config::{Cli, Cmd};
use marketplace_activity::{demo, query, serve, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = match cli.command {
        Some(Cmd::Demo(_)) | Some(Cmd::Query(_)) => "warn",
        _ => "info",
    };
    telemetry::init(cli.log.log_format, default_level);
    let result = match cli.command {
        None => serve::run(cli.serve).await,
        Some(Cmd::Serve(args)) => serve::run(args).await,
        Some(Cmd::Query(args)) => query::run(args).await,
        Some(Cmd::Demo(args)) => demo::run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
