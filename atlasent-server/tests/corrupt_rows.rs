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
