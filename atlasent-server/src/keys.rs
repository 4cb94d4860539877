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
        Signer::from_key(SigningKey::from_bytes(&seed)).map_err(|message| KeyError {
            path: "<generated>".into(),
            message,
        })
    }

    /// Load a PKCS#8 PEM key from `path`, or create one there (mode 0600).
    ///
    /// An existing file that group or others may read is refused (the key
    /// signs every permit and export) unless `allow_insecure` is set.
    pub fn load_or_create(path: &Path, allow_insecure: bool) -> Result<Signer, KeyError> {
        let err = |message: String| KeyError {
            path: path.display().to_string(),
            message,
        };
        if path.exists() {
            if !allow_insecure {
                if let Some(mode) = loose_mode(path).map_err(|e| err(e.to_string()))? {
                    return Err(err(format!(
                        "is readable by group or others (mode {mode:o}); \
                         run `chmod 600 {}` or pass --allow-insecure-key-file",
                        path.display()
                    )));
                }
            }
            let pem = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
            let key = SigningKey::from_pkcs8_pem(&pem)
                .map_err(|e| err(format!("not a PKCS#8 PEM Ed25519 private key ({e})")))?;
            return Signer::from_key(key).map_err(err);
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

    fn from_key(key: SigningKey) -> Result<Signer, String> {
        let public = key.verifying_key();
        let mut key_id = hex::encode(Sha256::digest(public.as_bytes()));
        key_id.truncate(16);
        let public_pem = public
            .to_public_key_pem(Default::default())
            .map_err(|e| format!("the public key does not encode as SPKI PEM ({e})"))?;
        Ok(Signer {
            key,
            key_id: format!("ed25519-{key_id}"),
            public_pem,
        })
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

/// The permission bits of `path` when group or others may read or write it.
#[cfg(unix)]
pub(crate) fn loose_mode(path: &Path) -> std::io::Result<Option<u32>> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
    Ok((mode & 0o077 != 0).then_some(mode))
}

/// Permissions are not checked where there are no Unix modes.
#[cfg(not(unix))]
pub(crate) fn loose_mode(_path: &Path) -> std::io::Result<Option<u32>> {
    Ok(None)
}

/// An API key the server accepts, known by its hash only.
#[derive(Debug, Clone)]
pub struct ApiKeyInfo {
    /// Public id of the key (`key_` + 12 hex of its SHA-256).
    pub key_id: String,
    /// The organization the key belongs to: it sees that organization's
    /// permits and audit chain, and no other's.
    pub org_id: String,
    /// What the key may do (see [`ALL_SCOPES`]).
    pub scopes: Vec<String>,
}

/// Every scope: `evaluate`, `verify`, `revoke`, `audit.read`, `audit.export`.
pub const ALL_SCOPES: &[&str] = &["evaluate", "verify", "revoke", "audit.read", "audit.export"];

/// The scopes of an auditor's key: read and export the log, decide nothing.
pub const AUDIT_SCOPES: &[&str] = &["audit.read", "audit.export"];

/// The longest organization id accepted.
pub const MAX_ORG_ID_CHARS: usize = 128;

impl ApiKeyInfo {
    /// Whether the key holds `scope`.
    pub fn allows(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// A keys file or key setting that cannot be used. Never contains a key.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct KeysError {
    source_name: String,
    message: String,
}

impl KeysError {
    fn new(source_name: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            source_name: source_name.into(),
            message: message.into(),
        }
    }
}

/// The environment a key names by its prefix, as `GET /v1-api-key-self`
/// reports it: `"live"` for `ask_live_…`, `"test"` for `ask_test_…`, else
/// `"local"`.
pub fn key_environment(key: &str) -> &'static str {
    if key.starts_with("ask_live_") {
        "live"
    } else if key.starts_with("ask_test_") {
        "test"
    } else {
        "local"
    }
}

/// Whether `org_id` is a usable organization id: 1 to 128 characters of
/// ASCII letters, digits, `_`, `-` and `.`.
pub fn valid_org_id(org_id: &str) -> bool {
    !org_id.is_empty()
        && org_id.len() <= MAX_ORG_ID_CHARS
        && org_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// One entry of a keys file.
///
/// ```toml
/// [[keys]]
/// key = "ask_live_..."             # or: sha256 = "<64 hex digits of SHA-256(key)>"
/// org = "acme"
/// scopes = ["evaluate", "verify"]  # optional: every scope when absent
/// ```
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    key: Option<String>,
    sha256: Option<String>,
    org: String,
    scopes: Option<Vec<String>>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    keys: Vec<KeyEntry>,
}

/// The largest keys file read.
const MAX_KEYS_FILE_BYTES: u64 = 4 << 20;

/// The set of accepted API keys.
#[derive(Debug, Default, Clone)]
pub struct ApiKeys {
    by_hash: std::collections::HashMap<[u8; 32], ApiKeyInfo>,
}

impl ApiKeys {
    /// Accept `key` for organization `org_id` with every scope.
    pub fn insert(&mut self, key: &str, org_id: &str) -> Result<(), KeysError> {
        self.insert_with_scopes(key, org_id, ALL_SCOPES)
    }

    /// Accept `key` for organization `org_id` with these scopes only.
    pub fn insert_with_scopes(
        &mut self,
        key: &str,
        org_id: &str,
        scopes: &[&str],
    ) -> Result<(), KeysError> {
        if key.trim().is_empty() || key.trim() != key {
            return Err(KeysError::new(
                "API key",
                "must be non-empty and have no leading or trailing white space",
            ));
        }
        self.insert_digest(
            Sha256::digest(key.as_bytes()).into(),
            org_id,
            scopes,
            "API key",
        )
    }

    fn insert_digest(
        &mut self,
        hash: [u8; 32],
        org_id: &str,
        scopes: &[&str],
        source: &str,
    ) -> Result<(), KeysError> {
        if !valid_org_id(org_id) {
            return Err(KeysError::new(
                source,
                format!(
                    "organization {org_id:?} must be 1 to {MAX_ORG_ID_CHARS} characters of letters, digits, _ - ."
                ),
            ));
        }
        if scopes.is_empty() {
            return Err(KeysError::new(source, "needs at least one scope"));
        }
        if let Some(unknown) = scopes.iter().find(|s| !ALL_SCOPES.contains(s)) {
            return Err(KeysError::new(
                source,
                format!(
                    "unknown scope {unknown:?}; scopes are {}",
                    ALL_SCOPES.join(", ")
                ),
            ));
        }
        let mut key_id = hex::encode(hash);
        key_id.truncate(12);
        let key_id = format!("key_{key_id}");
        let info = ApiKeyInfo {
            key_id,
            org_id: org_id.to_owned(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        };
        match self.by_hash.entry(hash) {
            std::collections::hash_map::Entry::Occupied(e) if e.get().org_id != org_id => {
                Err(KeysError::new(
                    source,
                    format!(
                        "key {} is given for two organizations ({} and {org_id})",
                        e.get().key_id,
                        e.get().org_id
                    ),
                ))
            }
            // The same key twice (say once by value, once by digest) would
            // silently take the scopes of whichever came last.
            std::collections::hash_map::Entry::Occupied(e) => Err(KeysError::new(
                source,
                format!("key {} is given twice", e.get().key_id),
            )),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(info);
                Ok(())
            }
        }
    }

    /// Accept every key of a keys file: TOML (`*.toml`) or JSON, an array
    /// `keys` of `{key | sha256, org, scopes?}`. A file that holds plaintext
    /// keys and that group or others may read is refused unless
    /// `allow_insecure` is set.
    pub fn load_file(&mut self, path: &Path, allow_insecure: bool) -> Result<(), KeysError> {
        let name = path.display().to_string();
        let err = |m: String| KeysError::new(name.clone(), m);
        let text = read_bounded(path, MAX_KEYS_FILE_BYTES).map_err(err)?;
        let is_toml =
            path.extension().is_some_and(|e| e == "toml") || !text.trim_start().starts_with('{');
        let file: KeysFile = if is_toml {
            toml::from_str(&text).map_err(|e| err(format!("not a valid keys file: {e}")))?
        } else {
            atlasent::wire::from_slice_strict(text.as_bytes())
                .map_err(|e| err(format!("not a valid keys file: {e}")))?
        };
        if file.keys.is_empty() {
            return Err(err("lists no keys".into()));
        }
        let plaintext = file.keys.iter().any(|k| k.key.is_some());
        if plaintext && !allow_insecure {
            if let Some(mode) = loose_mode(path).map_err(|e| err(e.to_string()))? {
                return Err(err(format!(
                    "holds API keys and is readable by group or others (mode {mode:o}); \
                     run `chmod 600 {name}`, list `sha256` digests instead of keys, \
                     or pass --allow-insecure-key-file"
                )));
            }
        }
        for (i, entry) in file.keys.iter().enumerate() {
            let at = format!("{name}: keys[{i}]");
            let hash: [u8; 32] = match (&entry.key, &entry.sha256) {
                (Some(key), None) => {
                    if key.trim().is_empty() || key.trim() != key {
                        return Err(KeysError::new(
                            at,
                            "`key` must be non-empty and have no surrounding white space",
                        ));
                    }
                    Sha256::digest(key.as_bytes()).into()
                }
                (None, Some(digest)) => parse_digest(digest).ok_or_else(|| {
                    KeysError::new(at.clone(), "`sha256` must be 64 hexadecimal digits")
                })?,
                _ => return Err(KeysError::new(at, "give exactly one of `key` and `sha256`")),
            };
            let scopes: Vec<&str> = match &entry.scopes {
                Some(s) => s.iter().map(String::as_str).collect(),
                None => ALL_SCOPES.to_vec(),
            };
            self.insert_digest(hash, &entry.org, &scopes, &at)?;
        }
        Ok(())
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

fn parse_digest(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut out).ok()?;
    Some(out)
}

/// Read a regular file of at most `max` bytes as UTF-8. A device or a pipe
/// (`/dev/zero`) is refused, and so is a file that grows past `max` while it
/// is read.
pub(crate) fn read_bounded(path: &Path, max: u64) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("is not a regular file".into());
    }
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > max {
        return Err(format!("is larger than {max} bytes"));
    }
    String::from_utf8(bytes).map_err(|_| "is not UTF-8 text".into())
}
