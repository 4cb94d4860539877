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
    const ACME: &str = "ask_test_acme_key";
    const GLOBEX: &str = "ask_test_globex_key";
    let dir = common::scratch_dir("corrupt-rows", "head");
    let db = dir.join("atlasent.db");
    let start = || {
        atlasent_server::Server::builder()
            .policy_file(common::policy_path("finance_wire_transfer.json"))
            .org_api_key("acme", ACME)
            .org_api_key("globex", GLOBEX)
            .storage(Storage::File(db.clone()))
            .start()
    };
    let call = |server: &atlasent_server::RunningServer, key: &'static str, path, memo: &str| {
        let body = serde_json::json!({ "agent": "finance-agent", "action": "wire_transfer",
            "context": { "amount_usd": 10, "counterparty_id": "c", "memo": memo } });
        let (url, body) = (server.base_url(), body.to_string());
        tokio::spawn(async move { common::post_text_as(&url, key, path, body).await })
    };
    let server = start().await.expect("starts");
    for key in [ACME, GLOBEX] {
        let (status, reply) = call(&server, key, "/v1-evaluate", "first")
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

    // Restarted, no head is cached: behind a held lock, both organizations'
    // evaluations pile into one batch.
    let server = start().await.expect("starts");
    let guard = write_lock(db.clone()).await;
    let blocked = call(&server, GLOBEX, "/v1-evaluate", "blocked");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let acme = call(&server, ACME, "/v1-evaluate", "a1");
    let globex: Vec<_> = (0..3)
        .map(|i| call(&server, GLOBEX, "/v1-evaluate", &format!("g{i}")))
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    drop(guard);
    let (status, reply) = acme.await.expect("joined");
    assert_eq!(status, 503, "acme's chain head is unreadable: {reply}");
    for task in globex.into_iter().chain([blocked]) {
        let (status, reply) = task.await.expect("joined");
        assert_eq!(status, 200, "globex, beside acme's damaged head: {reply}");
    }
    server.shutdown().await.expect("shutdown");
}
