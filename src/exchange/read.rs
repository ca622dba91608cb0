//! Reading a bundle: the signature is verified before anything but the header is looked at.

use super::crypto::{PublicKey, sm3_hex};
use super::format::{BundleError, FORMAT_VERSION, MAGIC, MAX_MANIFEST_LEN, MAX_SIGNATURE_LEN, Manifest};

/// A bundle whose signature, manifest and file hashes all checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBundle {
    /// The signed manifest.
    pub manifest: Manifest,
    /// [`bundle_hash`] of the whole input.
    pub hash: String,
    files: Vec<(String, Vec<u8>)>,
}

impl VerifiedBundle {
    /// The content of the file called `name`.
    pub fn file(&self, name: &str) -> Option<&[u8]> {
        self.files.iter().find(|(n, _)| n == name).map(|(_, b)| b.as_slice())
    }

    /// Every file, name and content, in manifest order.
    pub fn files(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.files.iter().map(|(n, b)| (n.as_str(), b.as_slice()))
    }
}

/// The identity of a bundle: SM3 of its whole file, 64 lowercase hex digits.
pub fn bundle_hash(bytes: &[u8]) -> String {
    sm3_hex(bytes)
}

/// Reads and verifies a bundle.
///
/// `trusted` maps a key id to the trusted public key with that id. Order of checks: magic,
/// version, header key id, key lookup, lengths, signature; only then the manifest JSON, its
/// rules, the file sizes against the input and each file's SM3.
pub fn read_bundle(bytes: &[u8], trusted: &dyn Fn(&str) -> Option<PublicKey>) -> Result<VerifiedBundle, BundleError> {
    let mut input = Cursor { all: bytes, pos: 0 };
    if input.take(MAGIC.len())? != MAGIC.as_slice() {
        return Err(BundleError::BadMagic);
    }
    let version = input.byte()?;
    if version != FORMAT_VERSION {
        return Err(BundleError::UnsupportedVersion(version));
    }
    let id_len = usize::from(input.byte()?);
    let key_id = std::str::from_utf8(input.take(id_len)?)
        .ok()
        .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or(BundleError::BadKeyId)?;
    // A trust store that files a key under the wrong id is treated as not knowing the id.
    let key = trusted(key_id)
        .filter(|key| key.key_id() == key_id)
        .ok_or_else(|| BundleError::UnknownKey(key_id.to_owned()))?;

    let manifest_len = input.length("manifest", MAX_MANIFEST_LEN)?;
    let manifest_bytes = input.take(manifest_len)?;
    let signed = input.consumed();
    let signature_len = input.length("signature", MAX_SIGNATURE_LEN)?;
    let signature = input.take(signature_len)?;
    if !key.verify(signed, signature) {
        return Err(BundleError::BadSignature);
    }

    let manifest: Manifest = serde_json::from_slice(manifest_bytes).map_err(|e| BundleError::Json(e.to_string()))?;
    manifest.check(key_id)?;
    let announced =
        manifest.files.iter().try_fold(0u64, |sum, f| sum.checked_add(f.size)).ok_or(BundleError::Truncated)?;
    let present = input.rest().len() as u64;
    if announced > present {
        return Err(BundleError::Truncated);
    }
    if announced < present {
        return Err(BundleError::TrailingBytes);
    }
    let mut files = Vec::with_capacity(manifest.files.len());
    for entry in &manifest.files {
        let size = usize::try_from(entry.size).map_err(|_| BundleError::Truncated)?;
        let body = input.take(size)?;
        if sm3_hex(body) != entry.sm3 {
            return Err(BundleError::FileHash { name: entry.name.clone() });
        }
        files.push((entry.name.clone(), body.to_vec()));
    }
    Ok(VerifiedBundle { manifest, hash: bundle_hash(bytes), files })
}

/// A read position in the input; every read is bounds-checked.
struct Cursor<'a> {
    all: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// The next `n` bytes.
    fn take(&mut self, n: usize) -> Result<&'a [u8], BundleError> {
        let end = self.pos.checked_add(n).ok_or(BundleError::Truncated)?;
        let slice = self.all.get(self.pos..end).ok_or(BundleError::Truncated)?;
        self.pos = end;
        Ok(slice)
    }

    /// The next byte.
    fn byte(&mut self) -> Result<u8, BundleError> {
        self.take(1)?.first().copied().ok_or(BundleError::Truncated)
    }

    /// A u32 big-endian length, at most `limit`.
    fn length(&mut self, what: &'static str, limit: usize) -> Result<usize, BundleError> {
        let raw: [u8; 4] = self.take(4)?.try_into().map_err(|_| BundleError::Truncated)?;
        usize::try_from(u32::from_be_bytes(raw))
            .ok()
            .filter(|len| *len <= limit)
            .ok_or(BundleError::TooLarge { what, limit })
    }

    /// Everything read so far.
    fn consumed(&self) -> &'a [u8] {
        self.all.get(..self.pos).unwrap_or_default()
    }

    /// Everything not read yet.
    fn rest(&self) -> &'a [u8] {
        self.all.get(self.pos..).unwrap_or_default()
    }
}
