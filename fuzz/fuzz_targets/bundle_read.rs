//! Raw bytes into the bundle reader and verifier (`exchange::read_bundle`), as an uploaded bundle file arrives, with a
//! trust store holding the fixed test key: header parsing, length limits, key lookup, and SM2 verification of
//! arbitrary signatures. The same bytes, as text, go to the key readers (`PublicKey::from_hex`,
//! `KeyPair::from_secret_hex`), which read keys pasted into the trust store or the key file.
#![no_main]

use std::sync::OnceLock;

use anxu_fuzz::exchange::{KeyPair, PublicKey, read_bundle};
use anxu_fuzz::harness::{key, trust};
use anxu_fuzz::invariants::verified_bundle;
use libfuzzer_sys::fuzz_target;

static PUBLIC: OnceLock<PublicKey> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let public = PUBLIC.get_or_init(|| key().public());
    if let Ok(v) = read_bundle(data, &trust(public)) {
        verified_bundle(data, &v);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(p) = PublicKey::from_hex(text) {
            assert_eq!(PublicKey::from_hex(&p.to_hex()).ok().as_ref(), Some(&p));
            assert_eq!(p.key_id().len(), 16);
        }
        if let Ok(k) = KeyPair::from_secret_hex(text) {
            assert_eq!(KeyPair::from_secret_hex(&k.secret_hex()).map(|again| again.public()).ok(), Some(k.public()));
        }
    }
});
