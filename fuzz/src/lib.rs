//! Shim library for the fuzz targets: compiles anxu's parsers of outside input straight from `../src`, so the fuzz
//! crate never depends on (and never builds) the `anxu` crate and its bundled DuckDB.
//!
//! The modules below sit at the same paths as in the main crate (`crate::exchange`, `crate::files`, `crate::geo`,
//! `crate::domain::region`), so `crate::…` and `super::…` paths inside the included files resolve unchanged.
//! `crate::domain` holds only `region` (what `geo` needs) and a copy of the ten-line `FieldError` that `region`
//! refers to; the other domain modules are not compiled here.
#![forbid(unsafe_code)]
// Only part of each included module is reached from the fuzz targets.
#![allow(dead_code, unused_imports)]

#[path = "../../src/exchange/mod.rs"]
pub mod exchange;

#[path = "../../src/files.rs"]
pub mod files;

#[path = "../../src/geo/mod.rs"]
pub mod geo;

/// The part of `anxu::domain` that `geo` uses (`region` is read from ../src/domain/region.rs).
#[path = "../../src/domain"]
pub mod domain {
    pub mod region;

    /// Copy of `anxu::domain::FieldError` (src/domain/mod.rs), which `region` refers to as `super::FieldError`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct FieldError {
        /// The form field's name.
        pub field: &'static str,
        /// What is wrong, in Chinese.
        pub message: String,
    }

    impl FieldError {
        /// A new error for `field`.
        pub fn new(field: &'static str, message: impl Into<String>) -> Self {
            Self { field, message: message.into() }
        }
    }
}

/// What the targets and the seed generator share: the fixed test key and re-signing.
pub mod harness {
    use crate::exchange::{KeyPair, PublicKey};

    /// The fixed signing key of the fuzz targets (the same test secret as src/exchange/tests.rs). Test data only.
    pub const SECRET: &str = "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8";

    /// The fixed key pair.
    pub fn key() -> KeyPair {
        match KeyPair::from_secret_hex(SECRET) {
            Ok(k) => k,
            Err(e) => panic!("the fixed fuzz key does not parse: {e}"),
        }
    }

    /// A trust store that knows exactly `public`, under its key id.
    pub fn trust(public: &PublicKey) -> impl Fn(&str) -> Option<PublicKey> + '_ {
        move |id: &str| (public.key_id() == id).then(|| public.clone())
    }

    /// If `bytes` has the bundle header layout (magic, version, key id, manifest length and manifest, signature
    /// length), returns a copy whose signature is replaced by a valid signature of `key` over the signed part;
    /// otherwise `None`. The manifest and the file bytes stay exactly as the fuzzer made them, so the reader's checks
    /// after the signature (manifest JSON and rules, sizes, file hashes) become reachable.
    pub fn resign(bytes: &[u8], key: &KeyPair) -> Option<Vec<u8>> {
        let k = usize::from(*bytes.get(9)?);
        let m_at = 10 + k;
        let m = u32::from_be_bytes(bytes.get(m_at..m_at + 4)?.try_into().ok()?) as usize;
        let signed_end = m_at.checked_add(4)?.checked_add(m)?;
        let s_at = signed_end;
        let s = u32::from_be_bytes(bytes.get(s_at..s_at + 4)?.try_into().ok()?) as usize;
        let rest_at = s_at.checked_add(4)?.checked_add(s)?;
        let signed = bytes.get(..signed_end)?;
        let rest = bytes.get(rest_at..)?;
        let signature = key.sign(signed);
        let mut out = Vec::with_capacity(signed.len() + 4 + signature.len() + rest.len());
        out.extend_from_slice(signed);
        out.extend_from_slice(&u32::try_from(signature.len()).ok()?.to_be_bytes());
        out.extend_from_slice(&signature);
        out.extend_from_slice(rest);
        Some(out)
    }
}

/// Invariants every target asserts about an accepted input.
pub mod invariants {
    use crate::exchange::{VerifiedBundle, bundle_hash, check_name, sm3_hex};

    /// A bundle `read_bundle` accepted: its hash is the input's, its files are the manifest's (names, sizes, hashes)
    /// and they use up the input exactly.
    pub fn verified_bundle(input: &[u8], v: &VerifiedBundle) {
        assert_eq!(v.hash, bundle_hash(input));
        let files: Vec<(&str, &[u8])> = v.files().collect();
        assert_eq!(files.len(), v.manifest.files.len());
        let mut total = 0usize;
        for ((name, body), entry) in files.iter().zip(&v.manifest.files) {
            assert_eq!(*name, entry.name);
            assert!(check_name(name).is_ok(), "{name:?}");
            assert_eq!(body.len() as u64, entry.size);
            assert_eq!(sm3_hex(body), entry.sm3);
            assert_eq!(v.file(name), Some(*body));
            total += body.len();
        }
        assert!(input.ends_with(&files.iter().flat_map(|(_, b)| b.iter().copied()).collect::<Vec<u8>>()));
        assert!(total < input.len());
    }
}
