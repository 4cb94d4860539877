//! `atlasent-server audit verify`: exit 0 and "verified" for a good bundle;
//! non-zero, naming what failed, otherwise.

mod common;
#[path = "../../atlasent/tests/support/standalone.rs"]
mod standalone;

use std::path::PathBuf;
use std::process::Command;

fn bundles() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/contract/vectors/audit-bundles")
}

fn verify(bundle: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_atlasent-server"))
        .args(["audit", "verify"])
        .arg(bundles().join(bundle))
        .arg("--key")
        .arg(bundles().join("signing-key.pub.pem"))
        .output()
        .expect("runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn a_valid_bundle_verifies() {
    let (ok, out) = verify("valid.json");
    assert!(ok, "{out}");
    assert!(out.contains("verified") && !out.contains("FAIL"), "{out}");
}

#[test]
fn each_broken_bundle_fails_and_says_what_failed() {
    for (bundle, needle) in [
        ("bad-signature.json", "FAIL signature"),
        ("wrong-key.json", "FAIL signature"),
        ("broken-chain.json", "FAIL every event links"),
        ("tampered-event.json", "tampered events (1): evt-2"),
    ] {
        let (ok, out) = verify(bundle);
        assert!(!ok, "{bundle} passed: {out}");
        assert!(out.contains(needle), "{bundle}: {out}");
        assert!(out.contains("NOT VERIFIED"), "{bundle}: {out}");
    }
}

#[test]
fn an_unreadable_key_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_atlasent-server"))
        .args(["audit", "verify"])
        .arg(bundles().join("valid.json"))
        .arg("--key")
        .arg(bundles().join("valid.json"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error: key"));
}

/// `lint` warns (and still exits 0) when an allow rule lacks the bound a
/// deny rule on the same action relies on, naming both rules, the key and
/// the fix.
#[test]
fn lint_warns_about_an_allow_rule_without_the_deny_rules_bound() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-lint-warning");
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("unbounded.json");
    std::fs::write(
        &file,
        r#"{ "policy_id": "wires", "version": "1.0.0", "rules": [
            { "id": "allow_any_wire", "effect": "allow", "match": { "action": "wire_transfer" } },
            { "id": "deny_high_value", "effect": "deny",
              "match": { "action": "wire_transfer", "context": { "amount_usd": { "gt": 10000 } } } }
        ] }"#,
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_atlasent-server"))
        .arg("lint")
        .arg(&file)
        .output()
        .expect("runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "warnings do not fail lint: {text}");
    assert!(text.contains("ok: wires 1.0.0"), "{text}");
    common::assert_contains_all(
        &text,
        &[
            "warning: wires $.rules[0]: allow rule allow_any_wire",
            "deny rule deny_high_value",
            "amount_usd",
            "\"require\": [\"amount_usd\"]",
        ],
    );
}

#[test]
fn a_bundle_with_an_escaped_second_events_member_is_not_verified() {
    // The forgery of issue 9: a genuine export with `,"\u0065vents":[]`
    // appended; every JSON reader sees zero events.
    let text = std::fs::read_to_string(bundles().join("valid.json")).expect("fixture");
    let inner = standalone::inner_bundle(&text);
    let forged = format!("{},\"\\u0065vents\":[]}}", &inner[..inner.len() - 1]);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let genuine_path = dir.join("cli-genuine-bundle.json");
    let forged_path = dir.join("cli-forged-bundle.json");
    std::fs::write(&genuine_path, inner).expect("write");
    std::fs::write(&forged_path, &forged).expect("write");

    let (ok, out) = verify(genuine_path.to_str().expect("utf-8 path"));
    assert!(ok, "the genuine bundle verifies: {out}");
    let (ok, out) = verify(forged_path.to_str().expect("utf-8 path"));
    assert!(!ok, "the forgery passed: {out}");
    assert!(out.contains("NOT VERIFIED"), "{out}");
    assert!(out.contains("duplicate member \"events\" at $"), "{out}");
    assert!(!out.lines().any(|line| line.trim() == "verified"), "{out}");
}

// ------------------------------------------------------------------ serve

/// A scratch directory of its own for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn demo_policy() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/policies/demo.json")
}

/// [`demo_policy`] as an argument.
fn demo_arg() -> String {
    demo_policy().to_str().expect("a UTF-8 path").to_owned()
}

