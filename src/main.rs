use std::process::ExitCode;

use clap::Parser;
use marketplace_activity::cli::{check, demo, query, serve};
use marketplace_activity::config::{default_log_level, Cli, Cmd};
use marketplace_activity::telemetry;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log.log_format, default_log_level(cli.command.as_ref()));
    let result = match cli.command {
        None => serve::run(cli.serve).await,
        Some(Cmd::Serve(args)) => serve::run(args).await,
        Some(Cmd::Query(args)) => match query::run(args).await {
            // The report (or the errors) said what failed; the status says that it did.
            Ok(query::Answered::Partly) => return ExitCode::FAILURE,
            other => other.map(drop),
        },
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
