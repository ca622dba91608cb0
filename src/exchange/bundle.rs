//! Writing a bundle: the builder and the byte layout. See [`crate::exchange`] for the format.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::crypto::{KeyPair, sm3_hex};
use super::format::{
    BundleError, Channel, FORMAT_VERSION, FileEntry, MAGIC, MAX_FILES, MAX_MANIFEST_LEN, Manifest, check_name,
};

/// The JSON one file entry adds besides its name and the digits of its size:
/// `{"name":"","size":,"sm3":"<64 hex digits>"},` is 93 bytes.
const ENTRY_OVERHEAD: usize = 93;
/// Room kept in the manifest for everything but the file entries (about 250 bytes are used).
const MANIFEST_HEADROOM: usize = 1024;

/// Collects files, then writes and signs a bundle.
#[derive(Debug, Clone)]
pub struct BundleBuilder {
    channel: Channel,
    sequence: u64,
    prev_hash: Option<String>,
    files: Vec<(String, Vec<u8>)>,
    names: BTreeSet<String>,
    /// Upper bound of the bytes the file entries add to the manifest.
    entries_len: usize,
}

impl BundleBuilder {
    /// Starts bundle `sequence` (from 1) of `channel`; `prev_hash` is the [`super::bundle_hash`]
    /// of the previous bundle, `None` for the first. Readers refuse sequence 0 and a
    /// `prev_hash` that is not 64 lowercase hex digits.
    pub fn new(channel: Channel, sequence: u64, prev_hash: Option<String>) -> Self {
        Self { channel, sequence, prev_hash, files: Vec::new(), names: BTreeSet::new(), entries_len: 0 }
    }

    /// Attaches a file; refuses a bad or repeated name, or more than the manifest can list.
    pub fn add_file(&mut self, name: &str, bytes: &[u8]) -> Result<&mut Self, BundleError> {
        check_name(name)?;
        if self.names.contains(name) {
            return Err(BundleError::DuplicateFileName(name.to_owned()));
        }
        if self.files.len() >= MAX_FILES {
            return Err(BundleError::TooLarge { what: "files", limit: MAX_FILES });
        }
        let size_digits = bytes.len().to_string().len();
        let entries_len = self.entries_len + ENTRY_OVERHEAD + name.len() + size_digits;
        if entries_len > MAX_MANIFEST_LEN - MANIFEST_HEADROOM {
            return Err(BundleError::TooLarge { what: "manifest", limit: MAX_MANIFEST_LEN });
        }
        self.entries_len = entries_len;
        self.names.insert(name.to_owned());
        self.files.push((name.to_owned(), bytes.to_vec()));
        Ok(self)
    }

    /// Writes the bundle, signed by `key`.
    pub fn finish(&self, key: &KeyPair, created_at: DateTime<Utc>) -> Vec<u8> {
        let key_id = key.public().key_id();
        let manifest = Manifest {
            format: u32::from(FORMAT_VERSION),
            channel: self.channel,
            sequence: self.sequence,
            prev_hash: self.prev_hash.clone(),
            created_at,
            key_id: key_id.clone(),
            files: self
                .files
                .iter()
                .map(|(name, bytes)| FileEntry { name: name.clone(), size: bytes.len() as u64, sm3: sm3_hex(bytes) })
                .collect(),
        };
        // Serializing plain strings, numbers and a timestamp cannot fail; were it to, the empty
        // manifest would be refused by every reader rather than panic here.
        let json = serde_json::to_vec(&manifest).unwrap_or_default();
        encode(key, &key_id, &json, self.files.iter().map(|(_, b)| b.as_slice()))
    }
}

/// Lays out a bundle: header with `key_id`, `manifest`, the signature by `key` over everything
/// before it, then the file bodies. Lengths that do not fit are written so readers refuse them.
pub(super) fn encode<'a>(
    key: &KeyPair,
    key_id: &str,
    manifest: &[u8],
    bodies: impl IntoIterator<Item = &'a [u8]>,
) -> Vec<u8> {
    let id = key_id.as_bytes();
    let id = id.get(..usize::from(u8::MAX)).unwrap_or(id);
    let mut out = Vec::with_capacity(MAGIC.len() + 2 + id.len() + 4 + manifest.len() + 68);
    out.extend_from_slice(MAGIC);
    out.push(FORMAT_VERSION);
    out.push(u8::try_from(id.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(id);
    push_len(&mut out, manifest.len());
    out.extend_from_slice(manifest);
    let signature = key.sign(&out);
    push_len(&mut out, signature.len());
    out.extend_from_slice(&signature);
    for body in bodies {
        out.extend_from_slice(body);
    }
    out
}

/// Appends a u32 big-endian length.
fn push_len(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::format::MAX_NAME_LEN;

    #[test]
    fn builder_refuses_bad_names() {
        let long_ok = "a".repeat(MAX_NAME_LEN);
        let too_long = "a".repeat(MAX_NAME_LEN + 1);
        for (name, ok) in [
            ("a", true),
            ("results-2024_05.csv", true),
            ("-x", true),
            ("a..b", true),
            (long_ok.as_str(), true),
            ("", false),
            (".hidden", false),
            ("..", false),
            ("a/b", false),
            ("a\\b", false),
            ("a b", false),
            ("名单.csv", false),
            ("a\0", false),
            (too_long.as_str(), false),
        ] {
            let mut builder = BundleBuilder::new(Channel::Results, 1, None);
            assert_eq!(builder.add_file(name, b"x").is_ok(), ok, "{name:?}");
        }
        let mut builder = BundleBuilder::new(Channel::Results, 1, None);
        builder.add_file("a", b"1").unwrap();
        assert_eq!(builder.add_file("a", b"2").unwrap_err(), BundleError::DuplicateFileName("a".into()));
    }

    #[test]
    fn builder_keeps_the_manifest_within_limits() {
        let mut builder = BundleBuilder::new(Channel::Applications, 1, None);
        let mut refused = None;
        for i in 0..=MAX_FILES {
            let name = format!("{i:0>120}");
            if let Err(e) = builder.add_file(&name, b"") {
                refused = Some(e);
                break;
            }
        }
        assert!(matches!(refused, Some(BundleError::TooLarge { .. })));
        let key = KeyPair::generate();
        let bytes = builder.finish(&key, Utc::now());
        let manifest_len = bytes.get(26..30).map(|b| u32::from_be_bytes(b.try_into().unwrap())).unwrap();
        assert!(manifest_len as usize <= MAX_MANIFEST_LEN);
    }

    #[test]
    fn header_layout() {
        let key = KeyPair::generate();
        let mut builder = BundleBuilder::new(Channel::Results, 1, None);
        builder.add_file("a", b"xyz").unwrap();
        let bytes = builder.finish(&key, Utc::now());
        assert_eq!(&bytes[..8], MAGIC);
        assert_eq!(bytes[8], FORMAT_VERSION);
        assert_eq!(bytes[9], 16);
        assert_eq!(&bytes[10..26], key.public().key_id().as_bytes());
        assert!(bytes.ends_with(b"xyz"));
    }
}
