//! Tests of the format end to end: build, read, and refuse every kind of damage.

use serde_json::{Value, json};

use super::bundle::encode;
use super::crypto::sm3_hex;
use super::format::{MAGIC, MAX_MANIFEST_LEN, MAX_SIGNATURE_LEN};
use super::*;

const SECRET_A: &str = "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8";
const SECRET_B: &str = "128b2fa8bd433c6c068c8d803dff79792a519a55171b1b650c23661d15897263";
const WHEN: &str = "2025-05-01T08:00:00Z";

fn key(secret: &str) -> KeyPair {
    KeyPair::from_secret_hex(secret).unwrap()
}

/// Trusts exactly these keys.
fn trust(keys: &[&KeyPair]) -> impl Fn(&str) -> Option<PublicKey> + use<> {
    let publics: Vec<PublicKey> = keys.iter().map(|k| k.public()).collect();
    move |id: &str| publics.iter().find(|p| p.key_id() == id).cloned()
}

/// Three files: text, empty, every byte value.
fn sample(key: &KeyPair) -> Vec<u8> {
    let binary: Vec<u8> = (0..=255).collect();
    let mut builder = BundleBuilder::new(Channel::Results, 3, Some(bundle_hash(b"two")));
    builder
        .add_file("decisions.csv", b"id,result\n1,approved\n")
        .unwrap()
        .add_file("empty.txt", b"")
        .unwrap()
        .add_file("map.bin", &binary)
        .unwrap();
    builder.finish(key, WHEN.parse().unwrap())
}

/// A small bundle, to mutate byte by byte.
fn small(key: &KeyPair) -> Vec<u8> {
    let mut builder = BundleBuilder::new(Channel::Applications, 1, None);
    builder.add_file("a", b"xyz").unwrap();
    builder.add_file("e", b"").unwrap();
    builder.add_file("b", &[0, 255, 7]).unwrap();
    builder.finish(key, WHEN.parse().unwrap())
}

/// A manifest for the one file `a` = `xyz`, as JSON to edit.
fn manifest_json(key_id: &str) -> Value {
    json!({
        "format": 1,
        "channel": "applications",
        "sequence": 1,
        "prev_hash": null,
        "created_at": WHEN,
        "key_id": key_id,
        "files": [{ "name": "a", "size": 3, "sm3": sm3_hex(b"xyz") }],
    })
}

/// Honestly signs `manifest` with `key`, naming `key` in the header.
fn signed(key: &KeyPair, manifest: &Value, bodies: &[&[u8]]) -> Vec<u8> {
    let json = serde_json::to_vec(manifest).unwrap();
    encode(key, &key.public().key_id(), &json, bodies.iter().copied())
}

#[test]
fn round_trip_three_files() {
    let a = key(SECRET_A);
    let bytes = sample(&a);
    let got = read_bundle(&bytes, &trust(&[&a])).unwrap();
    assert_eq!(got.hash, bundle_hash(&bytes));
    let m = &got.manifest;
    assert_eq!((m.format, m.channel, m.sequence), (1, Channel::Results, 3));
    assert_eq!(m.prev_hash, Some(bundle_hash(b"two")));
    assert_eq!(m.created_at, WHEN.parse::<chrono::DateTime<chrono::Utc>>().unwrap());
    assert_eq!(m.key_id, a.public().key_id());
    let names: Vec<&str> = got.files().map(|(n, _)| n).collect();
    assert_eq!(names, ["decisions.csv", "empty.txt", "map.bin"]);
    let sizes: Vec<u64> = m.files.iter().map(|f| f.size).collect();
    assert_eq!(sizes, [21, 0, 256]);
    assert_eq!(got.file("decisions.csv"), Some(&b"id,result\n1,approved\n"[..]));
    assert_eq!(got.file("empty.txt"), Some(&b""[..]));
    let binary: Vec<u8> = (0..=255).collect();
    assert_eq!(got.file("map.bin"), Some(binary.as_slice()));
    assert_eq!(got.file("missing"), None);
    // Deterministic signatures: the same content gives the same bundle and hash.
    assert_eq!(sample(&a), bytes);
}

