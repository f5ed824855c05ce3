//! Sessions on every store: the lifecycle, the per-user index never listing an expired
//! or deleted session, updates racing deletes, rotation.

use std::time::{Duration, SystemTime};

use txova_db::session::{NewSession, SessionConfig, SessionUpdate, Sessions};

use crate::support::{stores, unique_name};

#[tokio::test]
async fn create_get_update_rotate_and_delete() {
    for (name, store) in stores("create_get_update_rotate_and_delete").await {
        let mut config = SessionConfig::default();
        config.touch_interval = Duration::from_millis(50);
        let sessions = Sessions::with_config(store, config);
        let user = unique_name("user");
        let created = sessions
            .create(
                NewSession::new(&user)
                    .device_id("phone")
                    .device_info("app 4.2")
                    .ip_address("203.0.113.9".parse().unwrap())
                    .data("locale", "pt-MZ"),
            )
            .await
            .unwrap();
        assert!(created.id.as_str().len() >= 22, "at least 128 bits");
        assert!(created.expires_at > SystemTime::now() + Duration::from_secs(29 * 86_400));
        let id = created.id.as_str();
        let found = sessions.get(id).await.unwrap().unwrap();
        assert_eq!(found.user_id, user, "{name}");
        assert_eq!(found.device_info.as_deref(), Some("app 4.2"));
        assert_eq!(found.data.get("locale").map(String::as_str), Some("pt-MZ"));
        assert_eq!(
            found.last_active, found.created_at,
            "not touched within the interval"
        );

        tokio::time::sleep(Duration::from_millis(80)).await;
        let touched = sessions.get(id).await.unwrap().unwrap();
        assert!(
            touched.last_active > found.last_active,
            "{name}: touched after the interval"
        );
        assert!(
            sessions
                .update(
                    id,
                    SessionUpdate::new().ip_address("198.51.100.4".parse().unwrap())
                )
                .await
                .unwrap()
        );
        let updated = sessions.get(id).await.unwrap().unwrap();
        assert_eq!(updated.ip_address, Some("198.51.100.4".parse().unwrap()));
        assert_eq!(
            updated.device_id.as_deref(),
            Some("phone"),
            "other fields kept"
        );

        let rotated = sessions.rotate(id).await.unwrap().unwrap();
        assert_ne!(rotated.id, created.id);
        assert_eq!(rotated.device_id.as_deref(), Some("phone"));
        assert!(
            sessions.get(id).await.unwrap().is_none(),
            "{name}: old id is dead"
        );
        let listed = sessions.list_for_user(&user).await.unwrap();
        assert_eq!(
            listed.iter().map(|s| &s.id).collect::<Vec<_>>(),
            vec![&rotated.id]
        );

        assert!(sessions.delete(rotated.id.as_str()).await.unwrap());
        assert!(!sessions.delete(rotated.id.as_str()).await.unwrap());
        assert!(sessions.get(rotated.id.as_str()).await.unwrap().is_none());
        assert!(
            !sessions
                .update(rotated.id.as_str(), SessionUpdate::new().data("x", "y"))
                .await
                .unwrap()
        );
        assert!(
            sessions.get(rotated.id.as_str()).await.unwrap().is_none(),
            "{name}: not resurrected"
        );
        assert!(sessions.list_for_user(&user).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn listing_never_returns_an_expired_or_deleted_session() {
    for (name, store) in stores("listing_never_returns_an_expired_or_deleted_session").await {
        let long = Sessions::new(store.clone());
        let mut short_config = SessionConfig::default();
        short_config.ttl = Duration::from_millis(300);
        let short = Sessions::with_config(store, short_config);
        let user = unique_name("user");
        let kept: Vec<_> = futures_util::future::try_join_all(
            (0..3).map(|i| long.create(NewSession::new(&user).device_id(format!("d{i}")))),
        )
        .await
        .unwrap();
        let deleted = long.create(NewSession::new(&user)).await.unwrap();
        let expiring = short.create(NewSession::new(&user)).await.unwrap();
        assert_eq!(long.list_for_user(&user).await.unwrap().len(), 5, "{name}");

        assert!(long.delete(deleted.id.as_str()).await.unwrap());
        tokio::time::sleep(Duration::from_millis(400)).await;
        let listed = long.list_for_user(&user).await.unwrap();
        // Exactly the three kept sessions, oldest first (they were created
        // concurrently, so compare as sets, then check the order by creation time).
        let mut ids: Vec<&str> = listed.iter().map(|s| s.id.as_str()).collect();
        ids.sort_unstable();
        let mut expected: Vec<&str> = kept.iter().map(|s| s.id.as_str()).collect();
        expected.sort_unstable();
        assert_eq!(ids, expected, "{name}: {listed:#?}");
        assert!(
            listed
                .windows(2)
                .all(|w| w[0].expires_at <= w[1].expires_at),
            "{name}: oldest first"
        );
        assert!(long.get(expiring.id.as_str()).await.unwrap().is_none());

        assert_eq!(long.delete_all_for_user(&user).await.unwrap(), 3, "{name}");
        assert!(long.list_for_user(&user).await.unwrap().is_empty());
        for session in &kept {
            assert!(long.get(session.id.as_str()).await.unwrap().is_none());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_racing_a_delete_never_resurrects_the_session() {
    for (name, store) in stores("an_update_racing_a_delete").await {
        let sessions = Sessions::new(store);
        let user = unique_name("user");
        for round in 0..100 {
            let session = sessions.create(NewSession::new(&user)).await.unwrap();
            let id = session.id.as_str().to_owned();
            let (a, b) = (sessions.clone(), sessions.clone());
            let (id_a, id_b) = (id.clone(), id.clone());
            let update = tokio::spawn(async move {
                a.update(&id_a, SessionUpdate::new().data("round", round.to_string()))
                    .await
                    .unwrap()
            });
            let delete = tokio::spawn(async move { b.delete(&id_b).await.unwrap() });
            let (_, deleted) = (update.await.unwrap(), delete.await.unwrap());
            assert!(deleted, "{name}");
            assert!(
                sessions.get(&id).await.unwrap().is_none(),
                "{name}: round {round}"
            );
        }
        assert!(
            sessions.list_for_user(&user).await.unwrap().is_empty(),
            "{name}"
        );
    }
}

/// Sign-out everywhere racing sign-ins, 200 times, from two handles: the signing-out
/// one on Redis through the test proxy, which stalls at random to widen every window.
/// No session is ever live but unlisted, one created before the sign-out began is dead
/// once it returns, and a last sign-out leaves nothing alive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_everywhere_racing_sign_ins_revokes_them_all() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;

    use txova_db::store::Store;

    for (name, store) in stores("sign_out_racing_sign_ins").await {
        // The second handle: through a proxy for standalone Redis, the same store else.
        let (proxy, signing_out) = if name == "standalone" {
            let url =
                crate::support::server_url(crate::support::Service::Redis, "race").expect("redis");
            let proxy = Arc::new(crate::support::proxy_in_front_of(&url, 6379).await);
            let through = Store::redis(&format!("redis://127.0.0.1:{}", proxy.port))
                .await
                .expect("through the proxy");
            (Some(proxy), Sessions::new(through))
        } else {
            (None, Sessions::new(store.clone()))
        };
        let signing_in = Sessions::new(store);
        let done = Arc::new(AtomicBool::new(false));
        let staller = proxy.clone().map(|proxy| {
            let done = done.clone();
            tokio::spawn(async move {
                while !done.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_micros(rand::random_range(0..1500))).await;
                    proxy.stall();
                    tokio::time::sleep(Duration::from_micros(rand::random_range(0..1500))).await;
                    proxy.resume();
                }
            })
        });
        let user = unique_name("racer");
        let mut created = Vec::new();
        for _ in 0..200 {
            let sign_out_started = Arc::new(std::sync::Mutex::new(None));
            let started = sign_out_started.clone();
            let (session, ()) = tokio::join!(
                async {
                    tokio::time::sleep(Duration::from_micros(rand::random_range(0..800))).await;
                    let session = signing_in.create(NewSession::new(&user)).await.unwrap();
                    (session, Instant::now())
                },
                async {
                    *started.lock().unwrap() = Some(Instant::now());
                    signing_out.delete_all_for_user(&user).await.unwrap();
                },
            );
            let (session, created_at) = session;
            let began = sign_out_started.lock().unwrap().expect("started");
            if created_at < began {
                assert!(
                    signing_in.get(session.id.as_str()).await.unwrap().is_none(),
                    "{name}: a session created before the sign-out began survived it"
                );
            }
            created.push(session.id);
        }
        done.store(true, Ordering::Relaxed);
        if let Some(staller) = staller {
            staller.await.unwrap();
        }
        if let Some(proxy) = &proxy {
            proxy.resume();
        }
        // Never live but unlisted.
        let listed: Vec<_> = signing_in
            .list_for_user(&user)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        for id in &created {
            if signing_in.get(id.as_str()).await.unwrap().is_some() {
                assert!(listed.contains(id), "{name}: a live session is not listed");
            }
        }
        // A last sign-out leaves nothing alive.
        signing_out.delete_all_for_user(&user).await.unwrap();
        for id in &created {
            assert!(
                signing_in.get(id.as_str()).await.unwrap().is_none(),
                "{name}: a session survived the last sign-out"
            );
        }
    }
}
