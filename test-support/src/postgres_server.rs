//! A throwaway PostgreSQL cluster a test owns: initialised in a temporary directory and
//! started on a free loopback port from the installed server binaries, so a test can
//! restart or stop the server without touching the machine's shared one.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A PostgreSQL cluster of one test's own, stopped and removed when dropped (or when
/// the test process exits).
pub struct PostgresServer {
    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub url: String,
    /// Its port.
    pub port: u16,
    bin: PathBuf,
    dir: PathBuf,
}

impl PostgresServer {
    /// Initialises and starts a cluster for `test`; `None` (after printing why) if that
    /// is impossible outside CI.
    pub fn start(test: &str) -> Option<Self> {
        crate::started(test, Self::try_start())
    }

    fn try_start() -> Result<Self, String> {
        let bin = bin_dir()?;
        let port = crate::redis_servers::free_port()?;
        let dir = crate::redis_servers::temp_dir("postgres_server")?;
        let server = Self {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            port,
            bin,
            dir,
        };
        if is_root() {
            // The server refuses to run as root: the cluster belongs to `postgres`.
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&server.dir))?;
        }
        server.watch()?;
        run(server
            .as_owner("initdb")
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "-D",
            ])
            .arg(server.data()))?;
        server.ctl(&["start"])?;
        Ok(server)
    }

    /// Restarts the server (`pg_ctl restart -m fast`): every session is ended with
    /// `57P01`, and new connections are refused until it is back.
    pub fn restart(&self) -> Result<(), String> {
        self.ctl(&["restart", "-m", "fast"])
    }

    /// Stops the server at once (`-m immediate`: no goodbye to its clients).
    pub fn stop(&self) -> Result<(), String> {
        self.ctl(&["stop", "-m", "immediate"])
    }

    /// Starts a stopped server again on the same port.
    pub fn start_again(&self) -> Result<(), String> {
        self.ctl(&["start"])
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn ctl(&self, args: &[&str]) -> Result<(), String> {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off \
             -c max_connections=60",
            self.port,
            self.dir.display()
        );
        run(self
            .as_owner("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-w", "-t", "30", "-o", &options])
            .args(args))
    }

    /// A command of the cluster's binaries, run as its owner.
    fn as_owner(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    /// Stops the cluster and removes its directory once the test process exits, even
    /// if `self` is never dropped.
    fn watch(&self) -> Result<(), String> {
        let stop = format!(
            "{runuser}'{ctl}' -D '{data}' stop -m immediate",
            runuser = if is_root() {
                "runuser -u postgres -- "
            } else {
                ""
            },
            ctl = self.bin.join("pg_ctl").display(),
            data = self.data().display(),
        );
        crate::redis_servers::after_exit(&format!(
            "{stop} >/dev/null 2>&1; rm -rf '{dir}'",
            dir = self.dir.display(),
        ))
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let _ = self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Where `initdb` and `pg_ctl` are: `pg_config --bindir`, else the newest of
/// `/usr/lib/postgresql/*/bin`.
fn bin_dir() -> Result<PathBuf, String> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return Ok(dir);
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("no PostgreSQL server binaries: {e}"))?
        .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
        .filter(|dir| dir.join("initdb").exists())
        .collect();
    found.sort();
    found
        .pop()
        .ok_or_else(|| "no initdb under /usr/lib/postgresql".to_owned())
}

fn is_root() -> bool {
    // The test machines run as root; elsewhere `id -u` says otherwise.
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn run(command: &mut Command) -> Result<(), String> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
