//! A venv under `target/` holding one published version of the Python SDK,
//! created on first use (that needs PyPI once; later runs reuse it).

use std::path::{Path, PathBuf};
use std::process::Command;

fn python(venv: &Path) -> PathBuf {
    venv.join("bin").join("python")
}

/// The venv's python with `atlasent[extras]==version` installed, installing
/// it unless it is already there (`extras` may be empty; `verify` brings
/// `cryptography`, which 2.x needs to verify audit bundles).
pub(crate) fn ensure_python_sdk(version: &str, extras: &str) -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("py-atlasent-{version}"));
    let py = python(&venv);
    let imports = if extras == "verify" {
        ", cryptography"
    } else {
        ""
    };
    let probe =
        format!("import atlasent, sys{imports}; sys.exit(atlasent.__version__ != '{version}')");
    let ready = Command::new(&py)
        .args(["-c", &probe])
        .status()
        .is_ok_and(|s| s.success());
    if ready {
        return py;
    }
    let status = Command::new("python3")
        .args(["-m", "venv", "--clear"])
        .arg(&venv)
        .status()
        .expect("python3 is installed");
    assert!(status.success(), "python3 -m venv failed");
    let status = Command::new(&py)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &if extras.is_empty() {
                format!("atlasent=={version}")
            } else {
                format!("atlasent[{extras}]=={version}")
            },
        ])
        .status()
        .expect("pip runs");
    assert!(status.success(), "pip install atlasent=={version} failed");
    py
}

/// Run `tests/python/<script>` with `py` and `args` (plain HTTP to loopback
/// allowed for 2.x clients); its stdout once it printed `done` and at least
/// `checks` lines starting `ok `, else a failure showing both streams.
pub(crate) async fn run_interop(
    py: PathBuf,
    script: &str,
    args: Vec<String>,
    done: &str,
    checks: usize,
) -> String {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let output = tokio::task::spawn_blocking(move || {
        Command::new(py)
            .arg(script)
            .args(args)
            .env("ATLASENT_ALLOW_INSECURE_HTTP", "1")
            .env_remove("ATLASENT_API_KEY")
            .output()
    })
    .await
    .expect("join")
    .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "python interop failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains(done), "{stdout}");
    let ok = stdout.lines().filter(|l| l.starts_with("ok ")).count();
    assert!(
        ok >= checks,
        "{ok} checks passed, expected {checks}:\n{stdout}"
    );
    stdout
}

/// The arguments every interop script starts with: the server's URL, the
/// key, its public key's PEM file (written into a fresh `work` directory
/// named after `name`), a rate-limited server's URL and that directory.
pub(crate) fn interop_args(
    server: &atlasent_server::RunningServer,
    key: &str,
    limited: &atlasent_server::RunningServer,
    name: &str,
) -> Vec<String> {
    let work =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("work dir");
    let pem_path = work.join("signing-key.pub.pem");
    std::fs::write(&pem_path, server.public_key_pem()).expect("write pem");
    vec![
        server.base_url(),
        key.to_owned(),
        pem_path.display().to_string(),
        limited.base_url(),
        work.display().to_string(),
    ]
}
