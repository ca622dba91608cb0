//! The format's vocabulary: limits, errors, channels, the manifest and its rules.
//!
//! The byte layout is described in [`crate::exchange`]; writing is in `bundle.rs`, reading in
//! `read.rs`.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The first eight bytes of every bundle.
pub const MAGIC: &[u8; 8] = b"ANXUBNDL";
/// The container version byte, and the manifest's `format`.
pub const FORMAT_VERSION: u8 = 1;
/// Largest manifest accepted, in bytes.
pub const MAX_MANIFEST_LEN: usize = 1 << 20;
/// Largest signature accepted, in bytes.
pub const MAX_SIGNATURE_LEN: usize = 1024;
/// Most files in one bundle.
pub const MAX_FILES: usize = 10_000;
/// Longest file name, in bytes (names are ASCII).
pub const MAX_NAME_LEN: usize = 128;

/// Why a bundle could not be built or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// The input does not start with `ANXUBNDL`.
    #[error("not a bundle (bad magic)")]
    BadMagic,
    /// A container version this code does not know.
    #[error("unsupported bundle version {0}")]
    UnsupportedVersion(u8),
    /// The input ends before a length it announces.
    #[error("the bundle is truncated")]
    Truncated,
    /// A length beyond the format's limits.
    #[error("the {what} is larger than {limit}")]
    TooLarge {
        /// What is too large: `manifest`, `signature` or `files`.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// The header's key id is empty or not printable ASCII.
    #[error("the bundle's key id is malformed")]
    BadKeyId,
    /// The header names a key that is not trusted.
    #[error("the bundle is signed by an unknown key {0}")]
    UnknownKey(String),
    /// The signature does not verify under the named key.
    #[error("the bundle's signature is not valid")]
    BadSignature,
    /// The signed manifest is not the expected JSON.
    #[error("the manifest is not valid: {0}")]
    Json(String),
    /// The manifest's `format` is not 1.
    #[error("unsupported manifest format {0}")]
    UnsupportedFormat(u32),
    /// A manifest value breaks a rule (sequence 0, malformed previous hash).
    #[error("the manifest is not valid: {0}")]
    BadManifest(&'static str),
    /// The manifest names another key than the header.
    #[error("the manifest claims key {manifest} but the header names {header}")]
    KeyIdMismatch {
        /// Key id in the header (the key that verified the signature).
        header: String,
        /// Key id in the manifest.
        manifest: String,
    },
    /// More bytes follow the last file than the manifest accounts for.
    #[error("the bundle has bytes after its last file")]
    TrailingBytes,
    /// A file's content does not match the hash in the manifest.
    #[error("file {name} does not match its hash")]
    FileHash {
        /// The file's name.
        name: String,
    },
    /// A file name breaks the naming rule.
    #[error("invalid file name {0:?}")]
    BadFileName(String),
    /// Two files share a name.
    #[error("duplicate file name {0:?}")]
    DuplicateFileName(String),
}

/// Which way a bundle travels; each channel has its own sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// Intranet → portal: decisions and results to publish.
    Results,
    /// Portal → intranet: applications submitted on the portal.
    Applications,
}

impl Channel {
    /// Every channel.
    pub const ALL: [Channel; 2] = [Channel::Results, Channel::Applications];

    /// The code used in manifests and storage.
    pub fn code(self) -> &'static str {
        match self {
            Self::Results => "results",
            Self::Applications => "applications",
        }
    }

    /// The channel with this code.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == raw)
    }
}

/// One attached file as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// File name, see [`check_name`].
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// SM3 of the content, 64 lowercase hex digits.
    pub sm3: String,
}

