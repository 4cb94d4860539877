//! A throwaway PostgreSQL cluster for one test: `initdb` in a fresh
//! temporary directory, started on a free loopback port, stopped and removed
//! on drop. Included by tests with
//! `#[path = "postgres/cluster.rs"] mod cluster;`.
//!
//! Nothing is skipped: a machine without PostgreSQL, or a cluster that does
//! not start, fails the test with the reason (`scripts/test.sh` installs the
//! distribution's `postgresql` package when it is missing).
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The database role `initdb` creates and the tests connect as.
pub const USER: &str = "atlasent";

/// A running cluster of its own. Its password is random and required
/// (`scram-sha-256` on every connection), so a test that connects proves the
/// password reached the server.
pub struct PgCluster {
    dir: PathBuf,
    data: PathBuf,
    log: PathBuf,
    bin: PathBuf,
    port: u16,
    password: String,
    /// Run every PostgreSQL command as `nobody` (`initdb` refuses root).
    as_nobody: bool,
}

impl PgCluster {
    /// `initdb` and start a cluster; panics with the reason when it cannot.
    pub fn start() -> PgCluster {
        let bin = bin_dir();
        let dir = fresh_dir();
        let as_nobody = running_as_root();
        let password = random_password();
        let pwfile = dir.join("pwfile");
        std::fs::write(&pwfile, format!("{password}\n")).expect("write the password file");
        if as_nobody {
            run_checked(Command::new("chown").args(["-R", "nobody:"]).arg(&dir));
        }
        let data = dir.join("data");
        let mut cluster = PgCluster {
            log: dir.join("postgres.log"),
            dir,
            data,
            bin,
            port: 0,
            password,
            as_nobody,
        };
        let mut initdb = cluster.command("initdb");
        initdb
            .arg("-D")
            .arg(&cluster.data)
            .args([
                "--auth=scram-sha-256",
                "-U",
                USER,
                "--no-sync",
                "-E",
                "UTF8",
            ])
            // Not the machine's locale, which may be one the system lacks.
            .arg("--locale=C")
            .arg(format!("--pwfile={}", pwfile.display()));
        run_checked(&mut initdb);
        let _ = std::fs::remove_file(&pwfile);
        // Another process may take the free port between the probe and the
        // start: try a few.
        let mut last_failure = String::new();
        for _ in 0..3 {
            cluster.port = free_port();
            match cluster.pg_ctl_start() {
                Ok(()) => return cluster,
                Err(failure) => last_failure = failure,
            }
        }
        panic!("PostgreSQL did not start:\n{last_failure}");
    }

    /// `postgres://atlasent:PASSWORD@127.0.0.1:PORT/db`.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://{USER}:{}@127.0.0.1:{}/{db}",
            self.password, self.port
        )
    }

    /// `postgres://atlasent@127.0.0.1:PORT/db`: the password must come from
    /// elsewhere (`PGPASSWORD`).
    pub fn url_without_password(&self, db: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{db}", self.port)
    }

    /// The role's password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Create the database `name` (empty: each test gets its own).
    pub fn create_database(&self, name: &str) {
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "a plain database name, not {name:?}"
        );
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
    }

    /// Run `sql` in the database `db` through `psql`: its standard output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = run_checked(
            Command::new(self.tool("psql"))
                .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
                .args(["-h", "127.0.0.1", "-U", USER, "-d", db])
                .arg("-p")
                .arg(self.port.to_string())
                .arg("-c")
                .arg(sql)
                .env("PGPASSWORD", &self.password)
                .env("PGCONNECT_TIMEOUT", "10"),
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Crash PostgreSQL (`pg_ctl stop -m immediate`: no shutdown checkpoint,
    /// recovery from the WAL at start) and start it again on the same port.
    pub fn restart(&self) {
        self.pg_ctl_stop_immediate();
        if let Err(failure) = self.pg_ctl_start() {
            panic!("PostgreSQL did not start again:\n{failure}");
        }
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    fn pg_ctl_start(&self) -> Result<(), String> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.display()
        );
        let out = self
            .command("pg_ctl")
            .args(["-w", "-t", "60", "-D"])
            .arg(&self.data)
            .arg("-l")
            .arg(&self.log)
            .args(["-o", &options, "start"])
            .output()
            .expect("pg_ctl runs");
        if out.status.success() {
            return Ok(());
        }
        Err(format!(
            "{}{}\n--- log ---\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log_tail()
        ))
    }

    fn pg_ctl_stop_immediate(&self) {
        let out = self
            .command("pg_ctl")
            .args(["-w", "-D"])
            .arg(&self.data)
            .args(["-m", "immediate", "stop"])
            .output();
        if let Ok(out) = out {
            if !out.status.success() && !std::thread::panicking() {
                panic!(
                    "pg_ctl stop failed: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }

    /// `tool` of the cluster's PostgreSQL, as `nobody` when running as root.
    fn command(&self, tool: &str) -> Command {
        let mut command = if self.as_nobody {
            let mut c = Command::new("runuser");
            c.args(["-u", "nobody", "--"]).arg(self.tool(tool));
            c
        } else {
            Command::new(self.tool(tool))
        };
        // A working directory `nobody` can enter.
        command.current_dir(&self.dir);
        command
    }

    fn tool(&self, tool: &str) -> PathBuf {
        let path = self.bin.join(tool);
        if path.exists() {
            path
        } else {
            on_path(tool).unwrap_or(path)
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "PostgreSQL log ({}):\n{}",
                self.log.display(),
                self.log_tail()
            );
        }
        self.pg_ctl_stop_immediate();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The directory of `initdb`, `pg_ctl` and `postgres`: where the `initdb` on
/// `PATH` really is, else the highest `/usr/lib/postgresql/*/bin`.
fn bin_dir() -> PathBuf {
    let complete = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|t| dir.join(t).exists())
    };
    if let Some(initdb) = on_path("initdb") {
        // Debian links /usr/local/bin/initdb to the versioned directory.
        let real = std::fs::canonicalize(&initdb).unwrap_or(initdb);
        if let Some(dir) = real.parent().filter(|d| complete(d)) {
            return dir.to_owned();
        }
    }
    let mut versions: Vec<(Vec<u64>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let version = name
                .split('.')
                .map(|part| part.parse::<u64>().ok())
                .collect::<Option<Vec<u64>>>()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, dir)| complete(dir))
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, dir)) => dir,
        None => panic!(
            "PostgreSQL is not installed: scripts/test.sh installs it \
             (apt-get install postgresql)"
        ),
    }
}

fn on_path(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}

fn running_as_root() -> bool {
    let out = run_checked(Command::new("id").arg("-u"));
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// A new, empty directory under the system's temporary directory.
fn fresh_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!(
        "atlasent-pg-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

fn random_password() -> String {
    let mut bytes = [0u8; 18];
    getrandom::fill(&mut bytes).expect("the OS's random numbers");
    hex::encode(bytes)
}

fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    probe.local_addr().expect("its address").port()
}

/// Run `command`, which must succeed.
fn run_checked(command: &mut Command) -> Output {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?} does not run: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
