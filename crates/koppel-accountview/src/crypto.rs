//! Tokens at rest: AES-256-GCM with a key from the operator's configuration, a fresh random nonce
//! per value, stored as base64 of nonce and ciphertext.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const NONCE_BYTES: usize = 12;

/// A value that must never reach a log: `Debug` prints `***`.
#[derive(Clone, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("the encryption key must be 32 bytes, given as 64 hex digits or base64")]
    BadKey,
    #[error("a stored value could not be decrypted (wrong key or damaged value)")]
    Undecryptable,
}

/// Encrypts and decrypts values with one key.
#[derive(Clone)]
pub struct Cipher(Aes256Gcm);

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(***)")
    }
}

impl Cipher {
    /// A key of 32 bytes as 64 hex digits or as base64.
    pub fn from_key_text(text: &Secret) -> Result<Cipher, CryptoError> {
        let text = text.expose().trim();
        let bytes = if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&text[i * 2..i * 2 + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| CryptoError::BadKey)?
        } else {
            STANDARD.decode(text).map_err(|_| CryptoError::BadKey)?
        };
        let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| CryptoError::BadKey)?;
        Ok(Cipher(cipher))
    }

    pub fn encrypt(&self, plain: &str) -> String {
        let nonce_bytes: [u8; NONCE_BYTES] = rand::random();
        let ciphertext = self
            .0
            .encrypt(Nonce::from_slice(&nonce_bytes), plain.as_bytes())
            .expect("AES-GCM encryption of a short value cannot fail");
        let mut stored = nonce_bytes.to_vec();
        stored.extend(ciphertext);
        STANDARD.encode(stored)
    }

    pub fn decrypt(&self, stored: &str) -> Result<String, CryptoError> {
        let bytes = STANDARD.decode(stored).map_err(|_| CryptoError::Undecryptable)?;
        if bytes.len() <= NONCE_BYTES {
            return Err(CryptoError::Undecryptable);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let plain = self
            .0
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| CryptoError::Undecryptable)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Undecryptable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_differ_each_time() {
        let cipher = Cipher::from_key_text(&Secret::new("00".repeat(32))).unwrap();
        let first = cipher.encrypt("geheim-token");
        let second = cipher.encrypt("geheim-token");
        assert_ne!(first, second, "a fresh nonce per value");
        assert!(!first.contains("geheim"));
        assert_eq!(cipher.decrypt(&first).unwrap(), "geheim-token");
        let other = Cipher::from_key_text(&Secret::new("11".repeat(32))).unwrap();
        assert_eq!(other.decrypt(&first), Err(CryptoError::Undecryptable));
        assert_eq!(format!("{:?}", Secret::new("x")), "***");
        assert!(Cipher::from_key_text(&Secret::new("short")).is_err());
    }
}
