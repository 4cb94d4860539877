//! The schema and its migrations, and the database file's creation.

use rusqlite::types::ValueRef;
use rusqlite::Connection;

use crate::store::compact;
use crate::store::StoreError;

/// Create the database file readable by its owner only (SQLite gives the
/// `-wal` and `-shm` files the database file's permissions).
pub(super) fn create_private(path: &std::path::Path) -> Result<(), StoreError> {
    if path.exists() {
        if let Ok(Some(mode)) = crate::keys::loose_mode(path) {
            tracing::warn!(
                path = %path.display(),
                mode = format_args!("{mode:o}"),
                "the database is readable by group or others; `chmod 600` it and its -wal and -shm files"
            );
        }
        return Ok(());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Create {
            path: dir.display().to_string(),
            source,
        })?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError::Create {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// The second schema (`PRAGMA user_version` 2); [`MIGRATE_2_TO_3`] completes it.
const SCHEMA: &str = "
CREATE TABLE events (
    seq           INTEGER PRIMARY KEY,
    org_id        TEXT NOT NULL,
    org_seq       INTEGER NOT NULL,
    id            TEXT NOT NULL,
    type          TEXT NOT NULL,
    decision      TEXT,
    actor_id      TEXT,
    resource_type TEXT,
    resource_id   TEXT,
    payload       TEXT NOT NULL,
    hash          TEXT NOT NULL,
    previous_hash TEXT NOT NULL,
    occurred_ms   INTEGER NOT NULL,
    UNIQUE (org_id, org_seq)
);
CREATE INDEX events_by_type ON events(org_id, type, org_seq);
CREATE INDEX events_by_actor ON events(org_id, actor_id, org_seq);
CREATE INDEX events_by_time ON events(org_id, occurred_ms);
CREATE TABLE permits (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL,
    agent        TEXT NOT NULL,
    action       TEXT NOT NULL,
    context_hash TEXT NOT NULL,
    decision     TEXT NOT NULL,
    status       TEXT NOT NULL,
    issued_ms    INTEGER NOT NULL,
    expires_ms   INTEGER NOT NULL,
    permit_hash  TEXT NOT NULL,
    key_id       TEXT NOT NULL
);
CREATE TABLE replies (
    key_id      TEXT NOT NULL,
    endpoint    TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    body_digest TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    PRIMARY KEY (key_id, endpoint, request_id)
);
CREATE INDEX replies_by_age ON replies(created_ms);
";

/// From the first schema (one chain, no organizations, stored replies not
/// bound to their request body) to the second: existing events and permits
/// go to the configured organization; stored replies are dropped (they only
/// answer retries, and an unbound one must not answer anything).
const MIGRATE_1_TO_2: &str = "
ALTER TABLE events RENAME TO events_v1;
DROP INDEX IF EXISTS events_by_type;
DROP INDEX IF EXISTS events_by_actor;
DROP INDEX IF EXISTS events_by_time;
ALTER TABLE permits RENAME TO permits_v1;
DROP TABLE replies;
";

/// From the second schema to the third (the current wire): permits record
/// the environment and execution hash they were issued for, hold and
/// escalate decisions their escalation id, non-allows their deny code, and
/// a permit how it was used (`verify`: `/v1-verify-permit`, `by_id`:
/// `/v1/permits/{id}/verify`), when, and who revoked it why. Permits issued
/// before have no execution hash: a current-wire verify that sends one does
/// not match them (fail closed); they still verify through the 1.4.1 wire.
/// A fresh database is made by the second schema and this step, so that it
/// and a migrated one are the same.
const MIGRATE_2_TO_3: &str = "
ALTER TABLE permits ADD COLUMN environment TEXT;
ALTER TABLE permits ADD COLUMN execution_hash TEXT;
ALTER TABLE permits ADD COLUMN escalation_id TEXT;
ALTER TABLE permits ADD COLUMN deny_code TEXT;
ALTER TABLE permits ADD COLUMN used_via TEXT;
ALTER TABLE permits ADD COLUMN used_ms INTEGER;
ALTER TABLE permits ADD COLUMN revoked_ms INTEGER;
ALTER TABLE permits ADD COLUMN revoked_by TEXT;
ALTER TABLE permits ADD COLUMN revoke_reason TEXT;
ALTER TABLE permits ADD COLUMN shape TEXT;
CREATE INDEX permits_by_issue ON permits(org_id, issued_ms, id);
";

/// From the third schema to the fourth (fewer bytes per decision): events
/// no longer store what they repeat — `id` (`evt_` and the sequence
/// number), `resource_type` (`action` when a resource id is set) and
/// `previous_hash` (the hash of the event before in the organization's
/// chain, the genesis hash for the first) are derived when read. Stored
/// replies are found through an 8-byte `lookup` (see [`reply_lookup`])
/// instead of an index holding a second copy of key id, endpoint and
/// request id, their body digest is stored as its 32 bytes, and they are
/// pruned in insertion order (no index by age). [`CHECK_3_TO_4`] runs
/// first: a database whose columns disagree with what they would be
/// derived from is refused, unchanged, rather than silently rewritten.
const MIGRATE_3_TO_4: &str = "
ALTER TABLE events DROP COLUMN id;
ALTER TABLE events DROP COLUMN resource_type;
ALTER TABLE events DROP COLUMN previous_hash;
CREATE TABLE replies_v4 (
    id          INTEGER PRIMARY KEY,
    lookup      INTEGER NOT NULL,
    key_id      TEXT NOT NULL,
    endpoint    TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    body_digest BLOB NOT NULL,
    body        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL
);
";

/// After the stored replies are copied into `replies_v4`.
const MIGRATE_3_TO_4_END: &str = "
DROP TABLE replies;
ALTER TABLE replies_v4 RENAME TO replies;
CREATE INDEX replies_by_lookup ON replies(lookup);
";

/// The `lookup` of a stored reply: the first 8 bytes of the SHA-256 of its
/// key id, endpoint and request id (NUL-separated), as a signed integer.
/// Not unique: a reply is the one whose three columns are equal too.
pub(super) fn reply_lookup(key_id: &str, endpoint: &str, request_id: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in [key_id, endpoint, request_id] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// A body digest as stored: its bytes when it is hex, else its text.
pub(super) fn stored_digest(digest: &str) -> rusqlite::types::Value {
    hex_or_text(digest, |_| true)
}

/// The bytes of `text` when it is lowercase hex whose bytes `fit`, else
/// the text: what the byte columns of schemas 4 and 5 store.
fn hex_or_text(text: &str, fit: impl Fn(&[u8]) -> bool) -> rusqlite::types::Value {
    match hex::decode(text) {
        Ok(bytes) if fit(&bytes) && text.bytes().all(|b| !b.is_ascii_uppercase()) => {
            rusqlite::types::Value::Blob(bytes)
        }
        _ => rusqlite::types::Value::Text(text.to_owned()),
    }
}

/// The longest payload text compacted: a server's payload is about 1 KB;
/// a longer one (a client's long environment or resource id) is stored as
/// text, so that a client cannot buy the writer thread's time (~3–15 ns a
/// byte to compact and check, against ~1 for hashing) with long values.
pub(super) const MAX_COMPACTED: usize = 4096;

/// An event payload as stored (schema 5): its [`compact`] bytes (a BLOB)
/// when the text is at most [`MAX_COMPACTED`] bytes and they expand back to
/// the very text, else the text.
pub(super) fn stored_payload(text: &str) -> rusqlite::types::Value {
    match (text.len() <= MAX_COMPACTED)
        .then(|| compact::compact(text))
        .flatten()
    {
        Some(bytes) => rusqlite::types::Value::Blob(bytes),
        None => rusqlite::types::Value::Text(text.to_owned()),
    }
}

/// The payload text of a stored event: the text (schema 4 and the
/// fallback) or the expansion of its compact bytes. Anything else, or
/// bytes that do not expand, is corrupt (never skipped).
pub(super) fn read_payload(value: ValueRef<'_>) -> Result<String, StoreError> {
    match value {
        ValueRef::Text(text) => String::from_utf8(text.to_vec())
            .map_err(|_| StoreError::Corrupt("an event payload that is not UTF-8".into())),
        ValueRef::Blob(bytes) => compact::expand(bytes).map_err(|e| {
            StoreError::Corrupt(format!(
                "a compact event payload that does not expand ({e})"
            ))
        }),
        other => Err(StoreError::Corrupt(format!(
            "an event payload of type {}",
            other.data_type()
        ))),
    }
}

/// An event hash as stored (schema 5): its 32 bytes when it is lowercase
/// hex of 64 digits, else its text.
pub(super) fn stored_hash(hash: &str) -> rusqlite::types::Value {
    hex_or_text(hash, |bytes| bytes.len() == 32)
}

/// The hash of a stored event as hex: the text (schema 4), or the hex of
/// its 32 bytes. Anything else is corrupt.
pub(super) fn read_hash(value: ValueRef<'_>) -> Result<String, StoreError> {
    match value {
        ValueRef::Text(text) => String::from_utf8(text.to_vec())
            .map_err(|_| StoreError::Corrupt("an event hash that is not UTF-8".into())),
        ValueRef::Blob(bytes) if bytes.len() == 32 => Ok(hex::encode(bytes)),
        ValueRef::Blob(bytes) => Err(StoreError::Corrupt(format!(
            "an event hash of type Blob ({} bytes)",
            bytes.len()
        ))),
        other => Err(StoreError::Corrupt(format!(
            "an event hash of type {} (0 bytes)",
            other.data_type()
        ))),
    }
}

/// A permit's signature (`permit_hash`, base64url without padding) as
/// stored (schema 5): its 64 bytes when it is that encoding of 64 bytes,
/// else its text.
pub(super) fn stored_signature(signature: &str) -> rusqlite::types::Value {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    match b64.decode(signature) {
        Ok(bytes) if bytes.len() == 64 && b64.encode(&bytes) == signature => {
            rusqlite::types::Value::Blob(bytes)
        }
        _ => rusqlite::types::Value::Text(signature.to_owned()),
    }
}

/// The text of a permit column stored as bytes by schema 5 (`column`: its
/// name): the hex of a 32-byte `context_hash` or `execution_hash`, the
/// base64url of a 64-byte `permit_hash`. Anything else is corrupt.
pub(super) fn permit_text(column: &str, bytes: &[u8]) -> Result<String, StoreError> {
    use base64::Engine as _;
    match (column, bytes.len()) {
        ("context_hash" | "execution_hash", 32) => Ok(hex::encode(bytes)),
        ("permit_hash", 64) => Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)),
        _ => Err(StoreError::Corrupt(format!(
            "{} bytes in the permit column {column:?}",
            bytes.len()
        ))),
    }
}

/// Copy schema 3's stored replies into `replies_v4`, oldest first.
fn copy_replies_3_to_4(conn: &Connection) -> rusqlite::Result<()> {
    let mut select = conn.prepare(
        "SELECT key_id, endpoint, request_id, body_digest, body, created_ms FROM replies ORDER BY created_ms",
    )?;
    let mut insert = conn.prepare(
        "INSERT INTO replies_v4 (lookup, key_id, endpoint, request_id, body_digest, body, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let mut rows = select.query([])?;
    while let Some(r) = rows.next()? {
        let (key_id, endpoint, request_id): (String, String, String) =
            (r.get(0)?, r.get(1)?, r.get(2)?);
        let digest: String = r.get(3)?;
        insert.execute(rusqlite::params![
            reply_lookup(&key_id, &endpoint, &request_id),
            key_id,
            endpoint,
            request_id,
            stored_digest(&digest),
            r.get::<_, String>(4)?,
            r.get::<_, i64>(5)?,
        ])?;
    }
    Ok(())
}

/// The events whose `id`, `resource_type` or `previous_hash` is not what
/// schema 4 derives (`?1`: the genesis hash); none may exist to migrate.
const CHECK_3_TO_4: &str = "
SELECT COUNT(*) FROM events e
LEFT JOIN events p ON p.org_id = e.org_id AND p.org_seq = e.org_seq - 1
WHERE e.id IS NOT printf('evt_%012d', e.org_seq)
   OR e.resource_type IS NOT (CASE WHEN e.resource_id IS NULL THEN NULL ELSE 'action' END)
   OR e.previous_hash IS NOT (CASE WHEN e.org_seq = 1 THEN ?1 ELSE p.hash END)
";

/// The schema version this build writes.
///
/// From the fourth schema to the fifth (fewer bytes per decision) nothing
/// is rewritten: new events store their payload as [`compact`] bytes (a
/// BLOB; the text when the codec does not reproduce it exactly, or it is
/// longer than [`MAX_COMPACTED`]) and their hash as its 32 bytes; new
/// permits their `context_hash` and `execution_hash` as 32 bytes and their
/// `permit_hash` (signature) as 64 ([`stored_hash`], [`stored_signature`];
/// read back by [`permit_text`]). The columns keep their declared type:
/// SQLite stores a BLOB in a TEXT column as it is, and the rows written
/// before stay text; readers take either ([`read_payload`], [`read_hash`]).
/// A build that knows only schema 4 refuses a schema-5 file (an unknown
/// version) rather than misread a BLOB.
pub(crate) const SCHEMA_VERSION: i64 = 5;

/// Create or upgrade the schema, in one transaction: a fresh database gets
/// schema 2 and then every step after it; an old one every step after its
/// version (1 → 2 → 3 → 4 → 5).
pub(super) fn migrate(conn: &Connection, org_id: &str) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let has_events: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events')",
        [],
        |r| r.get(0),
    )?;
    let from = match (version, has_events) {
        (SCHEMA_VERSION, _) => return Ok(()),
        (0, false) => None,
        (0, true) => Some(1),
        (2, _) => Some(2),
        (3, _) => Some(3),
        (4, _) => Some(4),
        (found, _) => {
            return Err(StoreError::UnknownSchema {
                found,
                current: SCHEMA_VERSION,
            })
        }
    };
    conn.execute_batch("BEGIN")?;
    let migrated = (|| -> rusqlite::Result<()> {
        match from {
            None => conn.execute_batch(SCHEMA)?,
            Some(1) => migrate_1_to_2(conn, org_id)?,
            _ => {}
        }
        if from.is_none_or(|v| v < 3) {
            conn.execute_batch(MIGRATE_2_TO_3)?;
        }
        if from.is_none_or(|v| v < 4) {
            migrate_3_to_4(conn)?;
        }
        // 4 → 5 rewrites nothing (see `SCHEMA_VERSION`): the version alone.
        conn.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION};"))
    })();
    match migrated {
        Ok(()) => {
            conn.execute_batch("COMMIT")?;
            if let Some(from) = from {
                tracing::warn!(
                    org_id,
                    from,
                    to = SCHEMA_VERSION,
                    "migrated the database (2: organizations; 3: the current wire's permits; 4 and 5: fewer bytes per decision)"
                );
            }
            Ok(())
        }
        Err(source) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(StoreError::Migrate {
                to: SCHEMA_VERSION,
                source,
            })
        }
    }
}

