//! Redis deployments the tests start themselves from the installed `redis-server`: a
//! 6-node cluster, a Sentinel setup, and throwaway single servers a test may kill.
//!
//! Every process runs on loopback ports in its own temporary directory and is stopped
//! when its owner drops it. The shared cluster and sentinel live in statics, which are
//! never dropped, so each set of processes also gets a watchdog shell that kills them
//! (and removes their directory) once the test process is gone: nothing is left
//! running.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long a server may take to answer after being started.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// Whether `redis-server` and `redis-cli` are installed, or why not.
fn installed() -> Result<(), String> {
    for tool in ["redis-server", "redis-cli"] {
        let found = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return Err(format!("`{tool}` is not installed"));
        }
    }
    Ok(())
}

/// The outcome of starting something shared, or why the test skips (panics in CI).
fn shared<T>(test: &str, started: &'static Result<T, String>) -> Option<&'static T> {
    crate::started(test, started.as_ref().map_err(Clone::clone))
}

/// A loopback port that is free, and whose cluster bus port (+10000) is free too.
pub(crate) fn free_port() -> Result<u16, String> {
    for _ in 0..200 {
        let port: u16 = 20_000 + rand::random_range(0..20_000u16);
        let free = |p: u16| TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(port) && free(port + 10_000) {
            return Ok(port);
        }
    }
    Err("no free loopback port pair found".to_owned())
}

pub(crate) fn temp_dir(name: &str) -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(crate::unique_name(name));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

/// Runs the shell command `cleanup` once the test process has exited (however it
/// ended), from a watchdog shell that polls for it.
pub(crate) fn after_exit(cleanup: &str) -> Result<(), String> {
    let script = format!(
        "while kill -0 {parent} 2>/dev/null; do sleep 0.5; done; {cleanup}",
        parent = std::process::id(),
    );
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(drop)
        .map_err(|e| format!("cannot start the watchdog: {e}"))
}

/// Processes that die with their owner, or with the test process.
struct Processes {
    children: Vec<Child>,
    dir: PathBuf,
}

impl Processes {
    fn new(dir: PathBuf) -> Self {
        Self {
            children: Vec::new(),
            dir,
        }
    }

    fn spawn(&mut self, args: &[String]) -> Result<(), String> {
        let child = Command::new("redis-server")
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start redis-server: {e}"))?;
        self.children.push(child);
        Ok(())
    }

    /// Kills the processes once the test process exits, even if `self` is never
    /// dropped (statics) or the process is killed.
    fn watch(&self) -> Result<(), String> {
        let pids: Vec<String> = self.children.iter().map(|c| c.id().to_string()).collect();
        after_exit(&format!(
            "kill -9 {pids} 2>/dev/null; rm -rf '{dir}'",
            pids = pids.join(" "),
            dir = self.dir.display(),
        ))
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn server_args(port: u16, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--protected-mode",
        "no",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

/// Runs `redis-cli -p port args..` and returns its output.
pub fn redis_cli(port: u16, args: &[&str]) -> Result<String, String> {
    let output = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run redis-cli: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        Ok(text)
    } else {
        Err(format!(
            "redis-cli -p {port} {args:?} failed: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Waits until `check` holds, polling.
fn wait_until(what: &str, mut check: impl FnMut() -> bool) -> Result<(), String> {
    let started = Instant::now();
    while started.elapsed() < READY_WITHIN {
        if check() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("{what} not ready within {READY_WITHIN:?}"))
}

fn wait_for_pong(port: u16) -> Result<(), String> {
    wait_until(&format!("redis-server on port {port}"), || {
        redis_cli(port, &["PING"]).is_ok_and(|out| out.trim() == "PONG")
    })
}

/// A 6-node Redis Cluster (3 primaries, 3 replicas) on loopback.
pub struct RedisCluster {
    /// `redis+cluster://127.0.0.1:p1,...`: every node.
    pub url: String,
    /// The nodes' ports.
    pub ports: Vec<u16>,
    _processes: Processes,
}

/// The shared test cluster, started on first use; `None` (after printing why) if it
/// cannot be started outside CI.
pub fn redis_cluster(test: &str) -> Option<&'static RedisCluster> {
    static CLUSTER: OnceLock<Result<RedisCluster, String>> = OnceLock::new();
    shared(test, CLUSTER.get_or_init(start_cluster))
}

fn start_cluster() -> Result<RedisCluster, String> {
    installed()?;
    let mut processes = Processes::new(temp_dir("redis_cluster")?);
    let mut ports = Vec::new();
    for _ in 0..6 {
        let port = free_port()?;
        let config = processes.dir.join(format!("nodes-{port}.conf"));
        processes.spawn(&server_args(
            port,
            &[
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                &config.display().to_string(),
                "--cluster-node-timeout",
                "2000",
            ],
        ))?;
        ports.push(port);
    }
    processes.watch()?;
    for &port in &ports {
        wait_for_pong(port)?;
    }
    let nodes: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let mut args: Vec<&str> = vec!["--cluster", "create"];
    args.extend(nodes.iter().map(String::as_str));
    args.extend(["--cluster-replicas", "1", "--cluster-yes"]);
    redis_cli(ports[0], &args)?;
    for &port in &ports {
        wait_until(&format!("cluster node {port}"), || {
            redis_cli(port, &["CLUSTER", "INFO"]).is_ok_and(|out| out.contains("cluster_state:ok"))
        })?;
    }
    Ok(RedisCluster {
        url: format!("redis+cluster://{}", nodes.join(",")),
        ports,
        _processes: processes,
    })
}

/// A primary, its replica and one sentinel (quorum 1) watching them as `service`.
pub struct RedisSentinel {
    /// `redis+sentinel://127.0.0.1:<sentinel>/<service>`.
    pub url: String,
    /// The name the sentinel monitors.
    pub service: String,
    /// The sentinel's port.
    pub sentinel_port: u16,
    /// The ports of the two data servers (primary first, at start).
    pub server_ports: [u16; 2],
    _processes: Processes,
}

/// The shared sentinel setup, started on first use.
pub fn redis_sentinel(test: &str) -> Option<&'static RedisSentinel> {
    static SENTINEL: OnceLock<Result<RedisSentinel, String>> = OnceLock::new();
    shared(test, SENTINEL.get_or_init(start_sentinel))
}

impl RedisSentinel {
    /// A sentinel setup of the test's own, for a test that forces a failover: a
    /// failover of the shared setup would make other tests' connects fail while the
    /// sentinel has no primary to name. `None` (after printing why) if it cannot be
    /// started outside CI.
    pub fn start(test: &str) -> Option<Self> {
        crate::started(test, start_sentinel())
    }
}

fn start_sentinel() -> Result<RedisSentinel, String> {
    installed()?;
    let mut processes = Processes::new(temp_dir("redis_sentinel")?);
    let primary = free_port()?;
    let replica = free_port()?;
    let sentinel = free_port()?;
    let service = "txova".to_owned();
    processes.spawn(&server_args(primary, &[]))?;
    processes.spawn(&server_args(
        replica,
        &["--replicaof", "127.0.0.1", &primary.to_string()],
    ))?;
    let config = processes.dir.join("sentinel.conf");
    write_sentinel_config(&config, sentinel, &service, primary)?;
    processes.spawn(&[config.display().to_string(), "--sentinel".to_owned()])?;
    processes.watch()?;
    for port in [primary, replica, sentinel] {
        wait_for_pong(port)?;
    }
    wait_until("the sentinel's view of the replica", || {
        redis_cli(sentinel, &["SENTINEL", "REPLICAS", &service])
            .is_ok_and(|out| out.contains(&replica.to_string()))
    })?;
    Ok(RedisSentinel {
        url: format!("redis+sentinel://127.0.0.1:{sentinel}/{service}"),
        service,
        sentinel_port: sentinel,
        server_ports: [primary, replica],
        _processes: processes,
    })
}

fn write_sentinel_config(
    path: &Path,
    port: u16,
    service: &str,
    primary: u16,
) -> Result<(), String> {
    let text = format!(
        "port {port}\nbind 127.0.0.1\nprotected-mode no\n\
         sentinel monitor {service} 127.0.0.1 {primary} 1\n\
         sentinel down-after-milliseconds {service} 5000\n\
         sentinel failover-timeout {service} 4000\n\
         sentinel parallel-syncs {service} 1\n"
    );
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

impl RedisSentinel {
    /// The port of the current primary, as the sentinel reports it.
    pub fn primary_port(&self) -> Result<u16, String> {
        let out = redis_cli(
            self.sentinel_port,
            &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", &self.service],
        )?;
        out.lines()
            .nth(1)
            .and_then(|p| p.trim().parse().ok())
            .ok_or_else(|| format!("unexpected sentinel reply: {out}"))
    }
}

/// One throwaway server a test owns, and may stop and start again on the same port.
pub struct RedisServer {
    /// `redis://127.0.0.1:<port>`.
    pub url: String,
    /// Its port.
    pub port: u16,
    processes: Processes,
}

impl RedisServer {
    /// Starts a server for `test`; `None` (after printing why) if that is impossible
    /// outside CI.
    pub fn start(test: &str) -> Option<Self> {
        crate::started(test, Self::try_start())
    }

    fn try_start() -> Result<Self, String> {
        installed()?;
        let port = free_port()?;
        let mut processes = Processes::new(temp_dir("redis_server")?);
        processes.spawn(&server_args(port, &[]))?;
        processes.watch()?;
        wait_for_pong(port)?;
        Ok(Self {
            url: format!("redis://127.0.0.1:{port}"),
            port,
            processes,
        })
    }

    /// Kills the server (SIGKILL: no goodbye to its clients).
    pub fn kill(&mut self) {
        for child in &mut self.processes.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.processes.children.clear();
    }

    /// Starts the server again on the same port.
    pub fn restart(&mut self) -> Result<(), String> {
        self.processes.spawn(&server_args(self.port, &[]))?;
        self.processes.watch()?;
        wait_for_pong(self.port)
    }
}
