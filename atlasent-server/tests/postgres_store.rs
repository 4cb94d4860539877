//! The PostgreSQL store in-process, beside SQLite: the same operations give
//! the same listings (permits by status, paged; events by type, paged), the
//! schema is migrated once when nodes start together, and a database
//! written by a newer schema is refused unchanged. Each test has a
//! PostgreSQL cluster of its own (tests/postgres/cluster.rs).

#[path = "postgres/cluster.rs"]
mod cluster;
mod common;

use atlasent_server::store::PostgresUrl;
use atlasent_server::{RunningServer, Storage};
use cluster::PgCluster;
use common::{all_pages, client, get, start_with, KEY};
use serde_json::{json, Value};

fn transfer(memo: &str) -> Value {
    json!({ "amount_usd": 100, "counterparty_id": "cp-1", "memo": memo })
}

fn postgres(url: &str) -> Storage {
    Storage::Postgres(PostgresUrl::parse(url).expect("a PostgreSQL URL"))
}

/// Six permits: two verified, one used by id, one revoked, two left issued;
/// then a denied request.
async fn history(server: &RunningServer) {
    let c = client(server);
    let mut ids = Vec::new();
    for i in 0..6 {
        let memo = format!("m{i}");
        let reply = c
            .evaluate("finance-agent", "wire_transfer", &transfer(&memo))
            .await
            .expect("evaluate");
        assert!(reply.permitted, "{reply:?}");
        ids.push((reply.permit_id, memo));
    }
    for (id, memo) in &ids[..2] {
        let v = c
            .verify(id, "finance-agent", "wire_transfer", &transfer(memo))
            .await
            .expect("verify");
        assert!(v.verified, "{v:?}");
    }
    c.verify_permit_by_id(&ids[2].0)
        .await
        .expect("verify by id");
    c.revoke_permit(&ids[3].0, Some("test"))
        .await
        .expect("revoke");
    let denied = c
        .evaluate(
            "finance-agent",
            "wire_transfer",
            &json!({ "amount_usd": 10_000_000, "counterparty_id": "cp-1", "memo": "big" }),
        )
        .await
        .expect("evaluate");
    assert!(!denied.permitted);
}

/// What a listing shows, without ids and times (which differ per run).
fn shape(items: &[Value], fields: &[&str]) -> Vec<Vec<Value>> {
    items
        .iter()
        .map(|item| fields.iter().map(|f| item[*f].clone()).collect())
        .collect()
}

