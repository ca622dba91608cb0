//! The one small cryptographic interface of the exchange: SM2 signatures and SM3 hashes.
//!
//! The rest of [`crate::exchange`] uses only [`KeyPair`], [`PublicKey`] and [`sm3_hex`], so the
//! algorithms can be swapped here without touching the bundle format code.
//!
//! - Signatures are SM2 (GM/T 0003) over SM3, with the distinguishing identifier [`SM2_ID`],
//!   encoded as the 64 bytes `r ‖ s` (each 32 bytes, big-endian). Signing derives the nonce
//!   deterministically (RFC 6979 with SM3), so the same key and message give the same signature.
//! - Public keys travel as hex of their uncompressed SEC1 encoding (`04 ‖ x ‖ y`, 65 bytes).
//! - A key id is the first 16 lowercase hex digits of the SM3 of those 65 bytes.
//! - Secret keys are stored as 64 lowercase hex digits of the big-endian secret scalar.

use std::fmt;

use sm2::NonZeroScalar;
use sm2::dsa::signature::{Signer, Verifier};
use sm2::dsa::{Signature, SigningKey, VerifyingKey};
use sm2::elliptic_curve::Generate;
use sm2::elliptic_curve::sec1::ToSec1Point;
use sm3::{Digest, Sm3};

/// The SM2 distinguishing identifier (`IDA` of GM/T 0003) bound into every exchange signature.
///
/// Deliberately not the SM2 default `1234567812345678`: a signature made for another purpose
/// with the same key does not verify as an exchange signature.
pub const SM2_ID: &str = "anxu-exchange";

/// Length of a secret key in bytes.
const SECRET_LEN: usize = 32;

/// Number of hex digits of a key id.
const KEY_ID_LEN: usize = 16;

/// Why a key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The text is not hexadecimal.
    #[error("the key is not hexadecimal")]
    Hex,
    /// A secret key must be exactly 32 bytes.
    #[error("a secret key is 32 bytes (64 hex digits)")]
    SecretLength,
    /// The bytes are zero or not below the SM2 group order.
    #[error("not a valid SM2 secret key")]
    InvalidSecret,
    /// The bytes are not a SEC1-encoded point on the SM2 curve.
    #[error("not a valid SM2 public key")]
    InvalidPublic,
}

/// SM3 of `bytes`, as 64 lowercase hex digits.
pub fn sm3_hex(bytes: &[u8]) -> String {
    hex::encode(Sm3::digest(bytes))
}

/// An SM2 signing key, with its public half.
#[derive(Clone)]
pub struct KeyPair {
    signing: SigningKey,
}

impl KeyPair {
    /// A fresh key from the operating system's random number generator.
    ///
    /// Panics only if the operating system cannot provide randomness.
    pub fn generate() -> Self {
        loop {
            // `from_nonzero_scalar` fails only for an over-long distinguishing identifier
            // (not `SM2_ID`) or an identity public key (impossible for a non-zero scalar);
            // retrying just keeps a panic path out of the code.
            let scalar = NonZeroScalar::generate();
            if let Ok(signing) = SigningKey::from_nonzero_scalar(SM2_ID, scalar) {
                return Self { signing };
            }
        }
    }

    /// Reads a secret key written by [`KeyPair::secret_hex`].
    pub fn from_secret_hex(raw: &str) -> Result<Self, CryptoError> {
        let bytes = hex::decode(raw.trim()).map_err(|_| CryptoError::Hex)?;
        if bytes.len() != SECRET_LEN {
            return Err(CryptoError::SecretLength);
        }
        let signing = SigningKey::from_slice(SM2_ID, &bytes).map_err(|_| CryptoError::InvalidSecret)?;
        Ok(Self { signing })
    }

    /// The secret key as 64 lowercase hex digits, for storing on disk. Handle with care.
    pub fn secret_hex(&self) -> String {
        hex::encode(self.signing.to_bytes())
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey::from_verifying(self.signing.verifying_key().clone())
    }

    /// Signs `msg`: 64 bytes `r ‖ s`.
    ///
    /// Never panics. SM2 signing fails only with negligible probability (a derived nonce giving
    /// `r = 0`, `r + k = n` or `s = 0`); then the result is empty, which no verifier accepts.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let signature: Result<Signature, _> = self.signing.try_sign(msg);
        match signature {
            Ok(signature) => signature.to_bytes().to_vec(),
            Err(_) => Vec::new(),
        }
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair").field("key_id", &self.public().key_id()).finish_non_exhaustive()
    }
}