/// What `serve` did: `listening` is its first stdout line when it started
/// (it is then stopped), `None` when it exited first; `stderr` is all it
/// wrote there.
struct Served {
    listening: Option<String>,
    success: bool,
    stderr: String,
}

impl Served {
    /// Its standard error names every one of `needles`.
    #[track_caller]
    fn says(&self, needles: &[&str]) {
        common::assert_contains_all(&self.stderr, needles);
    }
}

/// The arguments of a `command` line a document shows, after `prefix`.
fn typed_args<'c>(command: &'c str, prefix: &str) -> Vec<&'c str> {
    let args = command.strip_prefix(prefix).expect("the command as typed");
    args.split(' ').collect()
}

/// Start `atlasent-server serve --listen 127.0.0.1:0 ARGS` in `dir` (no
/// key from the environment), stderr to `stderr`; the child and the first
/// line it printed.
fn spawn_serve(
    dir: &std::path::Path,
    args: &[&str],
    stderr: std::process::Stdio,
) -> (std::process::Child, String) {
    use std::io::BufRead;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_atlasent-server"))
        .current_dir(dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("ATLASENT_SERVER_API_KEYS")
        .env_remove("ATLASENT_SERVER_KEYS_FILE")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("server binary starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("stdout");
    (child, line)
}

/// Run `atlasent-server serve --listen 127.0.0.1:0 --api-key … ARGS` in `dir`.
fn serve_in(dir: &std::path::Path, args: &[&str]) -> Served {
    use std::io::Read;
    let args = [&["--api-key", "ask_local_cli"], args].concat();
    let (mut child, line) = spawn_serve(dir, &args, std::process::Stdio::piped());
    let listening = line
        .starts_with("listening on")
        .then(|| line.trim().to_owned());
    if listening.is_some() {
        let _ = child.kill();
    }
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr");
    let status = child.wait().expect("exits");
    Served {
        listening,
        success: status.success(),
        stderr,
    }
}

/// Without `--policy` every request would be denied: `serve` refuses to
/// start, names the flag and the way to do it on purpose, and writes
/// nothing.
#[test]
fn serve_without_a_policy_refuses_to_start_naming_the_flag() {
    let dir = scratch("no-policy");
    let served = serve_in(&dir, &[]);
    assert!(
        served.listening.is_none(),
        "started without a policy: {:?}\n{}",
        served.listening,
        served.stderr
    );
    assert!(!served.success, "{}", served.stderr);
    served.says(&["--policy", "--allow-no-policy", "denied"]);
    assert!(
        !dir.join("atlasent.db").exists() && !dir.join("atlasent-signing-key.pem").exists(),
        "a refused start wrote files into the working directory"
    );
}

/// A `--policy` folder with no `.json` policy in it loads nothing: the same
/// refusal, naming the folder.
#[test]
fn serve_with_an_empty_policy_folder_refuses_to_start() {
    let dir = scratch("empty-policy-folder");
    std::fs::create_dir_all(dir.join("policies")).expect("dir");
    let served = serve_in(&dir, &["--policy", "policies"]);
    assert!(served.listening.is_none(), "{}", served.stderr);
    assert!(!served.success);
    served.says(&["--policy", "policies"]);
}

/// `--allow-no-policy` serves a deny-all server on purpose, and says so on
/// stderr.
#[test]
fn allow_no_policy_starts_with_a_loud_warning() {
    let dir = scratch("allow-no-policy");
    let served = serve_in(&dir, &["--allow-no-policy", "--db", ":memory:"]);
    assert!(served.listening.is_some(), "{}", served.stderr);
    served.says(&["warning", "every request is denied"]);
}

/// On start, `serve` says where it writes: the database and the signing
/// key, as absolute paths (the defaults are relative to the working
/// directory).
#[test]
fn serve_names_the_absolute_paths_it_writes_to() {
    let dir = scratch("paths");
    let served = serve_in(&dir, &["--policy", &demo_arg()]);
    assert!(served.listening.is_some(), "{}", served.stderr);
    let dir = dir.canonicalize().expect("dir");
    for file in ["atlasent.db", "atlasent-signing-key.pem"] {
        let path = dir.join(file);
        assert!(path.exists(), "{file} was not written");
        served.says(&[&path.display().to_string()]);
    }
}

/// `--db :memory:` writes no database, and `serve` says so.
#[test]
fn serve_says_when_the_database_is_in_memory() {
    let dir = scratch("in-memory");
    let key_file = "keys/signing.pem";
    let args = [
        "--policy",
        &demo_arg(),
        "--db",
        ":memory:",
        "--signing-key",
        key_file,
    ];
    let served = serve_in(&dir, &args);
    assert!(served.listening.is_some(), "{}", served.stderr);
    let key = dir.canonicalize().expect("dir").join(key_file);
    served.says(&["in memory", &key.display().to_string()]);
}

/// The policy reference shows `lint` at work: each `lint-example` policy
/// of `docs/policy-language.md`, linted as the `lint-output` block after it
/// says, prints exactly that block.
#[test]
fn the_policy_references_lint_examples_print_what_it_shows() {
    let doc = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/policy-language.md"),
    )
    .expect("the policy reference");
    // The fenced block after the first line that starts with `marker`.
    fn block_after<'d>(doc: &'d str, marker: &str) -> Option<(&'d str, &'d str, &'d str)> {
        let start = doc.find(marker)?;
        let rest = &doc[start..];
        let (marker_line, rest) = rest.split_once('\n')?;
        let (_, rest) = rest.split_once("```")?;
        let (_, rest) = rest.split_once('\n')?;
        let (body, rest) = rest.split_once("```")?;
        Some((marker_line, body, rest))
    }
    let dir = scratch("reference-lint");
    let mut rest = doc.as_str();
    let mut checked = 0;
    while let Some((marker, policy, after)) = block_after(rest, "<!-- lint-example: ") {
        let file = marker
            .trim_start_matches("<!-- lint-example: ")
            .trim_end_matches(" -->");
        let (_, shown, after) = block_after(after, "<!-- lint-output -->").expect("its output");
        rest = after;
        std::fs::write(dir.join(file), policy).expect("write");
        let (command, shown) = shown.split_once('\n').expect("a command line");
        let args = typed_args(command, "$ atlasent-server ");
        let out = Command::new(env!("CARGO_BIN_EXE_atlasent-server"))
            .current_dir(&dir)
            .args(&args)
            .output()
            .expect("runs");
        let printed = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert_eq!(printed, shown, "`{command}` on the reference's {file}");
        checked += 1;
    }
    assert_eq!(checked, 2, "the reference's lint examples were not found");
}

