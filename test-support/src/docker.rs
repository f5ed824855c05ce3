//! Servers in Docker containers, for machines that have an engine but no local services,
//! through the `testcontainers` crate and its `testcontainers-modules` images.
//!
//! Containers are started with [`ReuseDirective::Always`]: a later run (or another test
//! binary) finds the one already running instead of starting another, and nothing is
//! removed when the process exits. Remove them with
//! `docker rm -f $(docker ps -q --filter label=org.testcontainers.managed-by=testcontainers)`.

use testcontainers::runners::AsyncRunner as _;
use testcontainers::{ContainerAsync, Image, ImageExt as _, ReuseDirective};
use testcontainers_modules::mariadb::Mariadb;
use testcontainers_modules::postgres::Postgres;
use testcontainers_modules::redis::Redis;

use crate::Service;

/// Starts (or finds the running) container for `service` and returns its URL.
///
/// Tests ask from inside their own runtimes, which cannot be blocked on: the container
/// is started from a thread with a runtime of its own.
pub(crate) fn start(service: Service) -> Result<String, String> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("a runtime to start the container: {e}"))?;
        runtime.block_on(start_container(service))
    })
    .join()
    .map_err(|_| "starting the container panicked".to_owned())?
}

async fn start_container(service: Service) -> Result<String, String> {
    match service {
        Service::Postgres => {
            let image = Postgres::default().with_host_auth().with_db_name("test");
            let (host, port) = run(image, 5432).await?;
            Ok(format!("postgres://postgres@{host}:{port}/test"))
        }
        Service::Redis => {
            let (host, port) = run(Redis::default(), 6379).await?;
            Ok(format!("redis://{host}:{port}"))
        }
        Service::MySql => {
            let (host, port) = run(Mariadb::default(), 3306).await?;
            Ok(format!("mysql://root@{host}:{port}/test"))
        }
    }
}

/// Runs `image` (reused if one is running) and returns where its `port` is published.
async fn run<I: Image>(image: I, port: u16) -> Result<(String, u16), String> {
    let container: ContainerAsync<I> = image
        .with_reuse(ReuseDirective::Always)
        .start()
        .await
        .map_err(|e| format!("cannot start a container: {e}"))?;
    let host = container
        .get_host()
        .await
        .map_err(|e| format!("the container's host: {e}"))?;
    let published = container
        .get_host_port_ipv4(port)
        .await
        .map_err(|e| format!("the container's port {port}: {e}"))?;
    Ok((host.to_string(), published))
}
