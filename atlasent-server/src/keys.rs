//! Key material: the Ed25519 key that signs permits and exports, and the API
//! keys clients authenticate with.

use std::path::Path;

use base64::Engine as _;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signer as _, SigningKey};
use sha2::{Digest, Sha256};

/// The server's signing key.
pub struct Signer {
    key: SigningKey,
    key_id: String,
    public_pem: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// A signing key file that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("signing key {path}: {message}")]
pub struct KeyError {
    path: String,
    message: String,
}

impl Signer {
    /// A fresh random key (not persisted).
    pub fn generate() -> Result<Signer, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError {
            path: "<generated>".into(),
            message: format!("the OS random generator failed: {e}"),
        })?;
        Ok(Signer::from_key(SigningKey::from_bytes(&seed)))
    }

    /// Load a PKCS#8 PEM key from `path`, or create one there (mode 0600).
    pub fn load_or_create(path: &Path) -> Result<Signer, KeyError> {
        let err = |message: String| KeyError {
            path: path.display().to_string(),
            message,
        };
        if path.exists() {
            let pem = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
            let key = SigningKey::from_pkcs8_pem(&pem)
                .map_err(|e| err(format!("not a PKCS#8 PEM Ed25519 private key ({e})")))?;
            return Ok(Signer::from_key(key));
        }
        let signer = Signer::generate()?;
        let pem = signer
            .key
            .to_pkcs8_pem(Default::default())
            .map_err(|e| err(e.to_string()))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        }
        write_private(path, pem.as_bytes()).map_err(|e| err(e.to_string()))?;
        Ok(signer)
    }

    fn from_key(key: SigningKey) -> Signer {
        let public = key.verifying_key();
        let key_id = format!(
            "ed25519-{}",
            &atlasent::audit::hex(&Sha256::digest(public.as_bytes()))[..16]
        );
        let public_pem = public
            .to_public_key_pem(Default::default())
            .expect("an Ed25519 public key encodes as SPKI PEM");
        Signer {
            key,
            key_id,
            public_pem,
        }
    }

    /// The key's id, as `signing_key_id` in exports.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The public key as SPKI PEM, as `GET /v1-signing-keys` serves it.
    pub fn public_key_pem(&self) -> &str {
        &self.public_pem
    }

    /// The raw 32-byte public key.
    pub fn public_key_bytes(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// base64url (no padding) Ed25519 signature of `message`.
    pub fn sign_b64url(&self, message: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.key.sign(message).to_bytes())
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// An API key the server accepts, known by its hash only.
#[derive(Debug, Clone)]
pub struct ApiKeyInfo {
    /// Public id of the key (`key_` + 12 hex of its SHA-256).
    pub key_id: String,
    /// What the key may do (see [`ALL_SCOPES`]).
    pub scopes: Vec<String>,
}

/// Every scope: `evaluate`, `verify`, `revoke`, `audit.read`, `audit.export`.
pub const ALL_SCOPES: &[&str] = &["evaluate", "verify", "revoke", "audit.read", "audit.export"];

/// The scopes of an auditor's key: read and export the log, decide nothing.
pub const AUDIT_SCOPES: &[&str] = &["audit.read", "audit.export"];

impl ApiKeyInfo {
    /// Whether the key holds `scope`.
    pub fn allows(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// The set of accepted API keys.
#[derive(Debug, Default, Clone)]
pub struct ApiKeys {
    by_hash: std::collections::HashMap<[u8; 32], ApiKeyInfo>,
}

impl ApiKeys {
    /// Accept `key` with every scope.
    pub fn insert(&mut self, key: &str) {
        self.insert_with_scopes(key, ALL_SCOPES);
    }

    /// Accept `key` with these scopes only.
    pub fn insert_with_scopes(&mut self, key: &str, scopes: &[&str]) {
        let hash: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        let key_id = format!("key_{}", &atlasent::audit::hex(&hash)[..12]);
        let scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
        self.by_hash.insert(hash, ApiKeyInfo { key_id, scopes });
    }

    /// The key's info, if it is accepted. Comparing hashes keeps the lookup's
    /// timing independent of how much of a guess is right.
    pub fn find(&self, key: &str) -> Option<&ApiKeyInfo> {
        let hash: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        self.by_hash.get(&hash)
    }

    /// How many keys are accepted.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether no key is accepted.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}
