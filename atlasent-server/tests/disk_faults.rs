//! Disk faults, end to end over HTTP against the real `atlasent-server
//! serve` binary: with the database on a full or a read-only filesystem,
//! decisions fail closed (503 `server_error`, never a 200 whose event is not
//! durable), nothing acknowledged is lost, and the server recovers when the
//! space returns.
//!
//! - A full disk is a small tmpfs that a filler file fills up to a little
//!   headroom; the load then fills the headroom. Deleting the filler gives
//!   the space back.
//! - A read-only disk is an ext4 image on a loop device mounted with
//!   `errors=remount-ro`, whose error trigger (`/sys/fs/ext4/<dev>/
//!   trigger_fs_error`) makes the kernel turn it read-only under the running
//!   server, as a failing disk does. (`mount -o remount,ro` cannot do that:
//!   the kernel refuses it with EBUSY while SQLite holds the database open for
//!   writing, so a tmpfs never becomes read-only under the server. The
//!   kernel's emergency read-only state is cleared only by unmounting, so the
//!   recovery is: stop the server, unmount, mount again, start.) One gap is
//!   the kernel's, not the server's: a decision whose fsync raced the error
//!   handling can be acknowledged and still be missing after the remount
//!   (ext4 returned success for it); the test reports those and requires
//!   every other acknowledged decision.
//!
//! Mounting needs root. The tests run as root here and in CI; elsewhere a
//! tmpfs test re-runs itself inside `unshare -rm` (a user and mount namespace
//! where it is root) and fails with the reason when it cannot. Every mount is
//! unmounted by a guard, also when a test fails.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use atlasent::audit::{verify_audit_bundle, VerifyingKey};
use common::KEY;
use serde_json::{json, Value};

/// An auditor's key: exports are made with it.
const AUDIT_KEY: &str = "ask_local_disk_fault_auditor";
/// Set in the environment of a test re-run inside `unshare -rm`.
const IN_NAMESPACE: &str = "ATLASENT_DISK_FAULTS_IN_NAMESPACE";
/// ENOSPC and EROFS on Linux.
const ENOSPC: i32 = 28;
const EROFS: i32 = 30;
/// Concurrent clients of a load.
const WORKERS: usize = 4;

// ---------------------------------------------------------------- privileges

fn uid() -> String {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|e| format!("unknown (`id -u` failed: {e})"))
}

/// True when the caller should run its body here (it may mount). Otherwise
/// this re-runs `test` inside `unshare -rm`, passes when that run passed and
/// panics with the reason when it failed or could not run.
fn may_mount_or_rerun(test: &str) -> bool {
    let uid = uid();
    if uid == "0" {
        return true;
    }
    assert!(
        std::env::var_os(IN_NAMESPACE).is_none(),
        "inside `unshare -rm` the uid is {uid}, not 0: cannot mount"
    );
    let probe = Command::new("unshare")
        .args(["-rm", "--", "true"])
        .output()
        .map_err(|e| e.to_string())
        .and_then(|o| {
            if o.status.success() {
                Ok(())
            } else {
                Err(String::from_utf8_lossy(&o.stderr).trim().to_owned())
            }
        });
    if let Err(reason) = probe {
        panic!(
            "disk-fault test {test} needs to mount a tmpfs: it is not root (uid {uid}) and \
             `unshare -rm` is unavailable ({reason}); run it as root or where user namespaces \
             are allowed"
        );
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = Command::new("unshare")
        .args(["-rm", "--"])
        .arg(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(IN_NAMESPACE, "1")
        .output()
        .expect("unshare runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{test} failed inside `unshare -rm` (uid {uid} outside): {}",
        out.status
    );
    false
}

// ------------------------------------------------------------------- mounts

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("`{program}` cannot run: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A mounted filesystem, unmounted on drop (lazily as a last resort, so a
/// failing test never leaves a mount behind).
struct Mounted {
    dir: PathBuf,
    /// An ext4 image on a loop device (mounted again by [`Mounted::cycle`]).
    image: Option<PathBuf>,
    mounted: bool,
}

impl Mounted {
    fn tmpfs(dir: &Path, size: &str) -> Mounted {
        std::fs::create_dir_all(dir).expect("mount point");
        let d = dir.to_str().expect("utf-8 path");
        run(
            "mount",
            &["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", d],
        )
        .unwrap_or_else(|e| panic!("cannot mount a {size} tmpfs at {d}: {e}"));
        Mounted {
            dir: dir.to_owned(),
            image: None,
            mounted: true,
        }
    }

    fn ext4(image: &Path, dir: &Path) -> Mounted {
        std::fs::create_dir_all(dir).expect("mount point");
        let mut m = Mounted {
            dir: dir.to_owned(),
            image: Some(image.to_owned()),
            mounted: false,
        };
        m.mount_image();
        m
    }

    fn mount_image(&mut self) {
        let image = self
            .image
            .as_deref()
            .expect("an image")
            .to_str()
            .expect("utf-8");
        let d = self.dir.to_str().expect("utf-8 path");
        run("mount", &["-o", "loop,errors=remount-ro", image, d]).unwrap_or_else(|e| {
            panic!(
                "cannot mount the ext4 image {image} on a loop device at {d} \
                 (the read-only test needs root with loop devices): {e}"
            )
        });
        self.mounted = true;
    }

    /// Unmount and mount the image again: the only way out of the kernel's
    /// emergency read-only state.
    fn cycle(&mut self) {
        self.unmount().expect("unmount");
        self.mount_image();
    }

    fn unmount(&mut self) -> Result<(), String> {
        let d = self.dir.to_str().expect("utf-8 path").to_owned();
        let mut last = String::new();
        // A just-stopped server may hold its files for a moment longer.
        for _ in 0..50 {
            match run("umount", &[&d]) {
                Ok(()) => {
                    self.mounted = false;
                    return Ok(());
                }
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(last)
    }

    /// The block device of the mount (`/dev/loopN` → `loopN`).
    fn device(&self) -> Result<String, String> {
        let mounts = std::fs::read_to_string("/proc/self/mounts").map_err(|e| e.to_string())?;
        let dir = self.dir.to_str().expect("utf-8 path");
        mounts
            .lines()
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                Some((f.next()?, f.next()?))
            })
            .rfind(|(_, at)| *at == dir)
            .and_then(|(dev, _)| dev.rsplit('/').next().map(str::to_owned))
            .ok_or_else(|| format!("{dir} is not in /proc/self/mounts"))
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if !self.mounted {
            return;
        }
        if let Err(e) = self.unmount() {
            eprintln!(
                "unmount of {} failed ({e}); unmounting lazily",
                self.dir.display()
            );
            let _ = run("umount", &["-l", self.dir.to_str().unwrap_or_default()]);
        }
    }
}

/// A fresh directory per test (never on the faulty filesystem itself):
/// under the target directory, or the system's temporary directory when
/// that is not writable (a re-run inside `unshare -rm` by a user who does not
/// own the target directory).
fn workdir(test: &str) -> PathBuf {
    let name = format!("disk-faults-{}-{test}", std::process::id());
    let bases = [
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
        std::env::temp_dir(),
    ];
    for base in &bases {
        let dir = base.join(&name);
        let _ = std::fs::remove_dir_all(&dir);
        if std::fs::create_dir_all(&dir).is_ok() {
            return dir;
        }
    }
    panic!("cannot create {name} under any of {bases:?}");
}

/// Fill the filesystem of `dir` with a file, leaving `headroom` bytes free.
fn fill_leaving(dir: &Path, headroom: u64) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).expect("filler");
    let chunk = vec![0xa5u8; 1 << 20];
    let mut written = 0u64;
    let mut full = false;
    // Bounded: the tmpfs of these tests holds a few MiB.
    for _ in 0..4096 {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.raw_os_error() == Some(ENOSPC) => {
                full = true;
                break;
            }
            Err(e) => panic!("filler: {e}"),
        }
    }
    assert!(full, "the filesystem of {} never filled up", dir.display());
    file.set_len(written.saturating_sub(headroom))
        .expect("filler shrinks");
    path
}