/// The listings of `server` after [`history`].
async fn listings(server: &RunningServer) -> Vec<Vec<Vec<Value>>> {
    let mut out = Vec::new();
    for (query, total) in [
        ("", 6),
        ("&status=issued", 2),
        ("&status=consumed", 2),
        ("&status=verified", 1),
        ("&status=revoked", 1),
    ] {
        let first = format!("/v1/permits?limit=2{query}");
        let items = all_pages(server, KEY, &first, "permits", total).await;
        assert_eq!(items.len() as u64, total, "{first}");
        out.push(shape(
            &items,
            &["status", "actor_id", "action_id", "environment"],
        ));
    }
    let (status, all) = get(server, "/v1-audit/events?limit=1").await;
    assert_eq!(status, 200, "{all}");
    let total = all["total"].as_u64().expect("total");
    let events = all_pages(server, KEY, "/v1-audit/events?limit=3", "events", total).await;
    let sequences: Vec<u64> = events
        .iter()
        .map(|e| e["sequence"].as_u64().expect("sequence"))
        .collect();
    assert_eq!(sequences, (1..=total).collect::<Vec<_>>());
    out.push(shape(
        &events,
        &["type", "decision", "actor_id", "resource_id"],
    ));
    let first = "/v1-audit/events?limit=2&types=permit.verified";
    let (_, page) = get(server, first).await;
    let verified = page["total"].as_u64().expect("total");
    let items = all_pages(server, KEY, first, "events", verified).await;
    out.push(shape(&items, &["type", "sequence"]));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_on_postgres_are_those_on_sqlite() {
    let cluster = PgCluster::start();
    cluster.create_database("listings");
    let on_postgres = start_with(|b| b.storage(postgres(&cluster.url("listings")))).await;
    let on_sqlite = start_with(|b| b).await;
    history(&on_postgres).await;
    history(&on_sqlite).await;
    let (pg, lite) = (listings(&on_postgres).await, listings(&on_sqlite).await);
    assert_eq!(pg, lite);
    let (_, verification) = common::export_and_verify(&on_postgres).await;
    assert!(verification.verified(), "{verification:?}");
    on_postgres.shutdown().await.expect("stops");
    on_sqlite.shutdown().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_together_migrate_once() {
    let cluster = PgCluster::start();
    cluster.create_database("together");
    let url = cluster.url("together");
    let starts = (0..4).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { start_with(|b| b.storage(postgres(&url))).await })
    });
    let mut servers = Vec::new();
    for start in starts {
        servers.push(start.await.expect("started"));
    }
    let applied = cluster.psql("together", "SELECT count(*) FROM atlasent_migrations");
    assert_eq!(applied.trim(), "1", "{applied}");
    for server in servers {
        server.shutdown().await.expect("stops");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_of_a_newer_schema_is_refused_unchanged() {
    let cluster = PgCluster::start();
    cluster.create_database("newer");
    let url = cluster.url("newer");
    let server = start_with(|b| b.storage(postgres(&url))).await;
    client(&server)
        .evaluate("finance-agent", "wire_transfer", &transfer("before"))
        .await
        .expect("evaluate");
    server.shutdown().await.expect("stops");
    cluster.psql(
        "newer",
        "INSERT INTO atlasent_migrations (version) VALUES (99)",
    );
    let refused = common::refused_start(
        atlasent_server::Server::builder()
            .policy_file(common::policy_path("finance_wire_transfer.json"))
            .api_key(KEY)
            .storage(postgres(&url)),
    )
    .await;
    assert!(refused.contains("schema version 99"), "{refused}");
    assert!(!refused.contains(cluster.password()), "{refused}");
    let events = cluster.psql("newer", "SELECT count(*) FROM events");
    assert_eq!(events.trim(), "1", "{events}");
}

/// PostgreSQL's text cannot hold U+0000: a request carrying one in a value
/// the server stores is refused at the door (on every store), so it never
/// reaches a write transaction, where its failure would fail the other
/// writes of its batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_character_is_refused_at_the_door_and_fails_no_other_write() {
    let cluster = PgCluster::start();
    cluster.create_database("nul");
    let server = start_with(|b| b.storage(postgres(&cluster.url("nul")))).await;
    let auth = format!("Bearer {KEY}");
    let headers = [("authorization", auth.as_str())];
    let c = client(&server);
    let permit = c
        .evaluate("finance-agent", "wire_transfer", &transfer("to revoke"))
        .await
        .expect("evaluate")
        .permit_id;
    let hostile: Vec<(String, String)> = vec![
        (
            "/v1-evaluate".into(),
            json!({ "agent": "x\u{0}", "action": "wire_transfer", "context": transfer("n") })
                .to_string(),
        ),
        (
            "/v1-evaluate".into(),
            json!({ "agent": "finance-agent", "action": "wire_transfer",
                    "context": { "environment": "prod\u{0}", "amount_usd": 5 } })
            .to_string(),
        ),
        (
            "/v1-evaluate".into(),
            json!({ "actor_id": "a\u{0}", "action_type": "wire_transfer", "context": transfer("n") })
                .to_string(),
        ),
        (
            "/v1-verify-permit".into(),
            json!({ "decision_id": "dec_\u{0}", "agent": "finance-agent", "action": "wire_transfer" })
                .to_string(),
        ),
        (
            format!("/v1/permits/{permit}/revoke"),
            json!({ "reason": "r\u{0}" }).to_string(),
        ),
    ];
    let mut tasks = Vec::new();
    for (path, body) in hostile {
        let server_url = server.base_url();
        tasks.push(tokio::spawn(async move {
            let (status, text) = common::post_text(&server_url, &path, body).await;
            (path, status, text)
        }));
    }
    let valid: Vec<_> = (0..20)
        .map(|i| {
            let c = client(&server);
            tokio::spawn(async move {
                c.evaluate(
                    "finance-agent",
                    "wire_transfer",
                    &transfer(&format!("v{i}")),
                )
                .await
            })
        })
        .collect();
    for task in tasks {
        let (path, status, body) = task.await.expect("joined");
        assert!((400..500).contains(&status), "{path}: {status} {body}");
        assert!(body.contains("U+0000"), "{path}: {body}");
    }
    for task in valid {
        let reply = task
            .await
            .expect("joined")
            .expect("a valid request is decided");
        assert!(reply.permitted, "{reply:?}");
    }
    // A path id and a query value with U+0000: not found, and refused.
    let (status, _, _) = common::post(&server, "/v1/permits/dec_%00/verify", &headers, "{}").await;
    assert_eq!(status, 404);
    let (status, body) = get(&server, "/v1/permits?actor_id=a%00").await;
    assert!((400..500).contains(&status), "{status} {body}");
    // The permit the hostile revoke named is still issued.
    let record = c.get_permit(&permit).await.expect("the permit");
    assert_eq!(record.status.as_str(), "issued", "{record:?}");
    let (_, verification) = common::export_and_verify(&server).await;
    assert!(verification.verified(), "{verification:?}");
    server.shutdown().await.expect("stops");
}

