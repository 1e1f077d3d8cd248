//! `accord-load`: load generator for Accord. The logic lives in `accord_tests::load`; see
//! `docs/benchmarks.md` for how to run it and what it reports.

use accord_tests::load::{self, Args};
use clap::Parser;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let args = Args::parse();
    load::init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("accord-load: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(load::run(&args));
    // Peer connections closed, but don't wait on a straggling task forever.
    runtime.shutdown_timeout(Duration::from_secs(5));
    match outcome {
        Ok(report) if args.json => match serde_json::to_string_pretty(&report) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("accord-load: {err}");
                ExitCode::FAILURE
            }
        },
        Ok(report) => {
            print!("{}", report.to_table());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("accord-load: {err:#}");
            ExitCode::FAILURE
        }
    }
}
