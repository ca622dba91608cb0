//! Signed bundles: the only way data crosses between the police intranet and the portal.
//!
//! The intranet and the internet-facing portal share no network; only files are carried
//! across. A bundle is one such file: a manifest, a detached SM2 signature over the header and
//! the manifest, and the attached files. Channel `results` runs intranet → portal, channel
//! `applications` portal → intranet; each is its own numbered, hash-chained sequence.
//!
//! # Byte layout (version 1)
//!
//! Integers are unsigned and big-endian. `K`, `M` and `S` are lengths read from the header.
//!
//! | Offset         | Size | Content                                                           |
//! |----------------|------|-------------------------------------------------------------------|
//! | 0              | 8    | magic, ASCII `ANXUBNDL`                                           |
//! | 8              | 1    | container version, `1`                                            |
//! | 9              | 1    | `K`, length of the key id, 1 to 255                               |
//! | 10             | K    | key id, printable ASCII `0x21..=0x7E` (written: 16 lowercase hex) |
//! | 10 + K         | 4    | `M`, manifest length, at most 1 048 576 (1 MiB)                   |
//! | 14 + K         | M    | manifest, UTF-8 JSON                                              |
//! | 14 + K + M     | 4    | `S`, signature length, at most 1024                               |
//! | 18 + K + M     | S    | signature                                                         |
//! | 18 + K + M + S | rest | file contents, back to back in manifest order                     |
//!
//! The file contents must use up the input exactly: their sizes, from the manifest, add up to
//! the number of bytes after the signature; nothing follows the last file.
//!
//! ## Signature and keys
//!
//! The signature covers bytes `0 .. 14 + K + M`: magic, version, key id and manifest, with
//! their lengths. It is SM2 (GM/T 0003.2) with SM3 as the hash and the distinguishing
//! identifier `anxu-exchange` (13 ASCII bytes, so `ENTL` = 104), encoded as 64 bytes `r ‖ s`,
//! each 32 bytes big-endian. The file contents are covered through their SM3 in the manifest.
//!
//! The key id names the signing key: the first 16 lowercase hex digits of the SM3 of the key's
//! uncompressed SEC1 encoding `04 ‖ x ‖ y` (65 bytes). A reader keeps a set of trusted public
//! keys by key id.
//!
//! ## Manifest
//!
//! One JSON object with exactly these members; any other member, here or in a file entry, makes
//! the bundle invalid.
//!
//! | Member       | Value                                                                  |
//! |--------------|------------------------------------------------------------------------|
//! | `format`     | `1`                                                                    |
//! | `channel`    | `"results"` or `"applications"`                                        |
//! | `sequence`   | integer ≥ 1, the bundle's position in its channel                      |
//! | `prev_hash`  | bundle hash of the channel's previous bundle; `null` for the first     |
//! | `created_at` | RFC 3339 timestamp, e.g. `"2025-05-01T08:00:00Z"`                      |
//! | `key_id`     | the key id of the header, repeated                                     |
//! | `files`      | array of at most 10 000 `{"name": …, "size": …, "sm3": …}`             |
//!
//! A file `name` is 1 to 128 characters of `A-Z a-z 0-9 . _ -`, not starting with `.`, unique
//! in the bundle; `size` is its length in bytes; `sm3` is the SM3 of its content as 64
//! lowercase hex digits.
//!
//! The **bundle hash** is the SM3 of the whole bundle file, 64 lowercase hex digits. It is the
//! bundle's identity: the next bundle's `prev_hash`, and how a replay is recognised.
//!
//! ## Reading
//!
//! [`read_bundle`] checks, in this order, and stops at the first failure: magic, version, key
//! id, that the key is trusted, the manifest and signature lengths against the limits and the
//! input, the signature. Only a bundle whose signature verifies has its manifest parsed; then
//! the manifest rules above, that the header and manifest key ids agree, the sizes against the
//! rest of the input, and each file's SM3. A reader for another version refuses the bundle.
//!
//! ## Importing
//!
//! [`classify`] decides, from the channel's applied chain, whether a verified bundle is applied,
//! ignored as a replay, held until a missing earlier bundle arrives, or refused as a fork (same
//! sequence number with other content, or not chained to the last applied bundle). Applying a
//! bundle and recording its hash happen in one transaction, so an import is atomic and importing
//! the same bundle twice changes nothing.
//!
//! All signing and hashing goes through [`KeyPair`], [`PublicKey`] and [`sm3_hex`].

mod bundle;
mod crypto;
mod format;
mod read;
pub mod records;
mod sequence;

#[cfg(test)]
mod tests;

pub use bundle::BundleBuilder;
pub use crypto::{CryptoError, KeyPair, PublicKey, SM2_ID, sm3_hex};
pub use format::{
    BundleError, Channel, FORMAT_VERSION, FileEntry, MAGIC, MAX_FILES, MAX_MANIFEST_LEN, MAX_NAME_LEN,
    MAX_SIGNATURE_LEN, Manifest, check_name,
};
pub use read::{VerifiedBundle, bundle_hash, read_bundle};
pub use sequence::{Disposition, classify, next_ready};