/// The store speaks to PostgreSQL without TLS: a URL or a `PGSSLMODE` that
/// requires TLS stops `serve` at once (before connecting), never a
/// plaintext connection the operator asked not to have.
#[test]
fn a_url_or_pgsslmode_that_requires_tls_is_refused() {
    let dir = common::scratch_dir("pg", "tls");
    for (url, sslmode, expected) in [
        (
            "postgres://u:s3cret@127.0.0.1:1/a",
            Some("require"),
            "TLS is required",
        ),
        (
            "postgres://u:s3cret@127.0.0.1:1/a?sslmode=require",
            None,
            "TLS is required",
        ),
        (
            "postgres://u:s3cret@127.0.0.1:1/a?sslmode=verify-full",
            None,
            "verify-full",
        ),
    ] {
        let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_atlasent-server"));
        serve
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--api-key",
                KEY,
                "--db",
                url,
            ])
            .arg("--policy")
            .arg(common::policy_path("finance_wire_transfer.json"))
            .arg("--signing-key")
            .arg(dir.join("signing-key.pem"))
            .env_remove("PGSSLMODE");
        if let Some(mode) = sslmode {
            serve.env("PGSSLMODE", mode);
        }
        let out = serve.output().expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{url}: {stderr}");
        assert!(stderr.contains(expected), "{url}: {stderr}");
        assert!(!stderr.contains("s3cret"), "{url}: {stderr}");
    }
}

