//! A damaged row fails only what reads it: a verify that meets a permit row
//! this build cannot read answers 503 (fail closed) while every other write
//! of its batch commits (the writer answers that command alone, as long as
//! it had changed nothing). The same on PostgreSQL: `postgres_store.rs`.
//! While another connection holds SQLite's write lock the writer waits for
//! it (its transactions begin IMMEDIATE, under the busy timeout) instead of
//! failing the batch at its first write.

mod common;

use std::path::{Path, PathBuf};

use atlasent_server::Storage;

fn damage(db: &Path, sql: &str, id: &str) {
    let changed = rusqlite::Connection::open(db)
        .expect("open")
        .execute(sql, [id])
        .expect("damage the row");
    assert_eq!(changed, 1, "{sql}");
}

/// Holds SQLite's write lock until dropped (a transaction rolled back
/// with its connection): the server's writer waits for it.
async fn write_lock(db: PathBuf) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(db).expect("open");
    conn.execute_batch("BEGIN IMMEDIATE")
        .expect("the write lock");
    conn
}

async fn run(name: &str, sql: &str) {
    let dir = common::scratch_dir("corrupt-rows", name);
    let db = dir.join("atlasent.db");
    let server = common::start_with(|b| b.storage(Storage::File(db.clone()))).await;
    common::a_corrupt_permit_fails_alone(
        &server,
        |id| damage(&db, sql, id),
        write_lock(db.clone()),
    )
    .await;
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_permit_with_an_unknown_status_fails_only_its_verify() {
    run(
        "status",
        "UPDATE permits SET status = 'bogus' WHERE id = ?1",
    )
    .await;
}

#[tokio::test]
async fn a_permit_whose_stored_hash_is_cut_short_fails_only_its_verify() {
    // Schema 5 stores the context hash as its 32 bytes: 31 is corrupt.
    run(
        "hash",
        "UPDATE permits SET context_hash = zeroblob(31) WHERE id = ?1",
    )
    .await;
}

/// One organization's damaged chain head (its last event's hash cut to 31
/// bytes) fails that organization's writes only: another organization's
/// writes of the same batch commit. The head is read before the job changes
/// anything (an evaluation inserts its permit before its event).
#[tokio::test]
async fn a_damaged_chain_head_fails_only_its_organizations_writes() {
    let dir = common::scratch_dir("corrupt-rows", "head");
    let db = dir.join("atlasent.db");
    let start = || {
        common::two_organizations()
            .storage(Storage::File(db.clone()))
            .start()
    };
    let server = start().await.expect("starts");
    for key in [common::ACME, common::GLOBEX] {
        let (status, reply) = common::spawn_transfer(&server, key, "first")
            .await
            .expect("joined");
        assert_eq!(status, 200, "{reply}");
    }
    server.shutdown().await.expect("shutdown");
    let changed = rusqlite::Connection::open(&db)
        .expect("open")
        .execute(
            "UPDATE events SET hash = zeroblob(31) WHERE org_id = 'acme'
             AND org_seq = (SELECT MAX(org_seq) FROM events WHERE org_id = 'acme')",
            [],
        )
        .expect("damage the head");
    assert_eq!(changed, 1);
    // Restarted, no head is cached.
    let server = start().await.expect("starts");
    common::a_damaged_head_fails_only_its_organization(&server, write_lock(db.clone())).await;
    server.shutdown().await.expect("shutdown");
}
