//! Self-protection and operations endpoints.

use std::io::Write;

use frontdesk_central::Rate;
use frontdesk_protocol::sync::{Op, PushRequest};
use serde_json::{Value, json};

use crate::common::*;

async fn bodies_are_limited_after_decompression_and_malformed_json_is_named(b: Backend) {
    let s = TestServer::start(b, |c| c.body_limit = 64 * 1024).await;
    let mut d = s.enroll("demo").await;
    let push = s.url("/v1/sync/push");

    // Oversized plain body: 413.
    let big = vec![b' '; 200 * 1024];
    let r = s
        .client
        .post(&push)
        .bearer_auth(&d.token)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "body_too_large");

    // A zstd bomb: 64 MiB of spaces in a few KiB; refused once it inflates past the limit.
    let bomb = zstd::encode_all(std::io::repeat(b' ').take_bytes(64 << 20), 19).unwrap();
    assert!(bomb.len() < 64 * 1024);
    let r = s
        .client
        .post(&push)
        .bearer_auth(&d.token)
        .header("content-type", "application/json")
        .header("content-encoding", "zstd")
        .body(bomb)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);

    // Malformed JSON: 400 naming the problem.
    let r = s
        .client
        .post(&push)
        .bearer_auth(&d.token)
        .header("content-type", "application/json")
        .body(r#"{"protocol": 1, "device_id": "x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "invalid_json");
    assert!(v["message"].as_str().unwrap().contains("missing field `ops`"), "{v}");
    let r = s
        .client
        .post(&push)
        .bearer_auth(&d.token)
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // gzip and zstd bodies are accepted.
    let p = patient("demo", 1);
    let req = PushRequest {
        protocol: 1,
        device_id: d.id.clone(),
        ops: vec![d.op(Op::RegisterPatient { patient: p.clone() })],
    };
    let raw = serde_json::to_vec(&req).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&raw).unwrap();
    let r = s
        .client
        .post(&push)
        .bearer_auth(&d.token)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let req = PushRequest {
        protocol: 1,
        device_id: d.id.clone(),
        ops: vec![d.op(Op::RegisterPatient { patient: patient("demo", 2) })],
    };
    let r = s
        .client
        .post(&push)
        .bearer_auth(&d.token)
        .header("content-type", "application/json")
        .header("content-encoding", "zstd")
        .body(zstd::encode_all(&serde_json::to_vec(&req).unwrap()[..], 3).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["acked_seq"], 2);
    s.stop().await;
}

trait TakeBytes: std::io::Read + Sized {
    fn take_bytes(self, n: u64) -> std::io::Take<Self> {
        self.take(n)
    }
}
impl<R: std::io::Read> TakeBytes for R {}