/// A verify is judged when its write runs, not when it arrived: one that
/// waited (here for another session's lock on the chain head, as for
/// another node's transaction) while its permit expired is refused.
/// Another session holding every chain head (a transaction that locked
/// them) until it commits or is dropped: the nodes' writers wait.
async fn hold_chain_heads(url: &str) -> tokio_postgres::Client {
    let (holder, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connects");
    tokio::spawn(connection);
    holder
        .batch_execute("BEGIN; SELECT * FROM chain_heads FOR UPDATE")
        .await
        .expect("locks");
    holder
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permit_that_expires_while_its_verify_waits_is_not_valid() {
    use atlasent_server::clock::Clock;
    let cluster = PgCluster::start();
    cluster.create_database("late");
    let url = cluster.url("late");
    let clock = Clock::manual(atlasent_server::clock::now_ms());
    let server = start_with(|b| {
        b.storage(postgres(&url))
            .clock(clock.clone())
            .permit_ttl(std::time::Duration::from_secs(60))
    })
    .await;
    let c = client(&server);
    let permit = c
        .evaluate("finance-agent", "wire_transfer", &transfer("late"))
        .await
        .expect("evaluate")
        .permit_id;
    let holder = hold_chain_heads(&url).await;
    let verify = {
        let c = client(&server);
        let permit = permit.clone();
        tokio::spawn(async move {
            c.verify(&permit, "finance-agent", "wire_transfer", &transfer("late"))
                .await
        })
    };
    // The verify has arrived and waits for the lock; meanwhile the permit
    // expires.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    clock.advance(120_000);
    holder.batch_execute("COMMIT").await.expect("unlocks");
    let result = verify.await.expect("joined").expect("an answer");
    assert!(!result.verified, "{result:?}");
    let record = c.get_permit(&permit).await.expect("the permit");
    assert_eq!(record.status.as_str(), "expired", "{record:?}");
    server.shutdown().await.expect("stops");
}

/// A permit row this build cannot read (an unknown status) fails only the
/// verify that reads it: the other writes of its batch commit
/// (`corrupt_rows.rs` for SQLite).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_permit_row_fails_only_its_verify() {
    let cluster = PgCluster::start();
    cluster.create_database("corrupt");
    let url = cluster.url("corrupt");
    let server = start_with(|b| b.storage(postgres(&url))).await;
    common::a_corrupt_permit_fails_alone(
        &server,
        |id| {
            cluster.psql(
                "corrupt",
                &format!("UPDATE permits SET status = 'bogus' WHERE id = '{id}'"),
            );
        },
        hold_chain_heads(&url),
    )
    .await;
    server.shutdown().await.expect("stops");
}

/// An organization's chain head whose hash is not one this build writes
/// fails that organization's writes only (nothing is chained to it); another
/// organization's writes of the same batch commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_chain_head_fails_only_its_organizations_writes() {
    let cluster = PgCluster::start();
    cluster.create_database("heads");
    let url = cluster.url("heads");
    let server = common::two_organizations()
        .storage(postgres(&url))
        .start()
        .await
        .expect("starts");
    for key in [common::ACME, common::GLOBEX] {
        let (status, reply) = common::spawn_transfer(&server, key, "first")
            .await
            .expect("joined");
        assert_eq!(status, 200, "{reply}");
    }
    let damage = "UPDATE chain_heads SET hash = 'not a hash' WHERE org_id = 'acme'";
    cluster.psql("heads", damage);
    common::a_damaged_head_fails_only_its_organization(&server, hold_chain_heads(&url)).await;
    let head = cluster.psql(
        "heads",
        "SELECT hash FROM chain_heads WHERE org_id = 'acme'",
    );
    assert_eq!(head.trim(), "not a hash", "nothing was chained to it");
    server.shutdown().await.expect("stops");
}

/// A writer connection that died while idle (PostgreSQL restarted, a proxy
/// cut it) costs no request: the next batch begins on a new connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_cut_while_idle_fails_no_request() {
    let cluster = PgCluster::start();
    cluster.create_database("cut");
    let server = start_with(|b| b.storage(postgres(&cluster.url("cut")))).await;
    let auth = format!("Bearer {KEY}");
    let headers = [("authorization", auth.as_str())];
    for round in 0..3 {
        let ended = cluster.psql(
            "cut",
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = 'atlasent-server') AS ended",
        );
        assert_ne!(ended.trim(), "0", "round {round}: no connection to end");
        // Let the server notice nothing: the next request is the first use.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        // Raw HTTP: the SDK would retry a 503 and hide it.
        let body = json!({ "agent": "finance-agent", "action": "wire_transfer",
                           "context": transfer(&format!("cut {round}")) });
        let (status, _, reply) =
            common::post(&server, "/v1-evaluate", &headers, body.to_string()).await;
        assert_eq!(status, 200, "round {round}: {reply}");
        assert_eq!(reply["permitted"], true, "{reply}");
    }
    let (_, verification) = common::export_and_verify(&server).await;
    assert!(verification.verified(), "{verification:?}");
    server.shutdown().await.expect("stops");
}