/// The signed description of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always 1.
    pub format: u32,
    /// Which way the bundle travels.
    pub channel: Channel,
    /// Position in the channel, from 1.
    pub sequence: u64,
    /// [`super::bundle_hash`] of the previous bundle of the channel; `None` for the first.
    pub prev_hash: Option<String>,
    /// When the bundle was made (RFC 3339).
    pub created_at: DateTime<Utc>,
    /// Key id of the signing key, equal to the one in the header.
    pub key_id: String,
    /// The attached files, in the order their bytes follow the signature.
    pub files: Vec<FileEntry>,
}

impl Manifest {
    /// Checks everything about a parsed manifest but the file contents.
    pub(super) fn check(&self, header_key_id: &str) -> Result<(), BundleError> {
        if self.format != u32::from(FORMAT_VERSION) {
            return Err(BundleError::UnsupportedFormat(self.format));
        }
        if self.sequence == 0 {
            return Err(BundleError::BadManifest("sequence must be at least 1"));
        }
        if self.prev_hash.as_deref().is_some_and(|h| !is_hash(h)) {
            return Err(BundleError::BadManifest("prev_hash must be 64 lowercase hex digits"));
        }
        if self.key_id != header_key_id {
            return Err(BundleError::KeyIdMismatch { header: header_key_id.to_owned(), manifest: self.key_id.clone() });
        }
        if self.files.len() > MAX_FILES {
            return Err(BundleError::TooLarge { what: "files", limit: MAX_FILES });
        }
        let mut seen = BTreeSet::new();
        for file in &self.files {
            check_name(&file.name)?;
            if !seen.insert(file.name.as_str()) {
                return Err(BundleError::DuplicateFileName(file.name.clone()));
            }
        }
        Ok(())
    }
}

/// Whether `raw` looks like an SM3 hex digest (64 lowercase hex digits).
fn is_hash(raw: &str) -> bool {
    raw.len() == 64 && raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The naming rule: 1 to 128 of `A-Z a-z 0-9 . _ -`, not starting with `.`.
pub fn check_name(name: &str) -> Result<(), BundleError> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
    let ok = (1..=MAX_NAME_LEN).contains(&name.len()) && !name.starts_with('.') && name.bytes().all(allowed);
    if ok { Ok(()) } else { Err(BundleError::BadFileName(name.to_owned())) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::crypto::sm3_hex;

    #[test]
    fn channel_codes() {
        for channel in Channel::ALL {
            assert_eq!(Channel::parse(channel.code()), Some(channel));
            let json = serde_json::to_string(&channel).unwrap();
            assert_eq!(json, format!("\"{}\"", channel.code()));
        }
        assert_eq!(Channel::parse("Results"), None);
    }

    #[test]
    fn manifest_checks() {
        let good = Manifest {
            format: 1,
            channel: Channel::Results,
            sequence: 2,
            prev_hash: Some(sm3_hex(b"previous")),
            created_at: Utc::now(),
            key_id: "k".into(),
            files: vec![FileEntry { name: "a".into(), size: 0, sm3: sm3_hex(b"") }],
        };
        assert_eq!(good.check("k"), Ok(()));
        let cases: [(fn(&mut Manifest), BundleError); 6] = [
            (|m: &mut Manifest| m.format = 2, BundleError::UnsupportedFormat(2)),
            (|m: &mut Manifest| m.sequence = 0, BundleError::BadManifest("sequence must be at least 1")),
            (
                |m: &mut Manifest| m.prev_hash = Some("ABC".into()),
                BundleError::BadManifest("prev_hash must be 64 lowercase hex digits"),
            ),
            (
                |m: &mut Manifest| m.key_id = "other".into(),
                BundleError::KeyIdMismatch { header: "k".into(), manifest: "other".into() },
            ),
            (|m: &mut Manifest| m.files[0].name = ".x".into(), BundleError::BadFileName(".x".into())),
            (|m: &mut Manifest| m.files.push(m.files[0].clone()), BundleError::DuplicateFileName("a".into())),
        ];
        for (change, err) in cases {
            let mut m = good.clone();
            change(&mut m);
            assert_eq!(m.check("k"), Err(err));
        }
    }
}
