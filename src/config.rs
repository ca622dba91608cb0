//! One typed configuration, from CLI flags and `ANXU_*` environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Which side a process serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Site {
    /// The police intranet 审批内网.
    #[default]
    Intranet,
    /// The internet-facing portal 外网 for organizers and government units.
    Portal,
}

/// Flags of `anxu serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Which side to serve: the intranet (default) or the portal; each has its own data directory and key.
    #[arg(long, env = "ANXU_SITE", value_enum, default_value_t = Site::Intranet)]
    pub site: Site,
    /// Directory of the database file (created if missing).
    #[arg(long, env = "ANXU_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "ANXU_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Create the demo users and roles (idempotent; see the README).
    #[arg(long, env = "ANXU_DEMO")]
    pub demo: bool,
    /// With `--demo` on the intranet: how many province-wide demo activities to generate on the first start.
    #[arg(long, env = "ANXU_DEMO_ACTIVITIES", default_value_t = crate::setup::SERVE_DEMO_ACTIVITIES)]
    pub demo_activities: usize,
    /// Origins allowed to embed pages (`?embed=1`) in a frame, e.g. `https://portal.gat.zj`; space-separated.
    #[arg(long, env = "ANXU_FRAME_ANCESTORS", value_delimiter = ' ', num_args = 0..)]
    pub frame_ancestors: Vec<String>,
    /// Mark cookies `Secure` (set this when anxu is served over HTTPS).
    #[arg(long, env = "ANXU_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// A regions CSV to use instead of the built-in 浙江省 (format of `geodata/regions.csv`).
    #[arg(long, env = "ANXU_REGIONS")]
    pub regions: Option<PathBuf>,
}

/// Settings the running site reads. The security policy is not among them: it lives in the database, changed by the
/// security administrator (`store::policy`, `AppState::policy`).
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Which side this process serves.
    pub site: Site,
    /// Origins allowed as frame ancestors besides the site itself.
    pub frame_ancestors: Vec<String>,
    /// Whether cookies carry `Secure`.
    pub secure_cookies: bool,
}

impl Config {
    /// Builds the site configuration from the flags, refusing malformed origins.
    pub fn from_args(args: &ServeArgs) -> anyhow::Result<Self> {
        for origin in &args.frame_ancestors {
            anyhow::ensure!(
                valid_origin(origin),
                "--frame-ancestors: {origin:?} is not an origin like https://host[:port]"
            );
        }
        Ok(Self { site: args.site, frame_ancestors: args.frame_ancestors.clone(), secure_cookies: args.secure_cookies })
    }
}

/// `scheme://host[:port]` with a scheme of http or https and a host of letters, digits, dots, dashes (or a leading
/// `*.` wildcard) — nothing that could break the CSP header.
pub fn valid_origin(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else { return false };
    if !matches!(scheme, "http" | "https") || rest.is_empty() {
        return false;
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    let host = host.strip_prefix("*.").unwrap_or(host);
    !host.is_empty()
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        && port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::valid_origin;

    #[test]
    fn origins() {
        for (s, ok) in [
            ("https://portal.gat.zj", true),
            ("http://10.1.2.3:8443", true),
            ("https://*.gat.zj", true),
            ("portal.gat.zj", false),
            ("https://a b", false),
            ("https://a;script-src *", false),
            ("ftp://x", false),
            ("https://x:", false),
        ] {
            assert_eq!(valid_origin(s), ok, "{s}");
        }
    }
}