/// Turn the ext4 filesystem read-only under whoever is writing to it, as the
/// kernel does on an I/O error with `errors=remount-ro`.
fn make_read_only(mount: &Mounted) -> Result<(), String> {
    let dev = mount.device()?;
    let trigger = format!("/sys/fs/ext4/{dev}/trigger_fs_error");
    std::fs::write(&trigger, "atlasent disk-fault test")
        .map_err(|e| format!("cannot write {trigger}: {e}"))?;
    match std::fs::write(mount.dir.join("probe"), "x") {
        Err(e) if e.raw_os_error() == Some(EROFS) => Ok(()),
        other => Err(format!(
            "after {trigger}, a write to {} gave {other:?}, not EROFS",
            mount.dir.display()
        )),
    }
}

// ------------------------------------------------------------------- server

/// A running `atlasent-server serve`, killed on drop.
struct Serve {
    child: Option<Child>,
    url: String,
    log: PathBuf,
}

impl Serve {
    /// Start the binary on `db` and wait (bounded) for its `listening on`
    /// line. `Err` says why it did not start.
    fn start(db: &Path, key: &Path, log: &Path) -> Result<Serve, String> {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("server log");
        let mut child = common::serve_command(db, key, &["--audit-key", AUDIT_KEY])
            .stderr(log_file)
            .spawn()
            .expect("server binary starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut serve = Serve {
            child: Some(child),
            url: String::new(),
            log: log.to_owned(),
        };
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => match line.trim().strip_prefix("listening on ") {
                Some(url) => {
                    serve.url = url.to_owned();
                    Ok(serve)
                }
                None => {
                    let status = serve.stop_within(Duration::from_secs(10));
                    Err(format!(
                        "did not start (first line {line:?}, {status:?}); log:\n{}",
                        serve.log_tail()
                    ))
                }
            },
            Err(_) => {
                drop(serve.child.as_mut().map(Child::kill));
                Err(format!(
                    "not listening after 30 s; log:\n{}",
                    serve.log_tail()
                ))
            }
        }
    }

    fn alive(&mut self) -> Result<(), String> {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => Ok(()),
            other => Err(format!(
                "the server is gone ({other:?}); log:\n{}",
                self.log_tail()
            )),
        }
    }

    /// SIGTERM, then wait (bounded) for the exit; SIGKILL if it hangs.
    fn stop_within(&mut self, within: Duration) -> Result<ExitStatus, String> {
        let Some(mut child) = self.child.take() else {
            return Err("already stopped".into());
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Ok(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        Err(format!(
            "did not exit within {within:?} of SIGTERM (hung); killed. log:\n{}",
            self.log_tail()
        ))
    }

    /// The last lines of the server's stderr, for failure messages.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(12)..].join("\n")
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// --------------------------------------------------------------------- HTTP

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        // Generous: a loaded machine must not turn a slow answer into a
        // failure; a hang still ends the test.
        .timeout(Duration::from_secs(20))
        .build()
        .expect("http client")
}

/// A decision the server acknowledged (a 200 with an audit hash).
#[derive(Debug, Clone)]
struct Ack {
    endpoint: &'static str,
    decision_id: String,
    audit_hash: String,
    /// When the reply had arrived.
    at: Instant,
    /// Its client had been answered 503 before it sent this request: the
    /// decision was committed after a failed commit.
    after_refusal: bool,
}

fn is_hash(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// One decision call. `Ok(Some(reply))`: a 200 with a well-formed decision;
/// `Ok(None)`: 503 `server_error`; `Err`: anything else, which a disk fault
/// must never cause.
async fn call(
    http: &reqwest::Client,
    url: &str,
    path: &str,
    body: &Value,
    request_id: &str,
) -> Result<Option<Value>, String> {
    let resp = http
        .post(format!("{url}{path}"))
        .header("authorization", format!("Bearer {KEY}"))
        .header("x-request-id", request_id)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| format!("{path} {request_id}: no answer (crashed or hung?): {e}"))?;
    let status = resp.status().as_u16();
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| format!("{path} {request_id}: body cut off: {e}"))?;
    let reply: Value = serde_json::from_slice(&bytes).map_err(|_| {
        format!(
            "{path} {request_id}: {status} with a body that is not JSON: {:?}",
            String::from_utf8_lossy(&bytes)
        )
    })?;
    let well_formed = match path {
        "/v1-evaluate" => {
            reply["permitted"].is_boolean()
                && reply["decision_id"].as_str().is_some_and(|d| !d.is_empty())
                && is_hash(&reply["audit_hash"])
        }
        _ => {
            reply["verified"].is_boolean()
                && reply["outcome"].is_string()
                && is_hash(&reply["audit_hash"])
        }
    };
    match status {
        200 if well_formed => Ok(Some(reply)),
        503 if reply["code"] == "server_error" => Ok(None),
        _ => Err(format!(
            "{path} {request_id}: expected 200 with a decision or 503 server_error, got {status} {reply}"
        )),
    }
}

