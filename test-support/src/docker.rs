//! Servers in Docker containers, for machines that have an engine but no local services.
//!
//! This drives the `docker` command line rather than the `testcontainers` crate: that
//! crate's client (bollard with buildkit, tonic, prost, rustls) would add some two
//! hundred crates and second versions of a dozen we already use, for three
//! `docker run`s. Containers carry the label `txova-db-test=<service>` and are reused
//! by later runs; remove them with
//! `docker rm -f $(docker ps -q --filter label=txova-db-test)`.

use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::Service;

struct Image {
    image: &'static str,
    port: u16,
    env: &'static [&'static str],
    ready: &'static [&'static str],
    url: fn(&str) -> String,
}

fn image(service: Service) -> Image {
    match service {
        Service::Postgres => Image {
            image: "postgres:16-alpine",
            port: 5432,
            env: &["POSTGRES_HOST_AUTH_METHOD=trust", "POSTGRES_DB=test"],
            ready: &["pg_isready", "-U", "postgres", "-h", "127.0.0.1"],
            url: |addr| format!("postgres://postgres@{addr}/test"),
        },
        Service::Redis => Image {
            image: "redis:7-alpine",
            port: 6379,
            env: &[],
            ready: &["redis-cli", "ping"],
            url: |addr| format!("redis://{addr}"),
        },
        Service::MySql => Image {
            image: "mariadb:11",
            port: 3306,
            env: &[
                "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1",
                "MARIADB_DATABASE=test",
            ],
            ready: &["healthcheck.sh", "--connect", "--innodb_initialized"],
            url: |addr| format!("mysql://root@{addr}/test"),
        },
    }
}

fn docker(args: &[&str]) -> Result<String, String> {
    let output = Command::new("docker")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `docker`: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(format!(
            "`docker {}` failed: {}",
            args.first().copied().unwrap_or_default(),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Starts (or finds the running) container for `service` and returns its URL.
pub(crate) fn start(service: Service) -> Result<String, String> {
    docker(&["info", "--format", "{{.ServerVersion}}"])?;
    let spec = image(service);
    let label = format!("txova-db-test={service:?}");
    let filter = format!("label={label}");
    let running = docker(&["ps", "-q", "--filter", &filter])?;
    let id = match running.lines().next() {
        Some(id) => id.to_owned(),
        None => {
            let port = format!("127.0.0.1::{}", spec.port);
            let mut args = vec!["run", "-d", "--label", &label, "-p", &port];
            for env in spec.env {
                args.extend(["-e", env]);
            }
            args.push(spec.image);
            docker(&args)?
        }
    };
    wait_ready(&id, spec.ready)?;
    let mapped = docker(&["port", &id, &format!("{}/tcp", spec.port)])?;
    let addr = mapped
        .lines()
        .next()
        .ok_or_else(|| format!("container {id} publishes no port {}", spec.port))?;
    Ok((spec.url)(addr))
}

fn wait_ready(id: &str, probe: &[&str]) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut args = vec!["exec", id];
    args.extend(probe);
    loop {
        match docker(&args) {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() > deadline => {
                return Err(format!("container {id} not ready after 90 s: {e}"));
            }
            Err(_) => sleep(Duration::from_millis(500)),
        }
    }
}
