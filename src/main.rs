use std::process::ExitCode;

use clap::Parser;
use marketplace_activity::cli::{check, demo, query, serve};
use marketplace_activity::config::{Cli, Cmd};
use marketplace_activity::telemetry;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = match cli.command {
        Some(Cmd::Demo(_) | Cmd::Query(_) | Cmd::Check(_) | Cmd::Healthcheck(_)) => "warn",
        _ => "info",
    };
    telemetry::init(cli.log.log_format, default_level);
    let result = match cli.command {
        None => serve::run(cli.serve).await,
        Some(Cmd::Serve(args)) => serve::run(args).await,
        Some(Cmd::Query(args)) => query::run(args).await,
        Some(Cmd::Demo(args)) => demo::run(args).await,
        Some(Cmd::Check(args)) => {
            return match check::run(&args, &mut std::io::stdout()).await {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Some(Cmd::Healthcheck(args)) => check::healthcheck(&args.listen_addr).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