fn evaluate_body(allowed: bool, memo: &str) -> (Value, Value) {
    let context = json!({
        "amount_usd": if allowed { 100 } else { 50_000 },
        "counterparty_id": "cp-disk",
        "memo": memo,
    });
    let body = json!({ "action": "wire_transfer", "agent": "finance-agent", "context": context });
    (body, context)
}

fn verify_body(decision_id: &str, context: &Value) -> Value {
    json!({
        "decision_id": decision_id,
        "action": "wire_transfer",
        "agent": "finance-agent",
        "context": context,
    })
}

/// What a load saw.
#[derive(Default)]
struct Tally {
    requests: u64,
    acks: Vec<Ack>,
    /// 503 replies.
    unavailable: u64,
    /// Allowed permits never verified: id and context.
    unverified: Vec<(String, Value)>,
    /// Allowed permits whose verify was answered 503.
    verify_refused: Vec<(String, Value)>,
    /// Evaluate requests answered 503: request id and body (retried later).
    refused: Vec<(String, Value)>,
    /// Replies a disk fault must never cause.
    anomalies: Vec<String>,
}

impl Tally {
    /// Count one request and its `reply`: an anomaly is kept and stops the
    /// worker (`Err`); a 503 (`Ok(None)`) marks the client `refused`.
    fn count(
        &mut self,
        reply: Result<Option<Value>, String>,
        refused: &mut bool,
    ) -> Result<Option<Value>, ()> {
        self.requests += 1;
        match reply {
            Err(anomaly) => {
                self.anomalies.push(anomaly);
                Err(())
            }
            Ok(None) => {
                self.unavailable += 1;
                *refused = true;
                Ok(None)
            }
            Ok(answer) => Ok(answer),
        }
    }

    fn ack(&mut self, endpoint: &'static str, decision_id: &str, reply: &Value) {
        self.ack_at(endpoint, decision_id, reply, Instant::now(), false);
    }

    fn ack_at(
        &mut self,
        endpoint: &'static str,
        decision_id: &str,
        reply: &Value,
        at: Instant,
        after_refusal: bool,
    ) {
        self.acks.push(Ack {
            endpoint,
            decision_id: decision_id.to_owned(),
            audit_hash: reply["audit_hash"].as_str().unwrap_or_default().to_owned(),
            at,
            after_refusal,
        });
    }
}

