//! Cluster-only routing: commands sent to one named node or to the owner of one slot,
//! and the list of primaries (for SCAN, which redis-rs does not route).

use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, FromRedisValue, Value};

use super::{Connection, RedisClient};
use crate::error::Error;

impl RedisClient {
    /// The primaries of the cluster as `(host, port)`, from `CLUSTER NODES`; on a single
    /// server, an empty list.
    pub(crate) async fn cluster_primaries(&self) -> Result<Vec<(String, u16)>, Error> {
        let Connection::Cluster(conn) = &self.inner.connection else {
            return Ok(Vec::new());
        };
        let nodes: String = self
            .guarded(self.bounded(async {
                let mut conn = conn.clone();
                let reply = conn
                    .route_command(
                        redis::cmd("CLUSTER").arg("NODES").clone(),
                        RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
                    )
                    .await?;
                String::from_redis_value(reply).map_err(redis::RedisError::from)
            }))
            .await?;
        Ok(parse_primaries(&nodes))
    }

    /// Runs `cmd` on the node at `host:port` (a cluster primary from
    /// [`cluster_primaries`](Self::cluster_primaries)).
    pub(crate) async fn query_node<T: FromRedisValue>(
        &self,
        cmd: Cmd,
        host: &str,
        port: u16,
    ) -> Result<T, Error> {
        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
            host: host.to_owned(),
            port,
        });
        self.routed(cmd, routing).await
    }

    /// Runs `cmd` on the primary owning `key`'s slot; every key of `cmd` must be in that
    /// slot. On a single server, just runs it.
    pub(crate) async fn query_slot_of<T: FromRedisValue>(
        &self,
        cmd: Cmd,
        key: &str,
    ) -> Result<T, Error> {
        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(
            Route::with_key(key, SlotAddr::Master),
        ));
        self.routed(cmd, routing).await
    }

    /// Runs `pipeline` on the primary owning `key`'s slot (every key of it in that
    /// slot); on a single server, just runs it.
    pub(crate) async fn pipeline_slot_of<T: FromRedisValue>(
        &self,
        pipeline: redis::Pipeline,
        key: &str,
    ) -> Result<T, Error> {
        match &self.inner.connection {
            Connection::Cluster(conn) => {
                self.guarded(self.bounded(async {
                    let mut conn = conn.clone();
                    let count = pipeline.len();
                    let route =
                        SingleNodeRoutingInfo::SpecificNode(Route::with_key(key, SlotAddr::Master));
                    let replies = conn.route_pipeline(pipeline, 0, count, route).await?;
                    T::from_redis_value(Value::Array(replies)).map_err(Into::into)
                }))
                .await
            }
            _ => self.query_pipeline(&pipeline).await,
        }
    }

    async fn routed<T: FromRedisValue>(&self, cmd: Cmd, routing: RoutingInfo) -> Result<T, Error> {
        match &self.inner.connection {
            Connection::Cluster(conn) => {
                self.guarded(self.bounded(async {
                    let mut conn = conn.clone();
                    let reply: Value = conn.route_command(cmd, routing).await?;
                    T::from_redis_value(reply).map_err(Into::into)
                }))
                .await
            }
            _ => self.query(&cmd).await,
        }
    }
}

/// `host:port` of every healthy primary in a `CLUSTER NODES` reply that serves slots.
fn parse_primaries(nodes: &str) -> Vec<(String, u16)> {
    nodes
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let flags = fields.get(2)?;
            if !flags.split(',').any(|f| f == "master") || flags.contains("fail") {
                return None;
            }
            // Slot ranges follow the 8 fixed fields. A primary without slots holds no
            // keys, and may be a replica other nodes have not yet heard is one (while
            // a new cluster converges): the client keeps no connection to it.
            if fields.len() <= 8 {
                return None;
            }
            // `ip:port@cport[,hostname]`
            let address = fields.get(1)?.split('@').next()?;
            let (host, port) = address.rsplit_once(':')?;
            Some((host.to_owned(), port.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_primaries;

    #[test]
    fn reads_primaries_from_cluster_nodes() {
        let reply = "\
07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002 master - 0 1426238316232 2 connected 5461-10922
292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30003@31003 master - 0 1426238318243 3 connected 10923-16383
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460
6ec23923021cf3ffec47632106199cb7f496ce01 127.0.0.1:30005@31005 master,fail - 0 1426238316232 5 connected
418ab06f7899ed87757ba8874d0d16b3f2578a90 127.0.0.1:30006@31006 master - 0 1795494285000 4 connected
";
        assert_eq!(
            parse_primaries(reply),
            vec![
                ("127.0.0.1".to_owned(), 30002),
                ("127.0.0.1".to_owned(), 30003),
                ("127.0.0.1".to_owned(), 30001),
            ]
        );
    }
}
