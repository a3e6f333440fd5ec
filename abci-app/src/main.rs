use clap::Parser;
use um_app::cli::{self, Cli};

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("UMD_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(err) = cli::run(Cli::parse()) {
        eprintln!("umd: error: {err:#}");
        std::process::exit(1);
    }
}