async fn worker(
    url: String,
    phase: &'static str,
    w: usize,
    tally: Arc<Mutex<Tally>>,
    stop: Arc<AtomicBool>,
) {
    let http = http();
    let mut i = 0u64;
    // Whether this client has been answered 503 (its later requests are
    // decided after a failed commit).
    let mut refused = false;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let allowed = i % 3 != 0;
        let rid = format!("{phase}-{w}-{i}");
        let (body, context) = evaluate_body(allowed, &rid);
        let reply = call(&http, &url, "/v1-evaluate", &body, &format!("{rid}-e")).await;
        let at = Instant::now();
        // What to verify next, decided with the tally locked (never across
        // an await).
        let to_verify = {
            let mut t = tally.lock().expect("tally");
            let Ok(reply) = t.count(reply, &mut refused) else {
                break;
            };
            match reply {
                None => {
                    if t.refused.len() < 8 {
                        t.refused.push((format!("{rid}-e"), body));
                    }
                    None
                }
                Some(reply) => {
                    let id = reply["decision_id"].as_str().unwrap_or_default().to_owned();
                    t.ack_at("evaluate", &id, &reply, at, refused);
                    if reply["permitted"] != allowed {
                        t.anomalies.push(format!(
                            "{rid}: permitted {} for allowed={allowed}",
                            reply["permitted"]
                        ));
                        break;
                    }
                    match (allowed, i % 2) {
                        (false, _) => None,
                        (true, 1) => {
                            t.unverified.push((id, context));
                            None
                        }
                        (true, _) => Some((id, context)),
                    }
                }
            }
        };
        let Some((id, context)) = to_verify else {
            continue;
        };
        let verify = verify_body(&id, &context);
        let rid_v = format!("{rid}-v");
        let reply = call(&http, &url, "/v1-verify-permit", &verify, &rid_v).await;
        let at = Instant::now();
        let mut t = tally.lock().expect("tally");
        let Ok(reply) = t.count(reply, &mut refused) else {
            break;
        };
        match reply {
            None => t.verify_refused.push((id, context)),
            Some(reply) => {
                if reply["outcome"] != "verified" {
                    t.anomalies
                        .push(format!("{rid}: a fresh permit's verify said {reply}"));
                    break;
                }
                t.ack_at("verify", &id, &reply, at, refused);
            }
        }
    }
}

/// Run [`WORKERS`] clients until `done` says so (it is called every few
/// milliseconds and may act, e.g. break the disk), an anomaly, or the time
/// or request bound.
async fn drive(
    url: &str,
    phase: &'static str,
    tally: &Arc<Mutex<Tally>>,
    within: Duration,
    max_requests: u64,
    mut done: impl FnMut(&Tally) -> bool,
) -> Result<(), String> {
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..WORKERS)
        .map(|w| {
            tokio::spawn(worker(
                url.to_owned(),
                phase,
                w,
                Arc::clone(tally),
                Arc::clone(&stop),
            ))
        })
        .collect();
    let deadline = Instant::now() + within;
    let outcome = loop {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let t = tally.lock().expect("tally");
        if let Some(a) = t.anomalies.first() {
            break Err(format!("{phase}: {a}"));
        }
        if done(&t) {
            break Ok(());
        }
        if t.requests >= max_requests || Instant::now() > deadline {
            break Err(format!(
                "{phase}: not done after {} requests in {within:?} ({} acknowledged, {} answered 503)",
                t.requests,
                t.acks.len(),
                t.unavailable
            ));
        }
    };
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("worker");
    }
    if let Some(a) = tally.lock().expect("tally").anomalies.first() {
        return Err(format!("{phase}: {a}"));
    }
    outcome
}