/// Schema 3 to 4 inside the caller's transaction (all of its rows are
/// text: schema 5's BLOBs come after).
fn migrate_3_to_4(conn: &Connection) -> rusqlite::Result<()> {
    let disagreeing: i64 =
        conn.query_row(CHECK_3_TO_4, [atlasent::audit::GENESIS_HASH], |r| r.get(0))?;
    if disagreeing > 0 {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
            Some(format!(
                "{disagreeing} events whose id, resource_type or previous_hash is not \
                 the one derived from their sequence, resource and predecessor"
            )),
        ));
    }
    conn.execute_batch(MIGRATE_3_TO_4)?;
    copy_replies_3_to_4(conn)?;
    conn.execute_batch(MIGRATE_3_TO_4_END)
}

/// Schema 1 to 2 inside the caller's transaction.
fn migrate_1_to_2(conn: &Connection, org_id: &str) -> rusqlite::Result<()> {
    conn.execute_batch(MIGRATE_1_TO_2)?;
    conn.execute_batch(SCHEMA)?;
    conn.execute(
        "INSERT INTO events (seq, org_id, org_seq, id, type, decision, actor_id, resource_type, resource_id, payload, hash, previous_hash, occurred_ms)
         SELECT seq, ?1, seq, id, type, decision, actor_id, resource_type, resource_id, payload, hash, previous_hash, occurred_ms FROM events_v1",
        [org_id],
    )?;
    conn.execute(
        "INSERT INTO permits (id, org_id, agent, action, context_hash, decision, status, issued_ms, expires_ms, permit_hash, key_id)
         SELECT id, ?1, agent, action, context_hash, decision, status, issued_ms, expires_ms, permit_hash, key_id FROM permits_v1",
        [org_id],
    )?;
    conn.execute_batch("DROP TABLE events_v1; DROP TABLE permits_v1;")
}