#[test]
fn every_bit_flip_is_refused() {
    let a = key(SECRET_A);
    let trusted = trust(&[&a]);
    let bytes = small(&a);
    assert!(read_bundle(&bytes, &trusted).is_ok());
    for pos in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[pos] ^= 1u8 << (pos % 8);
        assert!(read_bundle(&bad, &trusted).is_err(), "flip at {pos} accepted");
    }
}

#[test]
fn every_truncation_and_extension_is_refused() {
    let a = key(SECRET_A);
    let trusted = trust(&[&a]);
    let bytes = small(&a);
    for len in 0..bytes.len() {
        assert!(read_bundle(&bytes[..len], &trusted).is_err(), "cut at {len} accepted");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(read_bundle(&longer, &trusted), Err(BundleError::TrailingBytes));
}

#[test]
fn keys_must_be_trusted_and_match() {
    let (a, b) = (key(SECRET_A), key(SECRET_B));
    let (a_id, b_id) = (a.public().key_id(), b.public().key_id());
    let bytes = small(&a);
    let unknown = Err(BundleError::UnknownKey(a_id.clone()));
    assert_eq!(read_bundle(&bytes, &trust(&[&b])), unknown);
    assert_eq!(read_bundle(&bytes, &trust(&[])), unknown);

    // Signed by A, header and manifest claiming B.
    let claims_b = serde_json::to_vec(&manifest_json(&b_id)).unwrap();
    let forged = encode(&a, &b_id, &claims_b, [b"xyz".as_slice()]);
    let both = trust(&[&a, &b]);
    assert_eq!(read_bundle(&forged, &both), Err(BundleError::BadSignature));
    // A trust store filing A's key under B's id does not help.
    let confused = |id: &str| (id == b_id).then(|| a.public());
    assert_eq!(read_bundle(&forged, &confused), Err(BundleError::UnknownKey(b_id.clone())));
    // Honestly signed by A with A in the header, but the manifest claims B.
    let mixed = encode(&a, &a_id, &claims_b, [b"xyz".as_slice()]);
    let mismatch = BundleError::KeyIdMismatch { header: a_id, manifest: b_id };
    assert_eq!(read_bundle(&mixed, &both), Err(mismatch));
}

#[test]
fn signed_manifest_rules() {
    let a = key(SECRET_A);
    let trusted = trust(&[&a]);
    let good = manifest_json(&a.public().key_id());
    assert!(read_bundle(&signed(&a, &good, &[b"xyz".as_slice()]), &trusted).is_ok());
    let dup = json!({ "name": "a", "size": 0, "sm3": sm3_hex(b"") });
    let cases: [(fn(&mut Value, &Value), Option<BundleError>); 13] = [
        (|m: &mut Value, _: &Value| m["extra"] = json!(1), None),
        (|m: &mut Value, _: &Value| m["files"][0]["mode"] = json!(1), None),
        (|m: &mut Value, _: &Value| m["channel"] = json!("other"), None),
        (|m: &mut Value, _: &Value| m["created_at"] = json!("yesterday"), None),
        (|m: &mut Value, _: &Value| m["sequence"] = json!(-1), None),
        (|m: &mut Value, _: &Value| m["format"] = json!(2), Some(BundleError::UnsupportedFormat(2))),
        (
            |m: &mut Value, _: &Value| m["sequence"] = json!(0),
            Some(BundleError::BadManifest("sequence must be at least 1")),
        ),
        (
            |m: &mut Value, _: &Value| m["prev_hash"] = json!("xyz"),
            Some(BundleError::BadManifest("prev_hash must be 64 lowercase hex digits")),
        ),
        (|m: &mut Value, _: &Value| m["files"][0]["name"] = json!(".a"), Some(BundleError::BadFileName(".a".into()))),
        (
            |m: &mut Value, dup: &Value| m["files"] = json!([m["files"][0].clone(), dup]),
            Some(BundleError::DuplicateFileName("a".into())),
        ),
        (
            |m: &mut Value, _: &Value| m["files"][0]["sm3"] = json!(sm3_hex(b"xyy")),
            Some(BundleError::FileHash { name: "a".into() }),
        ),
        (|m: &mut Value, _: &Value| m["files"][0]["size"] = json!(2), Some(BundleError::TrailingBytes)),
        (|m: &mut Value, _: &Value| m["files"][0]["size"] = json!(u64::MAX), Some(BundleError::Truncated)),
    ];
    for (i, (change, expected)) in cases.into_iter().enumerate() {
        let mut m = good.clone();
        change(&mut m, &dup);
        let got = read_bundle(&signed(&a, &m, &[b"xyz".as_slice()]), &trusted);
        match expected {
            Some(err) => assert_eq!(got, Err(err), "case {i}"),
            None => assert!(matches!(got, Err(BundleError::Json(_))), "case {i}: {got:?}"),
        }
    }
}

#[test]
fn header_rules() {
    let a = key(SECRET_A);
    let trusted = trust(&[&a]);
    let bytes = small(&a);
    let sig_len_at = 30 + u32::from_be_bytes(bytes[26..30].try_into().unwrap()) as usize;
    let too_big_manifest = BundleError::TooLarge { what: "manifest", limit: MAX_MANIFEST_LEN };
    let too_big_signature = BundleError::TooLarge { what: "signature", limit: MAX_SIGNATURE_LEN };
    let cases: [(usize, &[u8], BundleError); 6] = [
        (0, b"X", BundleError::BadMagic),
        (8, &[2], BundleError::UnsupportedVersion(2)),
        (9, &[0], BundleError::BadKeyId),
        (10, b" ", BundleError::BadKeyId),
        (26, &[0xff; 4], too_big_manifest),
        (sig_len_at, &[0, 0, 4, 1], too_big_signature),
    ];
    for (at, patch, err) in cases {
        let mut bad = bytes.clone();
        bad[at..at + patch.len()].copy_from_slice(patch);
        assert_eq!(read_bundle(&bad, &trusted), Err(err), "patch at {at}");
    }
    let shorts: [&[u8]; 4] = [b"", b"ANXU", b"ANXUBNDL", b"ANXUBNDL\x01"];
    for short in shorts {
        assert_eq!(read_bundle(short, &trusted), Err(BundleError::Truncated));
    }
}

/// xorshift64: deterministic, no extra crates.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

#[test]
fn garbage_never_panics() {
    let a = key(SECRET_A);
    let trusted = trust(&[&a]);
    let id = a.public().key_id();
    let valid = small(&a);
    let lengths = [0, 1, 64, 200, 1024, 1025, MAX_MANIFEST_LEN + 1, u32::MAX as usize];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..2000 {
        let input = match i % 10 {
            // Pure noise.
            0..=4 => {
                let n = rng.below(120);
                rng.bytes(n)
            }
            // Right magic, then a header of plausible and implausible lengths.
            5 | 6 => {
                let mut v = MAGIC.to_vec();
                v.push(if rng.below(8) == 0 { rng.next_u64() as u8 } else { 1 });
                if rng.below(2) == 0 {
                    v.push(16);
                    v.extend_from_slice(id.as_bytes());
                } else {
                    let n = rng.below(40);
                    v.push(n as u8);
                    v.extend(rng.bytes(n));
                }
                for _ in 0..rng.below(3) {
                    let len = lengths[rng.below(lengths.len())];
                    v.extend_from_slice(&(len as u32).to_be_bytes());
                    let n = rng.below(300);
                    v.extend(rng.bytes(n));
                }
                v
            }
            // Signed by the trusted key, but the manifest is noise or has odd sizes.
            7 => {
                let tail = rng.below(50);
                if rng.below(2) == 0 {
                    let n = rng.below(200);
                    encode(&a, &id, &rng.bytes(n), [rng.bytes(tail).as_slice()])
                } else {
                    let mut m = manifest_json(&id);
                    let size = [0, 3, tail as u64, u64::MAX, rng.next_u64()][rng.below(5)];
                    m["files"][0]["size"] = json!(size);
                    encode(&a, &id, &serde_json::to_vec(&m).unwrap(), [rng.bytes(tail).as_slice()])
                }
            }
            // A valid bundle with a few bytes changed.
            8 => {
                let mut v = valid.clone();
                for _ in 0..=rng.below(3) {
                    let at = rng.below(v.len());
                    v[at] = rng.next_u64() as u8;
                }
                v
            }
            // A valid bundle cut short, with noise after.
            _ => {
                let mut v = valid[..rng.below(valid.len())].to_vec();
                let n = rng.below(80);
                v.extend(rng.bytes(n));
                v
            }
        };
        let got = read_bundle(&input, &trusted);
        if i % 10 <= 4 {
            assert!(got.is_err(), "noise accepted: {input:?}");
        }
    }
}