/// Poll (bounded) until a decision succeeds again; returns the 503s seen.
async fn until_decisions_succeed(
    url: &str,
    tally: &Arc<Mutex<Tally>>,
    within: Duration,
) -> Result<u32, String> {
    let http = http();
    let deadline = Instant::now() + within;
    let mut refusals = 0;
    for n in 0u32.. {
        let rid = format!("recover-{n}");
        let (body, _) = evaluate_body(true, &rid);
        match call(&http, url, "/v1-evaluate", &body, &rid).await? {
            Some(reply) => {
                let id = reply["decision_id"].as_str().unwrap_or_default().to_owned();
                tally.lock().expect("tally").ack("evaluate", &id, &reply);
                return Ok(refusals);
            }
            None if Instant::now() < deadline => {
                refusals += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            None => break,
        }
    }
    Err(format!(
        "still 503 {within:?} after the fault ended ({refusals} refusals)"
    ))
}

/// `n` sequential decisions that must all succeed.
async fn all_succeed(
    url: &str,
    phase: &str,
    tally: &Arc<Mutex<Tally>>,
    n: u32,
) -> Result<(), String> {
    let http = http();
    for i in 0..n {
        let rid = format!("{phase}-{i}");
        let (body, _) = evaluate_body(i % 4 != 0, &rid);
        match call(&http, url, "/v1-evaluate", &body, &rid).await? {
            Some(reply) => {
                let id = reply["decision_id"].as_str().unwrap_or_default().to_owned();
                tally.lock().expect("tally").ack("evaluate", &id, &reply);
            }
            None => return Err(format!("{phase}: decision {i} of {n} answered 503")),
        }
    }
    Ok(())
}

/// Verify `permit` once with a new request id.
async fn verify_once(
    url: &str,
    rid: &str,
    permit: &(String, Value),
) -> Result<Option<Value>, String> {
    call(
        &http(),
        url,
        "/v1-verify-permit",
        &verify_body(&permit.0, &permit.1),
        rid,
    )
    .await
}

/// Export with the audit key, verify the bundle against the server's public
/// key (`GET /v1-signing-keys`) and check that every acknowledged decision's
/// event is in it with the acknowledged hash. `Ok(None)`: the export itself
/// answered 503; `Ok(Some(n))`: `n` events hold them all.
async fn export_holds(url: &str, acks: &[Ack]) -> Result<Option<usize>, String> {
    Ok(export_detail(url, acks).await?.map(|e| e.events))
}

/// A checked export.
struct Export {
    events: usize,
    /// Hashes of events no 200 acknowledged (their requests were answered
    /// 503 although their commit turned out durable).
    unacknowledged: std::collections::HashSet<String>,
    /// Every event's hash.
    hashes: std::collections::HashSet<String>,
}

/// [`export_holds`], with the events nobody acknowledged.
async fn export_detail(url: &str, acks: &[Ack]) -> Result<Option<Export>, String> {
    let http = http();
    let keys: Value = serde_json::from_slice(
        &http
            .get(format!("{url}/v1-signing-keys"))
            .header("authorization", format!("Bearer {KEY}"))
            .send()
            .await
            .map_err(|e| format!("signing keys: {e}"))?
            .bytes()
            .await
            .map_err(|e| format!("signing keys: {e}"))?,
    )
    .map_err(|e| format!("signing keys: {e}"))?;
    let pem = keys["keys"][0]["public_key_pem"]
        .as_str()
        .ok_or_else(|| format!("no public key in {keys}"))?;
    let key = VerifyingKey::from_spki_pem(pem).map_err(|e| format!("public key: {e}"))?;
    let resp = http
        .post(format!("{url}/v1-audit/exports"))
        .header("authorization", format!("Bearer {AUDIT_KEY}"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .map_err(|e| format!("export: no answer: {e}"))?;
    let status = resp.status().as_u16();
    let text = resp.text().await.map_err(|e| format!("export: {e}"))?;
    match status {
        200 => {}
        503 => return Ok(None),
        _ => return Err(format!("export: {status} {text}")),
    }
    let result =
        verify_audit_bundle(&text, &[key]).map_err(|e| format!("export: not a bundle: {e}"))?;
    if !result.verified() {
        return Err(format!("the export does not verify: {result:?}"));
    }
    let bundle: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let events = bundle["events"].as_array().cloned().unwrap_or_default();
    let by_hash: std::collections::HashMap<&str, &Value> = events
        .iter()
        .filter_map(|e| Some((e["hash"].as_str()?, e)))
        .collect();
    let missing: Vec<&Ack> = acks
        .iter()
        .filter(|a| {
            by_hash
                .get(a.audit_hash.as_str())
                .is_none_or(|e| e["payload"]["decision_id"] != a.decision_id.as_str())
        })
        .collect();
    let acked: std::collections::HashSet<&str> =
        acks.iter().map(|a| a.audit_hash.as_str()).collect();
    let unacknowledged: Vec<&Value> = events
        .iter()
        .filter(|e| !e["hash"].as_str().is_some_and(|h| acked.contains(h)))
        .collect();
    let extra: Vec<String> = unacknowledged
        .iter()
        .map(|e| {
            format!(
                "{} {} {}",
                e["sequence"], e["type"], e["payload"]["request_id"]
            )
        })
        .collect();
    if !extra.is_empty() {
        // Possible: a commit whose reply was an error can turn out durable
        // (frames written, then the sync failed; SQLite recovers them from
        // the WAL at the next start). A retry with the request id gets it.
        println!(
            "{} events were never acknowledged: {:?}",
            extra.len(),
            &extra[..extra.len().min(5)]
        );
    }
    if missing.is_empty() {
        Ok(Some(Export {
            events: events.len(),
            hashes: by_hash.keys().map(|h| (*h).to_owned()).collect(),
            unacknowledged: unacknowledged
                .iter()
                .filter_map(|e| e["hash"].as_str().map(str::to_owned))
                .collect(),
        }))
    } else {
        Err(format!(
            "{} of {} acknowledged decisions are not in the export ({} events), e.g. {:?}",
            missing.len(),
            acks.len(),
            events.len(),
            missing
                .iter()
                .take(3)
                .map(|a| format!(
                    "{} {} audit_hash {}",
                    a.endpoint, a.decision_id, a.audit_hash
                ))
                .collect::<Vec<_>>()
        ))
    }
}

fn acks(tally: &Arc<Mutex<Tally>>) -> Vec<Ack> {
    tally.lock().expect("tally").acks.clone()
}

/// Unwrap a step's result, with the server's log on failure.
fn check<T>(step: &str, result: Result<T, String>, server: &Serve) -> T {
    result.unwrap_or_else(|e| {
        panic!(
            "{step}: {e}\nserver log (last lines):\n{}",
            server.log_tail()
        )
    })
}

// -------------------------------------------------------------------- tests

/// Headroom the load fills: ~20 group commits of a handful of pages each.
const HEADROOM: u64 = 1 << 20;
/// The tmpfs: large enough after recovery for a full 1000-page WAL (4 MiB,
/// SQLite's auto-checkpoint threshold) next to the database.
const TMPFS_SIZE: &str = "16m";

/// Fill the disk under load; every reply is a decision or a 503, and the
/// disk did fill. Returns the tally.
/// `warm` decisions, then fill the disk (leaving [`HEADROOM`]) under load
/// until it is full: every reply is a decision or a 503, and the disk did
/// fill. Returns the tally.
async fn fill_under_load(
    url: &str,
    server: &Serve,
    mount: &Path,
    warm: usize,
) -> Arc<Mutex<Tally>> {
    let tally = Arc::new(Mutex::new(Tally::default()));
    check(
        "warm-up",
        drive(url, "warm", &tally, Duration::from_secs(60), 100_000, |t| {
            t.acks.len() >= warm
        })
        .await,
        server,
    );
    println!("warm: {}", files(mount));
    let _filler = fill_leaving(mount, HEADROOM);
    check(
        "filling the disk",
        drive(url, "fill", &tally, Duration::from_secs(60), 100_000, |t| {
            t.unavailable >= 40
        })
        .await,
        server,
    );
    let t = tally.lock().expect("tally");
    println!(
        "filled: {} requests, {} acknowledged, {} answered 503; {}",
        t.requests,
        t.acks.len(),
        t.unavailable,
        files(mount)
    );
    assert!(
        t.acks.len() >= warm + 10,
        "too few decisions before the disk filled ({} after a warm-up of {warm})",
        t.acks.len()
    );
    drop(t);
    tally
}

/// The database's files and their sizes.
fn files(dir: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| {
                    let len = e.metadata().map_or(0, |m| m.len());
                    format!("{} {} KiB", e.file_name().to_string_lossy(), len >> 10)
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names.join(", ")
}

/// A server's files with its database on a small tmpfs of its own
/// ([`TMPFS_SIZE`]), the key and log beside it.
struct FullDiskRig {
    mount: Mounted,
    db: PathBuf,
    key: PathBuf,
    log: PathBuf,
}

impl FullDiskRig {
    fn new(test: &str) -> FullDiskRig {
        let dir = workdir(test);
        let mount = Mounted::tmpfs(&dir.join("mnt"), TMPFS_SIZE);
        let db = mount.dir.join("atlasent.db");
        let (key, log) = (dir.join("signing-key.pem"), dir.join("server.log"));
        FullDiskRig {
            mount,
            db,
            key,
            log,
        }
    }

    /// Start a server on the rig's files.
    fn serve(&self) -> Result<Serve, String> {
        Serve::start(&self.db, &self.key, &self.log)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_closed_loses_nothing_and_recovers_when_space_returns() {
    if !may_mount_or_rerun("a_full_disk_fails_closed_loses_nothing_and_recovers_when_space_returns")
    {
        return;
    }
    let rig = FullDiskRig::new("full");
    let mut server = rig.serve().expect("server starts");
    let url = server.url.clone();

    let tally = fill_under_load(&url, &server, &rig.mount.dir, 20).await;
    check("alive while full", server.alive(), &server);

    // A verify on the full disk fails closed and consumes nothing. (One
    // may still fit in WAL space a larger failed commit left allocated;
    // then it is a decision like any other.)
    let permits: Vec<(String, Value)> = tally
        .lock()
        .expect("tally")
        .unverified
        .iter()
        .take(4)
        .cloned()
        .collect();
    assert!(permits.len() >= 2, "the load left unverified permits");
    let mut kept = Vec::new();
    for (n, permit) in permits.into_iter().enumerate() {
        let r = check(
            "verify while full",
            verify_once(&url, &format!("full-verify-{n}"), &permit).await,
            &server,
        );
        match r {
            None => kept.push(permit),
            Some(r) => {
                assert_eq!(r["outcome"], "verified", "{r}");
                tally.lock().expect("tally").ack("verify", &permit.0, &r);
            }
        }
    }
    assert!(
        !kept.is_empty(),
        "on the full disk every verify answered 200"
    );
    // Reads may work on a full disk; if an export answers, it is complete.
    match check(
        "export while full",
        export_holds(&url, &acks(&tally)).await,
        &server,
    ) {
        Some(n) => println!("export while full: {n} events, every acknowledged decision in it"),
        None => println!("export while full: 503"),
    }

    // Space returns.
    std::fs::remove_file(rig.mount.dir.join("filler")).expect("filler removed");
    let refusals = check(
        "recovery",
        until_decisions_succeed(&url, &tally, Duration::from_secs(15)).await,
        &server,
    );
    println!(
        "recovered after {refusals} more 503s; {}",
        files(&rig.mount.dir)
    );
    check(
        "after recovery",
        all_succeed(&url, "after", &tally, 300).await,
        &server,
    );
    // The refused verifies left their permits verifiable, exactly once.
    for (n, permit) in kept.iter().enumerate() {
        let r = check(
            "verify after recovery",
            verify_once(&url, &format!("after-verify-{n}"), permit).await,
            &server,
        )
        .expect("a decision");
        assert_eq!(
            r["outcome"], "verified",
            "a verify answered 503 consumed the permit: {r}"
        );
        tally.lock().expect("tally").ack("verify", &permit.0, &r);
    }
    // A request refused with 503, retried with its request id, is decided now.
    let (rid, body) = tally
        .lock()
        .expect("tally")
        .refused
        .first()
        .cloned()
        .expect("a refused request");
    let r = check(
        "retry of a refused request",
        call(&http(), &url, "/v1-evaluate", &body, &rid).await,
        &server,
    )
    .expect("a decision");
    let id = r["decision_id"].as_str().unwrap_or_default().to_owned();
    tally.lock().expect("tally").ack("evaluate", &id, &r);

    let all = acks(&tally);
    let n = check(
        "export after recovery",
        export_holds(&url, &all).await,
        &server,
    )
    .expect("the export answers after recovery");
    println!(
        "after recovery: {n} events hold all {} acknowledged decisions",
        all.len()
    );

    // Nothing acknowledged is lost across a restart on the same database.
    let status = server.stop_within(Duration::from_secs(15));
    assert!(
        matches!(status, Ok(s) if s.success()),
        "clean exit after recovery: {status:?}"
    );
    let server = rig.serve().expect("server restarts");
    let n = check(
        "export after restart",
        export_holds(&server.url, &all).await,
        &server,
    )
    .expect("the export answers after restart");
    check(
        "decisions after restart",
        all_succeed(&server.url, "restarted", &tally, 20).await,
        &server,
    );
    println!(
        "after restart: {n} events hold all {} acknowledged decisions",
        all.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_stopped_and_restarted_on_a_full_disk_loses_nothing() {
    if !may_mount_or_rerun("a_server_stopped_and_restarted_on_a_full_disk_loses_nothing") {
        return;
    }
    let rig = FullDiskRig::new("full-restart");
    let mut server = rig.serve().expect("server starts");
    let url = server.url.clone();
    // Long enough for SQLite to checkpoint and restart its WAL (1000 pages):
    // on the full disk, commits first reuse the WAL's space while the
    // checkpoints that would grow the database fail.
    let tally = fill_under_load(&url, &server, &rig.mount.dir, 1500).await;

    // Stop on the full disk (SQLite's closing checkpoint cannot grow the
    // database file) and start again on it.
    let status = server.stop_within(Duration::from_secs(15));
    println!(
        "stopped on a full disk: {status:?}; {}",
        files(&rig.mount.dir)
    );
    check("stop on a full disk", status.map(drop), &server);
    let all = acks(&tally);
    let server = match rig.serve() {
        Ok(mut server) => {
            // Started: it answers from what is durable and decides nothing.
            let n = check(
                "export on a full disk after restart",
                export_holds(&server.url, &all).await,
                &server,
            );
            println!("restarted on a full disk; export: {n:?}");
            let (body, _) = evaluate_body(true, "restarted-full");
            let r = check(
                "evaluate on a full disk after restart",
                call(
                    &http(),
                    &server.url,
                    "/v1-evaluate",
                    &body,
                    "restarted-full",
                )
                .await,
                &server,
            );
            println!("an evaluate after the restart on the full disk: {r:?}");
            if let Some(r) = &r {
                let id = r["decision_id"].as_str().unwrap_or_default().to_owned();
                tally.lock().expect("tally").ack("evaluate", &id, r);
            }
            std::fs::remove_file(rig.mount.dir.join("filler")).expect("filler removed");
            check(
                "recovery",
                until_decisions_succeed(&server.url, &tally, Duration::from_secs(15)).await,
                &server,
            );
            check("alive", server.alive(), &server);
            server
        }
        Err(reason) => {
            println!("refused to start on a full disk: {reason}");
            std::fs::remove_file(rig.mount.dir.join("filler")).expect("filler removed");
            rig.serve().expect("server starts once space returns")
        }
    };
    check(
        "after recovery",
        all_succeed(&server.url, "after", &tally, 50).await,
        &server,
    );
    let all = acks(&tally);
    let n = check(
        "export after recovery",
        export_holds(&server.url, &all).await,
        &server,
    )
    .expect("the export answers after recovery");
    println!("{n} events hold all {} acknowledged decisions", all.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_turning_read_only_fails_closed_and_loses_nothing() {
    let uid = uid();
    assert!(
        uid == "0",
        "the read-only disk test needs root (uid is {uid}): it mounts an ext4 image on a \
         loop device, which a user namespace may not"
    );
    let dir = workdir("read-only");
    let image = dir.join("ext4.img");
    std::fs::File::create(&image)
        .and_then(|f| f.set_len(32 << 20))
        .expect("image file");
    run("mkfs.ext4", &["-q", "-F", image.to_str().expect("utf-8")])
        .unwrap_or_else(|e| panic!("the read-only disk test needs mkfs.ext4: {e}"));
    let mut mount = Mounted::ext4(&image, &dir.join("mnt"));
    let db = mount.dir.join("atlasent.db");
    let key = dir.join("signing-key.pem");
    let log = dir.join("server.log");
    let mut server = Serve::start(&db, &key, &log).expect("server starts");
    let url = server.url.clone();
    let tally = Arc::new(Mutex::new(Tally::default()));

    // Under load, the filesystem turns read-only.
    let mut broken_at: Option<u64> = None;
    let mut fault = Ok(());
    // When the fault began, and when the disk was seen read-only.
    let mut fault_window = (Instant::now(), Instant::now());
    check(
        "load while the disk turns read-only",
        drive(
            &url,
            "ro",
            &tally,
            Duration::from_secs(60),
            100_000,
            |t| match broken_at {
                None if t.acks.len() >= 60 => {
                    fault_window.0 = Instant::now();
                    fault = make_read_only(&mount);
                    fault_window.1 = Instant::now();
                    broken_at = Some(t.unavailable);
                    fault.is_err()
                }
                None => false,
                Some(before) => t.unavailable >= before + 40,
            },
        )
        .await,
        &server,
    );
    fault.expect("the filesystem turned read-only");
    check("alive while read-only", server.alive(), &server);
    {
        let t = tally.lock().expect("tally");
        println!(
            "read-only: {} requests, {} acknowledged, {} answered 503",
            t.requests,
            t.acks.len(),
            t.unavailable
        );
    }
    // Nothing is decided on a read-only disk.
    let (body, _) = evaluate_body(true, "ro-probe");
    let r = check(
        "evaluate while read-only",
        call(&http(), &url, "/v1-evaluate", &body, "ro-probe").await,
        &server,
    );
    assert!(
        r.is_none(),
        "an evaluate on a read-only disk answered 200: {r:?}"
    );
    let permit = tally
        .lock()
        .expect("tally")
        .unverified
        .first()
        .cloned()
        .expect("an unverified permit");
    let r = check(
        "verify while read-only",
        verify_once(&url, "ro-verify", &permit).await,
        &server,
    );
    assert!(
        r.is_none(),
        "a verify on a read-only disk answered 200: {r:?}"
    );
    match check(
        "export while read-only",
        export_holds(&url, &acks(&tally)).await,
        &server,
    ) {
        Some(n) => {
            println!("export while read-only: {n} events, every acknowledged decision in it")
        }
        None => println!("export while read-only: 503"),
    }

    let status = server.stop_within(Duration::from_secs(15));
    println!("stopped on a read-only disk: {status:?}");
    check("stop on a read-only disk", status.map(drop), &server);
    // Started on the read-only disk, it decides nothing.
    match Serve::start(&db, &key, &log) {
        Ok(server) => {
            let (body, _) = evaluate_body(true, "ro-restarted");
            let r = check(
                "evaluate after a restart on a read-only disk",
                call(&http(), &server.url, "/v1-evaluate", &body, "ro-restarted").await,
                &server,
            );
            assert!(
                r.is_none(),
                "a server started on a read-only disk answered 200: {r:?}"
            );
            println!("started on a read-only disk, answering 503");
        }
        Err(reason) => println!("refused to start on a read-only disk: {reason}"),
    }

    // The operator's recovery: unmount, mount again (read-write), start.
    mount.cycle();
    let server = Serve::start(&db, &key, &log).expect("server starts after the remount");
    // Every decision acknowledged outside the fault is there. One whose
    // reply arrived while the kernel was turning the disk read-only (from
    // the start of the fault to a second after the disk was seen read-only)
    // may not be, when its client had not been answered 503 before: an
    // fsync racing ext4's error handling can return success for data that
    // the next mount does not have (reproduced without SQLite on Linux 6.18:
    // pwrite + fsync in a loop while `trigger_fs_error` is written, then
    // umount + mount: in ~1 run of 8 the last append whose fsync returned 0
    // is gone). No server keeps what its kernel loses. But a decision
    // committed after the server had already failed a commit with an I/O
    // error (its client saw the 503 first) must not be acknowledged unless
    // durable, and after a failed fsync a later fsync's success proves
    // nothing: such a decision lost is the server's defect.
    let racing_until = fault_window.1 + Duration::from_secs(1);
    let (racing, rest): (Vec<Ack>, Vec<Ack>) = acks(&tally)
        .into_iter()
        .partition(|a| !a.after_refusal && a.at >= fault_window.0 && a.at < racing_until);
    let (after_refusal, settled): (Vec<Ack>, Vec<Ack>) =
        rest.into_iter().partition(|a| a.after_refusal);
    let export = check(
        "export after the remount",
        export_detail(&server.url, &settled).await,
        &server,
    )
    .expect("the export answers after the remount");
    println!(
        "after the remount: {} events hold all {} decisions acknowledged outside the fault",
        export.events,
        settled.len()
    );
    let missing = |acks: &[Ack]| -> Vec<Ack> {
        acks.iter()
            .filter(|a| !export.hashes.contains(&a.audit_hash))
            .cloned()
            .collect()
    };
    let lost_racing = missing(&racing);
    let lost_after_refusal = missing(&after_refusal);
    println!(
        "acknowledged while the disk was turning read-only: {} ({} lost by the kernel); \
         acknowledged after a 503 to the same client: {} ({} lost)",
        racing.len(),
        lost_racing.len(),
        after_refusal.len(),
        lost_after_refusal.len()
    );
    let lost: std::collections::HashSet<String> = lost_racing
        .iter()
        .chain(&lost_after_refusal)
        .map(|a| a.audit_hash.clone())
        .collect();
    // A request answered 503, retried with its request id, gets a decision
    // whose event is in the chain: the stored reply of a commit that turned
    // out durable, or a fresh decision.
    let refused = tally.lock().expect("tally").refused.clone();
    let mut replayed = 0;
    for (rid, body) in &refused {
        let r = check(
            "retry of a refused request",
            call(&http(), &server.url, "/v1-evaluate", body, rid).await,
            &server,
        )
        .expect("a decision");
        if r["audit_hash"]
            .as_str()
            .is_some_and(|h| export.unacknowledged.contains(h))
        {
            replayed += 1;
        }
        let id = r["decision_id"].as_str().unwrap_or_default().to_owned();
        tally.lock().expect("tally").ack("evaluate", &id, &r);
    }
    println!(
        "{} refused requests retried: {replayed} got the decision their 503 hid, the others a new one",
        refused.len()
    );
    let all: Vec<Ack> = acks(&tally)
        .into_iter()
        .filter(|a| !lost.contains(&a.audit_hash))
        .collect();
    check(
        "export after the retries",
        export_holds(&server.url, &all).await,
        &server,
    )
    .expect("the export answers");
    let r = check(
        "verify after the remount",
        verify_once(&server.url, "remounted-verify", &permit).await,
        &server,
    )
    .expect("a decision");
    assert_eq!(
        r["outcome"], "verified",
        "a 503 verify consumed the permit: {r}"
    );
    check(
        "decisions after the remount",
        all_succeed(&server.url, "remounted", &tally, 50).await,
        &server,
    );
    assert!(
        lost_after_refusal.is_empty(),
        "{} decisions acknowledged (200) after the server had failed a commit with an I/O error \
         are not in the chain after the remount, e.g. {:?}. After a failed fsync a later fsync's \
         success does not make data durable; the writer (engine.rs, Writer::apply) must stop \
         acknowledging after an I/O error",
        lost_after_refusal.len(),
        lost_after_refusal
            .iter()
            .take(3)
            .map(|a| format!("{} {}", a.endpoint, a.decision_id))
            .collect::<Vec<_>>()
    );
    drop(server);
    drop(mount);
    let _ = std::fs::remove_file(&image);
}
