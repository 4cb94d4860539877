//! A venv under `target/` holding one published version of the Python SDK,
//! created on first use (that needs PyPI once; later runs reuse it).

use std::path::{Path, PathBuf};
use std::process::Command;

fn python(venv: &Path) -> PathBuf {
    venv.join("bin").join("python")
}

/// The venv's python with `atlasent==version` installed, installing it
/// unless it is already there.
pub(crate) fn ensure_python_sdk(version: &str) -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("py-atlasent-{version}"));
    let py = python(&venv);
    let probe = format!("import atlasent, sys; sys.exit(atlasent.__version__ != '{version}')");
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
            &format!("atlasent=={version}"),
        ])
        .status()
        .expect("pip runs");
    assert!(status.success(), "pip install atlasent=={version} failed");
    py
}