/// An SM2 public key, for verifying.
#[derive(Clone)]
pub struct PublicKey {
    verifying: VerifyingKey,
    /// Uncompressed SEC1 encoding, the canonical form for hex and key ids.
    sec1: Vec<u8>,
}

impl PublicKey {
    fn from_verifying(verifying: VerifyingKey) -> Self {
        let sec1 = verifying.to_sec1_point(false).as_bytes().to_vec();
        Self { verifying, sec1 }
    }

    /// Hex of the uncompressed SEC1 encoding (130 lowercase hex digits).
    pub fn to_hex(&self) -> String {
        hex::encode(&self.sec1)
    }

    /// Reads hex of a SEC1 encoding (compressed or not); refuses anything not on the curve.
    pub fn from_hex(raw: &str) -> Result<Self, CryptoError> {
        let bytes = hex::decode(raw.trim()).map_err(|_| CryptoError::Hex)?;
        let verifying = VerifyingKey::from_sec1_bytes(SM2_ID, &bytes).map_err(|_| CryptoError::InvalidPublic)?;
        Ok(Self::from_verifying(verifying))
    }

    /// The key id: the first 16 hex digits of the SM3 of the uncompressed SEC1 encoding.
    pub fn key_id(&self) -> String {
        let mut id = sm3_hex(&self.sec1);
        id.truncate(KEY_ID_LEN);
        id
    }

    /// Whether `sig` is a valid signature of `msg` by this key. Any garbage is simply `false`.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match Signature::from_slice(sig) {
            Ok(signature) => self.verifying.verify(msg, &signature).is_ok(),
            Err(_) => false,
        }
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.sec1 == other.sec1
    }
}

impl Eq for PublicKey {}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.key_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed secret, so tests do not depend on the random number generator.
    const SECRET: &str = "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8";

    fn fixed() -> KeyPair {
        KeyPair::from_secret_hex(SECRET).unwrap()
    }

    #[test]
    fn sm3_known_answer() {
        // GB/T 32905 example 1.
        assert_eq!(sm3_hex(b"abc"), "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
    }

    #[test]
    fn sign_and_verify() {
        let key = fixed();
        let public = key.public();
        let sig = key.sign(b"hello");
        assert_eq!(sig.len(), 64);
        assert!(public.verify(b"hello", &sig));
        assert!(!public.verify(b"hellp", &sig));
        assert!(!KeyPair::generate().public().verify(b"hello", &sig));
        // Deterministic nonce: same message, same signature.
        assert_eq!(key.sign(b"hello"), sig);
    }

    #[test]
    fn garbage_signatures_are_false() {
        let public = fixed().public();
        let mut flipped = fixed().sign(b"m");
        if let Some(b) = flipped.get_mut(40) {
            *b ^= 1;
        }
        for sig in [vec![], vec![0; 64], vec![0xff; 64], vec![1; 63], vec![1; 65], flipped] {
            assert!(!public.verify(b"m", &sig), "{sig:?}");
        }
    }

    #[test]
    fn secret_round_trip_and_refusals() {
        let key = KeyPair::generate();
        let again = KeyPair::from_secret_hex(&key.secret_hex()).unwrap();
        assert_eq!(again.public(), key.public());
        assert_eq!(fixed().secret_hex(), SECRET);
        let order = "fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123";
        let zeros = "00".repeat(32);
        let ones = "ff".repeat(32);
        for (raw, err) in [
            ("zz", CryptoError::Hex),
            ("abc", CryptoError::Hex),
            ("00", CryptoError::SecretLength),
            (zeros.as_str(), CryptoError::InvalidSecret),
            (order, CryptoError::InvalidSecret),
            (ones.as_str(), CryptoError::InvalidSecret),
        ] {
            assert_eq!(KeyPair::from_secret_hex(raw).unwrap_err(), err, "{raw}");
        }
    }

    #[test]
    fn public_hex_and_key_id() {
        let public = fixed().public();
        let hex = public.to_hex();
        assert_eq!(hex.len(), 130);
        assert!(hex.starts_with("04"));
        assert_eq!(PublicKey::from_hex(&hex).unwrap(), public);
        let id = public.key_id();
        assert_eq!(id.len(), 16);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert!(hex_prefix_of_sm3(&hex, &id));
        let zeros = "00".repeat(65);
        let bad_tag = format!("05{}", &hex[2..]);
        for raw in ["", "04", "zz", zeros.as_str(), bad_tag.as_str()] {
            assert!(PublicKey::from_hex(raw).is_err(), "{raw}");
        }
    }

    fn hex_prefix_of_sm3(public_hex: &str, id: &str) -> bool {
        sm3_hex(&hex::decode(public_hex).unwrap()).starts_with(id)
    }
}