async fn rate_limits_answer_429_with_retry_after(b: Backend) {
    let s = TestServer::start(b, |c| {
        c.device_rate = Some(Rate { per_second: 1, burst: 3 });
        c.public_rate = Some(Rate { per_second: 1, burst: 2 });
    })
    .await;
    let d = s.enroll("demo").await;
    let mut statuses = Vec::new();
    let mut retry = None;
    // Far more requests than the burst allows, so a slow machine cannot refill the bucket.
    for _ in 0..20 {
        let r = s.client.get(s.url("/v1/sync/pull?cursor=0&limit=1")).bearer_auth(&d.token).send().await.unwrap();
        if r.status() == 429 {
            retry = r.headers().get("retry-after").map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
        }
        statuses.push(r.status().as_u16());
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(retry.unwrap() >= 1);
    let mut public = Vec::new();
    for _ in 0..20 {
        let r = s
            .client
            .get(s.url("/v1/public/sites/demo/availability?date=2026-11-23&department=NK"))
            .send()
            .await
            .unwrap();
        public.push(r.status().as_u16());
    }
    assert!(public.contains(&429), "{public:?}");
    s.stop().await;
}

async fn public_limits_count_clients_behind_a_trusted_proxy_not_the_proxy(b: Backend) {
    let trusted = TestServer::start(b, |c| {
        c.public_rate = Some(Rate { per_second: 1, burst: 2 });
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        c.proxy_rate = Some(Rate { per_second: 1, burst: 25 });
    })
    .await;
    let get = |s: &TestServer, xff: String| {
        s.client
            .get(s.url("/v1/public/sites/demo/availability?date=2026-11-23&department=NK"))
            .header("x-forwarded-for", xff)
            .send()
    };
    // 20 clients behind the gateway, twice each: nobody is over their own limit.
    for round in 0..2 {
        for i in 0..10 {
            let r = get(&trusted, format!("203.0.113.{i}, 127.0.0.1")).await.unwrap();
            assert_eq!(r.status(), 200, "client {i}, round {round}");
        }
    }
    // One client past its own limit is limited, the next client is not.
    let mut one = Vec::new();
    for _ in 0..4 {
        one.push(get(&trusted, "198.51.100.7".into()).await.unwrap().status().as_u16());
    }
    assert!(one.contains(&429), "{one:?}");
    // The gateway's own limit counts every client through it together.
    let mut all = Vec::new();
    for i in 0..10 {
        all.push(get(&trusted, format!("192.0.2.{i}")).await.unwrap().status().as_u16());
    }
    assert!(all.contains(&429), "the proxy's limit holds: {all:?}");
    trusted.stop().await;

    // From a peer that is not a trusted proxy the header is ignored: one client, one limit.
    let s = TestServer::start(b, |c| c.public_rate = Some(Rate { per_second: 1, burst: 2 })).await;
    let mut spoofed = Vec::new();
    for i in 0..6 {
        spoofed.push(get(&s, format!("203.0.113.{i}")).await.unwrap().status().as_u16());
    }
    assert!(spoofed.contains(&429), "a forged X-Forwarded-For does not escape the limit: {spoofed:?}");
    s.stop().await;
}

async fn cross_site_access_is_403_and_audited(b: Backend) {
    let s = TestServer::start(b, |_| {}).await;
    small_site(&s, "other", today(), 4, 2, 30).await;
    let mut d = s.enroll("demo").await;
    let mut op = d.op(Op::RegisterPatient { patient: patient("other", 5) });
    op.site_id = "other".into();
    let req = PushRequest { protocol: 1, device_id: d.id.clone(), ops: vec![op] };
    let r = s.client.post(s.url("/v1/sync/push")).bearer_auth(&d.token).json(&req).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "forbidden_site");
    let r = s.client.get(s.url("/v1/sites/other")).bearer_auth(&d.token).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = s.client.get(s.url("/v1/sites/demo")).bearer_auth(&d.token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // No token, a wrong token, a revoked token: 401.
    let r = s.client.get(s.url("/v1/sync/pull")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = s.client.get(s.url("/v1/sync/pull")).bearer_auth("nope").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = s.client.get(s.url("/v1/admin/devices")).bearer_auth(&d.token).send().await.unwrap();
    assert_eq!(r.status(), 401, "a device token is not an admin token");
    let audited =
        s.db.sql_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'forbidden_site' AND site_id = 'demo'").await;
    assert_eq!(audited, 2, "both refusals are in the device site's audit chain");
    s.stop().await;
}

async fn health_ready_metrics_and_openapi(b: Backend) {
    let s = TestServer::start(b, |_| {}).await;
    assert_eq!(s.client.get(s.url("/healthz")).send().await.unwrap().status(), 200);
    assert_eq!(s.client.get(s.url("/readyz")).send().await.unwrap().status(), 200);
    let body = json!({"patient": frontdesk_central::demo::patient(3), "department": "KQ"});
    let r = s.client.post(s.url("/v1/public/sites/demo/bookings")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let m = s.client.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(m.contains("http_request_duration_seconds"), "{m}");
    assert!(m.contains("frontdesk_bookings_total"), "{m}");
    let doc: Value = s.client.get(s.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(doc["paths"]["/v1/sync/push"]["post"].is_object());
    assert!(doc["paths"]["/v1/public/sites/{site}/bookings"]["post"].is_object());
    let r = s.client.get(s.url("/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    s.stop().await;
}

async fn load_is_shed_with_503_and_retry_after(b: Backend) {
    // A write queue that is always "full": every write is shed at once, reads still answer.
    let s = TestServer::start(b, |c| c.max_write_queue = 0).await;
    let body = json!({"patient": frontdesk_central::demo::patient(5), "department": "NK"});
    let r = s.client.post(s.url("/v1/public/sites/demo/bookings")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    assert_security_headers(&r, "shed");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "overloaded");
    let r = s.client.get(s.url("/v1/public/sites/demo/availability?date=2026-11-23")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(s.client.get(s.url("/readyz")).send().await.unwrap().status(), 200);
    s.stop().await;
}

/// The headers every answer of the platform carries (`security_headers`).
fn assert_security_headers(r: &reqwest::Response, what: &str) {
    let h = r.headers();
    let want = [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("content-security-policy", "default-src 'none'; frame-ancestors 'none'"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
    ];
    for (name, value) in want {
        assert_eq!(h.get(name).and_then(|v| v.to_str().ok()), Some(value), "{what} ({}): {name}", r.status());
    }
}

async fn every_answer_carries_the_security_headers(b: Backend) {
    let s = TestServer::start(b, |c| c.public_rate = Some(Rate { per_second: 1, burst: 2 })).await;
    let d = s.enroll("demo").await;
    let r = s.client.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_security_headers(&r, "health");
    let r = s.client.get(s.url("/metrics")).send().await.unwrap();
    assert_security_headers(&r, "metrics");
    let r = s.client.get(s.url("/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_security_headers(&r, "unknown path");
    let r = s.client.get(s.url("/v1/admin/sites")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_security_headers(&r, "admin without its token");
    let r = s.admin_get("/v1/admin/sites").await;
    assert_eq!(r.status(), 200);
    assert_security_headers(&r, "admin");
    let r = s.client.get(s.url("/v1/sync/pull?cursor=0")).bearer_auth(&d.token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_security_headers(&r, "device pull");
    let r = s.client.get(s.url("/v1/sync/wait?cursor=0&timeout_ms=10")).bearer_auth(&d.token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_security_headers(&r, "live-board wait");
    // Past the public limit: the 429 carries them too.
    let mut limited = None;
    for _ in 0..10 {
        let r = s.client.get(s.url("/v1/public/sites/demo/availability?date=2026-11-23")).send().await.unwrap();
        assert_security_headers(&r, "public availability");
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
    }
    assert!(limited.is_some(), "the public limit answered 429 within 10 requests");
    s.stop().await;
}

async fn the_admin_token_is_rotated_without_a_restart(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("admin-token");
    std::fs::write(&file, format!("{ADMIN_TOKEN}\n")).unwrap();
    let path = file.clone();
    let s = TestServer::start(b, move |c| c.admin_token_file = Some(path)).await;
    let sites = |token: String| {
        let r = s.client.get(s.url("/v1/admin/sites")).bearer_auth(token).send();
        async move { r.await.unwrap().status().as_u16() }
    };
    assert_eq!(sites(ADMIN_TOKEN.into()).await, 200);

    // Rotated while serving: the new token works at once, the old one no more.
    let rotated = frontdesk_central::secret::write_new_token_file(&file).unwrap();
    assert_ne!(rotated, ADMIN_TOKEN);
    assert_eq!(sites(ADMIN_TOKEN.into()).await, 401);
    assert_eq!(sites(rotated.clone()).await, 200);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o077, 0, "owner-only");
    }

    // A file that holds no token refuses every admin request (never the old token)...
    std::fs::write(&file, "short\n").unwrap();
    assert_eq!(sites(rotated.clone()).await, 401);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(sites(rotated.clone()).await, 401);
    // ...until there is one again.
    let again = frontdesk_central::secret::write_new_token_file(&file).unwrap();
    assert_eq!(sites(again).await, 200);
    s.stop().await;
}

async fn enrollment_codes_expire_serve_once_and_cannot_be_guessed_quickly(b: Backend) {
    let s = TestServer::start(b, |c| c.public_rate = Some(Rate { per_second: 1, burst: 5 })).await;
    let enroll = |code: &str| {
        let r = s.client.post(s.url("/v1/devices/enroll")).json(&json!({"code": code, "name": "desk"})).send();
        async move {
            let r = r.await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let issue = |ttl: u32| {
        let r = s.admin_post("/v1/admin/sites/demo/enroll-codes", json!({"ttl_hours": ttl}));
        async move { r.await.json::<Value>().await.unwrap()["code"].as_str().unwrap().to_string() }
    };
    let one_hour = issue(1).await;
    let fresh = issue(24).await;

    // Past its hours a code is refused, saying so.
    s.clock.advance(jiff::SignedDuration::from_secs(2 * 3600));
    let (status, v) = enroll(&one_hour).await;
    assert_eq!(status, 403, "{v}");
    assert!(v["message"].as_str().unwrap().contains("expired"), "{v}");
    // A code serves once.
    assert_eq!(enroll(&fresh).await.0, 200);
    let (status, v) = enroll(&fresh).await;
    assert_eq!(status, 403, "{v}");
    assert!(v["message"].as_str().unwrap().contains("already used"), "{v}");

    // Guessing: one client's attempts hit the per-client limit long before a 50-bit code could
    // be found (at most the burst, then about one a second).
    let mut statuses = Vec::new();
    for n in 0..20 {
        statuses.push(enroll(&format!("ZZZZZ-{n:05}")).await.0);
    }
    assert!(statuses.iter().all(|s| *s == 401 || *s == 429), "{statuses:?}");
    assert!(statuses.iter().filter(|s| **s == 429).count() >= 10, "{statuses:?}");
    s.stop().await;
}

crate::on_both!(
    bodies_are_limited_after_decompression_and_malformed_json_is_named,
    rate_limits_answer_429_with_retry_after,
    public_limits_count_clients_behind_a_trusted_proxy_not_the_proxy,
    cross_site_access_is_403_and_audited,
    health_ready_metrics_and_openapi,
    load_is_shed_with_503_and_retry_after,
    every_answer_carries_the_security_headers,
    the_admin_token_is_rotated_without_a_restart,
    enrollment_codes_expire_serve_once_and_cannot_be_guessed_quickly
);
