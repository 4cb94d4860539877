//! The PostgreSQL schema and its versioned migrations.
//!
//! `atlasent_migrations` lists the versions applied. Every node runs
//! [`migrate`] at start under a session advisory lock, so nodes starting
//! together apply each migration once; a database with a version this build
//! does not know is refused, unchanged.

use tokio_postgres::Client;

use super::pg;
use crate::store::StoreError;

/// The advisory lock key nodes take while migrating (`atlasent` in ASCII).
const MIGRATION_LOCK: i64 = 0x61_74_6c_61_73_65_6e_74;

/// How long a node waits for another to finish migrating.
const MIGRATION_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(60);
/// How often it asks again.
const MIGRATION_LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// The migrations, in order: `(version, SQL)`.
const MIGRATIONS: &[(i64, &str)] = &[(1, SCHEMA_1)];

/// The first schema. Each organization's chain has a head row
/// (`chain_heads`): a write locks it (`FOR UPDATE`) for its whole
/// transaction, so appends from every node form one chain with no fork and
/// no gap. Permits and stored replies are keyed by organization first:
/// every lookup of the writer names the whole key, so no plan can prefer
/// another index and scan an organization's rows. A permit is updated
/// once (used or revoked) soon after it is written: pages left a quarter
/// free keep that update on its page (no new index entries).
const SCHEMA_1: &str = "
CREATE TABLE chain_heads (
    org_id TEXT PRIMARY KEY,
    seq    BIGINT NOT NULL,
    hash   TEXT NOT NULL
);
CREATE TABLE events (
    org_id        TEXT NOT NULL,
    org_seq       BIGINT NOT NULL,
    type          TEXT NOT NULL,
    decision      TEXT,
    actor_id      TEXT,
    resource_id   TEXT,
    payload       TEXT NOT NULL,
    hash          TEXT NOT NULL,
    previous_hash TEXT NOT NULL,
    occurred_ms   BIGINT NOT NULL,
    PRIMARY KEY (org_id, org_seq)
);
CREATE INDEX events_by_type ON events (org_id, type, org_seq);
CREATE INDEX events_by_actor ON events (org_id, actor_id, org_seq);
CREATE INDEX events_by_time ON events (org_id, occurred_ms);
CREATE TABLE permits (
    id             TEXT NOT NULL,
    org_id         TEXT NOT NULL,
    agent          TEXT NOT NULL,
    action         TEXT NOT NULL,
    context_hash   TEXT NOT NULL,
    decision       TEXT NOT NULL,
    status         TEXT NOT NULL,
    issued_ms      BIGINT NOT NULL,
    expires_ms     BIGINT NOT NULL,
    permit_hash    TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    environment    TEXT,
    execution_hash TEXT,
    escalation_id  TEXT,
    deny_code      TEXT,
    used_via       TEXT,
    used_ms        BIGINT,
    revoked_ms     BIGINT,
    revoked_by     TEXT,
    revoke_reason  TEXT,
    shape          TEXT,
    PRIMARY KEY (org_id, id)
) WITH (fillfactor = 75);
CREATE INDEX permits_by_issue ON permits (org_id, issued_ms, id);
CREATE TABLE replies (
    org_id      TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    endpoint    TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    body_digest TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    PRIMARY KEY (org_id, key_id, endpoint, request_id)
);
CREATE INDEX replies_by_age ON replies (created_ms);
";

/// The newest schema version this build writes.
pub(super) fn current() -> i64 {
    MIGRATIONS.last().map_or(0, |(v, _)| *v)
}

/// Create or migrate the schema, one transaction per migration, under the
/// migration lock.
pub(super) async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let started = std::time::Instant::now();
    loop {
        let locked: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(pg)?
            .try_get(0)
            .map_err(pg)?;
        if locked {
            break;
        }
        if started.elapsed() >= MIGRATION_LOCK_WAIT {
            return Err(StoreError::Postgres(format!(
                "another session has held the migration lock (pg_advisory_lock({MIGRATION_LOCK})) \
                 for {} s: a node frozen while it migrates? End that session and start again",
                MIGRATION_LOCK_WAIT.as_secs()
            )));
        }
        if started.elapsed() < MIGRATION_LOCK_POLL {
            tracing::warn!("waiting for the migration lock: another node is migrating the schema");
        }
        tokio::time::sleep(MIGRATION_LOCK_POLL).await;
    }
    let result = migrate_locked(client).await;
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg);
    result.and(unlocked.map(drop))
}

async fn migrate_locked(client: &mut Client) -> Result<(), StoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS atlasent_migrations (
                 version    BIGINT PRIMARY KEY,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        )
        .await
        .map_err(pg)?;
    let applied: i64 = client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM atlasent_migrations",
            &[],
        )
        .await
        .map_err(pg)?
        .try_get(0)
        .map_err(pg)?;
    if applied > current() {
        return Err(StoreError::Postgres(format!(
            "the database has schema version {applied}, which this atlasent-server does not \
             know (it writes {}): a newer atlasent-server migrated it",
            current()
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > applied) {
        let tx = client.transaction().await.map_err(pg)?;
        let done = async {
            tx.batch_execute(sql).await?;
            tx.execute(
                "INSERT INTO atlasent_migrations (version) VALUES ($1)",
                &[version],
            )
            .await?;
            tx.commit().await
        };
        done.await.map_err(|e| {
            StoreError::Postgres(format!(
                "cannot migrate the database to schema {version}: {}",
                super::describe(&e)
            ))
        })?;
        tracing::info!(version, "PostgreSQL schema migrated");
    }
    Ok(())
}