// ------------------------------------------------------- lint --actions

/// `atlasent-server lint --actions FILE POLICIES…` in `dir`: exit code and
/// stdout + stderr.
fn lint_actions(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_atlasent-server"))
        .current_dir(dir)
        .arg("lint")
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// A manifest of the demo's actions, `wire_transfer` typed with
/// `wire_keys`, then `extra` actions.
fn demo_manifest(wire_keys: &str, extra: &str) -> String {
    format!(
        r#"{{"format":"atlasent.actions/1","actions":[
            {{"name":"read_tables","declared_by":"fn ops::list_tables","source":"src/ops.rs:10","context":null}},
            {{"name":"wire_transfer","declared_by":"app::WireTransfer","source":"src/actions.rs:22",
              "context":{{"type":"app::WireContext","keys":{wire_keys}}}}}{extra}
        ]}}"#
    )
}

#[test]
fn lint_with_actions_passes_when_the_policies_cover_them() {
    let dir = scratch("lint-actions-ok");
    std::fs::write(
        dir.join("actions.json"),
        demo_manifest(r#"["amount_usd","counterparty_id","memo"]"#, ""),
    )
    .expect("write");
    let demo = demo_policy();
    let (code, out) = lint_actions(
        &dir,
        &["--actions", "actions.json", demo.to_str().expect("utf-8")],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("ok: quickstart_demo 1.0.0"), "{out}");
    assert!(
        out.contains("ok: the policies cover the 2 actions of actions.json"),
        "{out}"
    );
    assert!(!out.contains("error:"), "{out}");
}

#[test]
fn lint_with_actions_fails_naming_each_problem() {
    let dir = scratch("lint-actions-fail");
    // No memo in the typed context, and an action no rule allows.
    let manifest = demo_manifest(
        r#"["amount_usd","counterparty_id"]"#,
        r#",{"name":"deploy_prod","declared_by":"fn ops::deploy","source":"src/ops.rs:30"}"#,
    );
    std::fs::write(dir.join("actions.json"), manifest).expect("write");
    let demo = demo_policy();
    let (code, out) = lint_actions(
        &dir,
        &["--actions", "actions.json", demo.to_str().expect("utf-8")],
    );
    assert_eq!(code, Some(1), "{out}");
    common::assert_contains_all(
&out,
&[
        "error: action wire_transfer (app::WireTransfer, src/actions.rs:22): context type \
         app::WireContext lacks key memo, which allow rule allow_small_wires of policy \
         quickstart_demo requires",
        "error: action wire_transfer (app::WireTransfer, src/actions.rs:22) can never be allowed",
        "error: action deploy_prod (fn ops::deploy, src/ops.rs:30) can never be allowed: no allow \
         rule of policy quickstart_demo matches it",
],
);
    assert!(!out.contains("read_tables"), "{out}");
    assert!(!out.contains("ok: the policies cover"), "{out}");
}

#[test]
fn lint_with_a_bad_manifest_names_the_file() {
    let dir = scratch("lint-actions-bad");
    let demo = demo_policy();
    let demo = demo.to_str().expect("utf-8");
    std::fs::write(
        dir.join("other.json"),
        r#"{"format":"atlasent.actions/2","actions":[]}"#,
    )
    .expect("write");
    std::fs::write(dir.join("broken.json"), "{").expect("write");
    std::fs::write(
        dir.join("empty.json"),
        r#"{"format":"atlasent.actions/1","actions":[]}"#,
    )
    .expect("write");
    for (file, code, needle) in [
        ("missing.json", 2, "error: action manifest missing.json: "),
        (
            "broken.json",
            2,
            "error: broken.json: invalid argument: action manifest is not valid: EOF",
        ),
        (
            "other.json",
            2,
            "error: other.json: invalid argument: action manifest has format \"atlasent.actions/2\"",
        ),
        ("empty.json", 1, "error: empty.json lists no actions"),
    ] {
        let (got, out) = lint_actions(&dir, &["--actions", file, demo]);
        assert_eq!(got, Some(code), "{file}: {out}");
        assert!(out.contains(needle), "{file}: {out:?} lacks {needle:?}");
    }
    // Without --actions, lint is unchanged.
    let (got, out) = lint_actions(&dir, &[demo]);
    assert_eq!(got, Some(0), "{out}");
    assert!(!out.contains("actions"), "{out}");
}

/// The policy reference's `lint --actions` example: the policy at the top
/// of `docs/policy-language.md` and its `coverage-manifest`, linted as its
/// `coverage-output` block shows (stdout, then stderr).
#[test]
fn the_policy_references_coverage_example_prints_what_it_shows() {
    let doc = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/policy-language.md"),
    )
    .expect("the reference");
    let block = |after: &str, fence: &str| -> String {
        let start = doc.find(after).expect(after) + after.len();
        let open = doc[start..].find(fence).expect(fence) + start + fence.len();
        let close = doc[open..].find("\n```").expect("a closing fence") + open;
        doc[open..close].trim_start_matches('\n').to_owned()
    };
    let dir = scratch("reference-coverage");
    std::fs::write(
        dir.join("wires.json"),
        block("# The policy language", "```json"),
    )
    .expect("write");
    std::fs::write(
        dir.join("actions.json"),
        block("<!-- coverage-manifest: actions.json -->", "```json"),
    )
    .expect("write");
    let shown = block("<!-- coverage-output -->", "```text") + "\n";
    let (command, shown) = shown.split_once('\n').expect("a command line");
    let args = typed_args(command, "$ atlasent-server lint ");
    let (code, printed) = lint_actions(&dir, &args);
    assert_eq!(code, Some(1), "{printed}");
    assert_eq!(printed, shown);
}

