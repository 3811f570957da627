//! The live board: `GET /v1/sync/wait`, a long-poll on the site's change log.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::*;

/// A wait's answer: status, `Retry-After`, body, and how long it took.
struct Waited {
    status: u16,
    retry_after: Option<String>,
    body: Value,
    took: Duration,
}

impl Waited {
    fn changed(&self) -> bool {
        assert_eq!(self.status, 200, "{}", self.body);
        self.body["changed"].as_bool().unwrap()
    }

    fn head(&self) -> u64 {
        self.body["head"].as_u64().unwrap()
    }
}

async fn wait(s: &TestServer, token: &str, cursor: u64, timeout_ms: u32) -> Waited {
    wait_at(s.client.clone(), s.base.clone(), token.to_string(), cursor, timeout_ms).await
}

async fn wait_at(client: reqwest::Client, base: String, token: String, cursor: u64, timeout_ms: u32) -> Waited {
    let started = Instant::now();
    let r = client
        .get(format!("{base}/v1/sync/wait?cursor={cursor}&timeout_ms={timeout_ms}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let retry_after = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
    let body: Value = r.json().await.unwrap();
    Waited { status, retry_after, body, took: started.elapsed() }
}

/// A wait held on the server in the background.
fn wait_in_background(s: &TestServer, token: &str, cursor: u64, timeout_ms: u32) -> tokio::task::JoinHandle<Waited> {
    tokio::spawn(wait_at(s.client.clone(), s.base.clone(), token.to_string(), cursor, timeout_ms))
}

async fn book_online(s: &TestServer, site: &str, slot: &str, n: u64) {
    let body = json!({"patient": frontdesk_central::demo::patient(n), "slot_id": slot});
    let r = s.client.post(s.url(&format!("/v1/public/sites/{site}/bookings"))).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
}

/// The platform's view has seen every change of the device's site up to `cursor`: a wait from
/// 0 answers a head of at least that (the view follows the change log every 200 ms).
async fn view_reaches(s: &TestServer, token: &str, cursor: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let w = wait(s, token, 0, 2_000).await;
        if w.changed() && w.head() >= cursor {
            return;
        }
        assert!(Instant::now() < deadline, "the view never reached {cursor}: {}", w.body);
    }
}

async fn a_wait_answers_at_once_past_the_cursor_and_times_out_otherwise(b: Backend) {
    let s = TestServer::start(b, |_| {}).await;
    let dev = s.enroll("demo").await;
    let (_, cursor) = s.pull_all(&dev, 0).await;
    // The snapshot's changes are after cursor 0: answered as soon as the view has read them.
    view_reaches(&s, &dev.token, cursor).await;
    let w = wait(&s, &dev.token, 0, 5_000).await;
    assert!(w.changed(), "{}", w.body);
    assert!(w.head() > 0 && w.head() <= cursor, "the head is a position a pull serves: {} vs {cursor}", w.head());
    assert!(w.took < Duration::from_millis(500), "answered at once, took {:?}", w.took);
    // Nothing after the cursor: the timeout answers, changed false, with the head.
    let w = wait(&s, &dev.token, cursor, 300).await;
    assert!(!w.changed(), "{}", w.body);
    assert!(w.retry_after.is_none(), "a timeout is not a shed wait");
    assert!(w.head() <= cursor);
    assert!(w.took >= Duration::from_millis(300) && w.took < Duration::from_secs(5), "took {:?}", w.took);
    // Tokens: none or a wrong one is 401, as for pull.
    let r = s.client.get(s.url("/v1/sync/wait?cursor=0")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = s.client.get(s.url("/v1/sync/wait?cursor=0")).bearer_auth("not-a-token").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = s.client.get(s.url("/v1/sync/wait?cursor=x")).bearer_auth(&dev.token).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let doc: Value = s.client.get(s.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(doc["paths"]["/v1/sync/wait"]["get"].is_object(), "the wait is in the OpenAPI document");
    s.stop().await;
}

async fn a_held_wait_wakes_within_a_second_of_a_booking_of_its_site_only(b: Backend) {
    let s = TestServer::start(b, |_| {}).await;
    let other: &'static str = match b {
        Backend::Sqlite => "live-other-s",
        Backend::Postgres => "live-other-p",
    };
    small_site(&s, other, today(), 10, 0, 240).await;
    let demo = s.enroll("demo").await;
    let far = s.enroll(other).await;
    let (_, demo_cursor) = s.pull_all(&demo, 0).await;
    let (_, far_cursor) = s.pull_all(&far, 0).await;
    view_reaches(&s, &demo.token, demo_cursor).await;
    view_reaches(&s, &far.token, far_cursor).await;

    let held = wait_in_background(&s, &demo.token, demo_cursor, 15_000);
    // A booking of the other site: its own desk's wait wakes — so the view has read it —, the
    // demo desk's does not.
    let far_wait = wait_in_background(&s, &far.token, far_cursor, 15_000);
    book_online(&s, other, &format!("{other}-nk-1-20261123-am-01"), 1).await;
    let w = far_wait.await.unwrap();
    assert!(w.changed(), "{}", w.body);
    assert!(w.head() > far_cursor);
    let mut held = held;
    assert!(
        tokio::time::timeout(Duration::from_millis(500), &mut held).await.is_err(),
        "a booking of another site woke the demo desk's wait"
    );
    // The other desk's own cursor tells it nothing of the demo site: its head is its site's.
    let w = wait(&s, &far.token, 0, 1_000).await;
    assert!(w.changed() && w.head() > far_cursor, "{}", w.body);

    // An online booking of the demo site wakes the held wait within a second of its answer.
    book_online(&s, "demo", "demo-nk-1-20261123-am-03", 2).await;
    let booked = Instant::now();
    let w = held.await.unwrap();
    let latency = booked.elapsed();
    assert!(w.changed(), "{}", w.body);
    assert!(w.head() > demo_cursor);
    assert!(latency < Duration::from_secs(1), "woke {latency:?} after the booking's answer");
    eprintln!("live wait woke {latency:?} after the online booking's answer ({b:?})");
    // What it announced, a pull serves; and the far site's wait still knows nothing of it.
    let page = s.pull(&demo, demo_cursor, 5000).await;
    assert!(page.next_cursor >= w.head() && !page.changes.is_empty());
    let far_now = wait(&s, &far.token, w.head(), 300).await;
    assert!(!far_now.changed(), "the demo booking is not the other site's change: {}", far_now.body);
    // A suspension is a change of the site too.
    let held = wait_in_background(&s, &demo.token, page.next_cursor, 15_000);
    let r = s.admin_post("/v1/admin/sessions/demo-nk-1-20261123-am/suspend", json!({"reason": "meeting"})).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    let suspended = Instant::now();
    let w = held.await.unwrap();
    assert!(w.changed() && suspended.elapsed() < Duration::from_secs(1), "{} after {:?}", w.body, suspended.elapsed());
}

async fn past_the_bound_waits_are_answered_at_once_and_shutdown_ends_held_ones(b: Backend) {
    let s = TestServer::start(b, |c| c.live_waits = 1).await;
    let dev = s.enroll("demo").await;
    let (_, cursor) = s.pull_all(&dev, 0).await;
    view_reaches(&s, &dev.token, cursor).await;
    let mut held = wait_in_background(&s, &dev.token, cursor, 20_000);
    // Once the one place is taken, every further wait is shed: answered at once, changed false,
    // with Retry-After — never a 5xx. (A probe may come first and take the place for its
    // 200 ms: then the background wait was the one shed, and it waits again.)
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let w = wait(&s, &dev.token, cursor, 200).await;
        assert!(!w.changed());
        if w.retry_after.is_some() && !held.is_finished() {
            break;
        }
        if held.is_finished() {
            let h = held.await.unwrap();
            assert!(!h.changed() && h.retry_after.is_some(), "only shed early: {}", h.body);
            held = wait_in_background(&s, &dev.token, cursor, 20_000);
        }
        assert!(Instant::now() < deadline, "no wait was ever shed");
    }
    let mut burst = Vec::new();
    for _ in 0..50 {
        burst.push(wait_in_background(&s, &dev.token, cursor, 20_000));
    }
    for t in burst {
        let w = t.await.unwrap();
        assert_eq!(w.status, 200, "{}", w.body);
        assert!(!w.changed());
        assert!(w.retry_after.as_deref().is_some_and(|r| r.parse::<u64>().unwrap() >= 1), "Retry-After");
        assert!(w.took < Duration::from_secs(2), "shed at once, took {:?}", w.took);
    }
    let metrics = s.client.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("frontdesk_live_waits_shed_total"), "the shed waits are counted");
    assert!(metrics.contains("frontdesk_live_waits "), "the held waits are a gauge");
    // A server that stops answers the held wait at once instead of draining for 20 s.
    let stopping = Instant::now();
    s.stop().await;
    assert!(stopping.elapsed() < Duration::from_secs(5), "shutdown took {:?}", stopping.elapsed());
    let w = held.await.unwrap();
    assert!(!w.changed(), "{}", w.body);
    assert!(w.took < Duration::from_secs(15), "the held wait ended with the server, took {:?}", w.took);
}

crate::on_both!(
    a_wait_answers_at_once_past_the_cursor_and_times_out_otherwise,
    a_held_wait_wakes_within_a_second_of_a_booking_of_its_site_only,
    past_the_bound_waits_are_answered_at_once_and_shutdown_ends_held_ones
);
