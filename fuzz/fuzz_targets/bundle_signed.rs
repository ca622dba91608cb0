//! The bundle reader past the signature: the harness re-signs the fuzzer's header and manifest with the fixed test key
//! (`harness::resign`), so the manifest JSON, its rules, the sizes against the input, the file hashes, and then the
//! `records.json` the importers read (`ApplicationRecords` / `ResultRecords`) and the attachment check
//! (`files::check`) all see fuzzer-made bytes.
#![no_main]

use std::sync::OnceLock;

use anxu_fuzz::exchange::records::{ApplicationRecords, RECORDS_FILE, ResultRecords};
use anxu_fuzz::exchange::{Channel, KeyPair, PublicKey, read_bundle};
use anxu_fuzz::harness::{key, resign, trust};
use anxu_fuzz::invariants::verified_bundle;
use libfuzzer_sys::fuzz_target;

static KEY: OnceLock<(KeyPair, PublicKey)> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let (key, public) = KEY.get_or_init(|| {
        let k = key();
        let p = k.public();
        (k, p)
    });
    let Some(bytes) = resign(data, key) else {
        let _ = read_bundle(data, &trust(public));
        return;
    };
    let Ok(v) = read_bundle(&bytes, &trust(public)) else { return };
    verified_bundle(&bytes, &v);
    if let Some(json) = v.file(RECORDS_FILE) {
        match v.manifest.channel {
            Channel::Applications => {
                if let Ok(records) = serde_json::from_slice::<ApplicationRecords>(json) {
                    let applications = records.applications.iter().filter_map(|e| e.application.as_ref());
                    for m in applications
                        .flat_map(|a| a.materials.iter().chain(a.assessments.iter().filter_map(|s| s.report.as_ref())))
                    {
                        if let Some(body) = v.file(&m.file) {
                            let _ = anxu_fuzz::files::check(&m.name, body, false);
                        }
                    }
                }
            }
            Channel::Results => {
                let _ = serde_json::from_slice::<ResultRecords>(json);
            }
        }
    }
});