// ------------------------------------------------------------------ bench

/// `serve` on `:memory:` with the demo policy and key `ask_bench`, killed
/// when dropped.
struct Running {
    child: std::process::Child,
    url: String,
}

impl Running {
    fn start(name: &str) -> Self {
        let dir = scratch(name);
        let demo = demo_arg();
        let args = [
            "--db",
            ":memory:",
            "--api-key",
            "ask_bench",
            "--policy",
            &demo,
            "--rate-limit-per-minute",
            "1000000",
        ];
        let (child, line) = spawn_serve(&dir, &args, std::process::Stdio::null());
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("serve did not start: {line:?}"))
            .to_owned();
        Running { child, url }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `atlasent-server bench --duration 1s --concurrency 4 ARGS` against
/// `url`: exit code, stdout, stderr.
fn bench(url: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_atlasent-server"))
        .args([
            "bench",
            "--url",
            url,
            "--duration",
            "1s",
            "--concurrency",
            "4",
        ])
        .args(args)
        .env_remove("ATLASENT_API_KEY")
        .env_remove("ATLASENT_BASE_URL")
        .output()
        .expect("runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The fields of bench's `csv:` line, by the names of its `csv-header:`.
fn bench_csv(stdout: &str) -> std::collections::HashMap<String, String> {
    let line = |prefix: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in {stdout}"))
            .to_owned()
    };
    let (header, values) = (line("csv-header: "), line("csv: "));
    let fields: Vec<&str> = header.split(',').collect();
    let values: Vec<&str> = values.split(',').collect();
    assert_eq!(fields.len(), values.len(), "{stdout}");
    fields
        .into_iter()
        .zip(values)
        .map(|(f, v)| (f.to_owned(), v.to_owned()))
        .collect()
}

fn count(csv: &std::collections::HashMap<String, String>, field: &str) -> u64 {
    csv[field]
        .parse()
        .unwrap_or_else(|_| panic!("{field}: {csv:?}"))
}

#[test]
fn bench_drives_a_server_and_reports_throughput_latency_and_errors() {
    let server = Running::start("bench-allow");
    let (code, out, err) = bench(&server.url, &["--api-key", "ask_bench"]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    common::assert_contains_all(
        &out,
        &[
            "protect() calls:",
            "protect()/s:",
            "decisions/s:",
            "p50 ",
            "p99 ",
            "p99.9 ",
            "max ",
            "denied:",
            "errors:            0",
        ],
    );
    let csv = bench_csv(&out);
    let calls = count(&csv, "calls");
    assert!(calls > 0, "{out}");
    assert_eq!(count(&csv, "allowed"), calls, "{out}");
    assert_eq!(count(&csv, "errors"), 0, "{out}");
    assert_eq!(count(&csv, "denied"), 0, "{out}");
    assert!(err.contains("calls "), "no progress line: {err}");
}

/// Denials are decisions, counted apart from errors; a run where every
/// call is denied still exits 0, warning on stderr.
#[test]
fn bench_counts_denials_apart_from_errors() {
    let server = Running::start("bench-deny");
    let (code, out, err) = bench(
        &server.url,
        &[
            "--api-key",
            "ask_bench",
            "--action",
            "wire_transfer",
            "--context",
            r#"{"amount_usd": 20000}"#,
        ],
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
    let csv = bench_csv(&out);
    assert!(count(&csv, "denied") > 0, "{out}");
    assert_eq!(count(&csv, "denied"), count(&csv, "calls"), "{out}");
    assert_eq!(count(&csv, "allowed"), 0, "{out}");
    assert_eq!(count(&csv, "errors"), 0, "{out}");
    assert!(err.contains("warning: every call was denied"), "{err}");
}

/// No server at the URL, or a key it refuses: a clear error naming the
/// URL, exit status 2, nothing measured.
#[test]
fn bench_against_an_unreachable_url_or_with_a_refused_key_fails_clearly() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let (code, out, err) = bench(&url, &["--api-key", "ask_bench"]);
    assert_eq!(code, Some(2), "{out}\n{err}");
    assert!(
        err.contains(&format!("error: cannot reach the server at {url}")),
        "{err}"
    );
    assert!(!out.contains("csv:"), "{out}");

    let server = Running::start("bench-bad-key");
    let (code, out, err) = bench(&server.url, &["--api-key", "ask_wrong"]);
    assert_eq!(code, Some(2), "{out}\n{err}");
    assert!(err.contains("refuses the API key"), "{err}");
}

#[test]
fn bench_refuses_a_context_that_is_not_a_json_object() {
    // Refused before any connection: no server is needed.
    for (context, message) in [
        ("{not json", "--context is not JSON"),
        ("[1, 2]", "--context must be a JSON object"),
        ("\"staging\"", "--context must be a JSON object"),
    ] {
        let (code, out, err) = bench(
            "http://127.0.0.1:1",
            &["--api-key", "ask_bench", "--context", context],
        );
        assert_eq!(code, Some(2), "{context}: {out}\n{err}");
        assert!(err.contains(message), "{context}: {err}");
        assert!(!out.contains("csv:"), "{context}: {out}");
    }
}
