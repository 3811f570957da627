//! The admin API, devices and the audit chain.

use frontdesk_protocol::sync::Op;
use serde_json::{Value, json};

use crate::common::*;

async fn templates_suspend_resume_and_devices(b: Backend) {
    let s = TestServer::start(b, |_| {}).await;
    assert_eq!(s.client.get(s.url("/v1/admin/sites")).send().await.unwrap().status(), 401);
    let r = s.admin_post("/v1/admin/sites", json!({"id": "east", "name": "东院", "timezone": "Asia/Shanghai"})).await;
    assert_eq!(r.status(), 200);
    let r = s.admin_post("/v1/admin/sites", json!({"id": "bad", "name": "x", "timezone": "Mars/Base"})).await;
    assert_eq!(r.status(), 400);
    s.admin_post(
        "/v1/admin/sites/east/departments",
        json!({"id": "east-ek", "site_id": "east", "code": "ek", "name": "儿科", "name_en": "Paediatrics"}),
    )
    .await;
    let r = s
        .admin_post("/v1/admin/sites/east/providers", json!({"id": "east-ek-1", "site_id": "east", "department_id": "east-ek", "name": "孙丽", "title": "副主任医师", "fee_fen": 3000}))
        .await;
    assert_eq!(r.status(), 200);
    // Mon–Fri 08:00–12:00, 30-minute slots of 6, 2 of them desk-only; a week from Monday.
    let generate = json!({"provider_id": "east-ek-1", "from": "2026-11-23", "days": 7, "templates": [{
        "weekdays": [1,2,3,4,5], "period": "morning", "start": "08:00", "end": "12:00",
        "slot_minutes": 30, "per_slot": 6, "desk_per_slot": 2}]});
    let r: Value = s.admin_post("/v1/admin/sites/east/sessions/generate", generate.clone()).await.json().await.unwrap();
    assert_eq!(r, json!({"sessions_created": 5, "slots_created": 40, "sessions_existing": 0}));
    let r: Value = s.admin_post("/v1/admin/sites/east/sessions/generate", generate).await.json().await.unwrap();
    assert_eq!(r["sessions_existing"], 5);
    let bad = json!({"provider_id": "east-ek-1", "from": "2026-11-23", "days": 7, "templates": [{
        "weekdays": [1], "period": "morning", "start": "08:00", "end": "12:00",
        "slot_minutes": 30, "per_slot": 2, "desk_per_slot": 3}]});
    let r = s.admin_post("/v1/admin/sites/east/sessions/generate", bad).await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "template_desk_share");

    // Suspend: online booking refused; resume: accepted.
    let session = "east-ek-1-20261123-am";
    let r = s.admin_post(&format!("/v1/admin/sessions/{session}/suspend"), json!({"reason": "医生外出会诊"})).await;
    assert_eq!(r.status(), 200);
    let body = json!({"patient": frontdesk_central::demo::patient(8), "slot_id": "east-ek-1-20261123-am-01"});
    let r = s.client.post(s.url("/v1/public/sites/east/bookings")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 409);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["reason"], "session_suspended");
    let r = s.admin_post(&format!("/v1/admin/sessions/{session}/resume"), json!({})).await;
    assert_eq!(r.status(), 200);
    let r = s.client.post(s.url("/v1/public/sites/east/bookings")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201);

    // Pools per session: all desk on Tuesday; refused where an online booking holds a number.
    let r = s.admin_post("/v1/admin/sessions/east-ek-1-20261124-am/pools", json!({"desk_per_slot": 6})).await;
    assert_eq!(r.status(), 200);
    let slots: Value = r.json().await.unwrap();
    assert_eq!(slots[0]["online_capacity"], 0);
    let body = json!({"patient": frontdesk_central::demo::patient(11), "slot_id": "east-ek-1-20261124-am-01"});
    let r = s.client.post(s.url("/v1/public/sites/east/bookings")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 409);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["reason"], "slot_full");
    let r = s.admin_post(&format!("/v1/admin/sessions/{session}/pools"), json!({"desk_per_slot": 6})).await;
    assert_eq!(r.status(), 409);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["reason"], "pool_change_conflicts");
    let r = s.admin_post(&format!("/v1/admin/sessions/{session}/pools"), json!({"desk_per_slot": 1})).await;
    assert_eq!(r.status(), 200);

    // Deleting a session without bookings: tombstones for it and its slots.
    let watcher = s.enroll("east").await;
    let (_, before) = s.pull_all(&watcher, 0).await;
    let r = s
        .client
        .delete(s.url("/v1/admin/sessions/east-ek-1-20261125-am"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r =
        s.client.delete(s.url(&format!("/v1/admin/sessions/{session}"))).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 409, "a session with bookings is suspended, not deleted");
    let (after, _) = s.pull_all(&watcher, before).await;
    let tombs: Vec<(String, String)> = after
        .iter()
        .filter_map(|r| match r {
            frontdesk_protocol::sync::Record::Tombstone { entity, id } => Some((entity.clone(), id.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(tombs.len(), 9, "the session and its 8 slots: {tombs:?}");
    assert!(tombs.contains(&("session".into(), "east-ek-1-20261125-am".into())));

    // Devices: last sync and how far behind; revoke.
    let mut d = s.enroll("east").await;
    {
        let ops = vec![d.op(Op::RegisterPatient { patient: patient("east", 9) })];
        s.push(&d, ops).await
    };
    let (_, cursor) = s.pull_all(&d, 0).await;
    let mine = |listed: &Value| -> Value {
        listed["devices"].as_array().unwrap().iter().find(|x| x["id"] == json!(d.id)).cloned().unwrap()
    };
    let mut dev = Value::Null;
    for _ in 0..500 {
        dev = mine(&s.admin_get("/v1/admin/devices?site=east").await.json().await.unwrap());
        if dev["last_pull_cursor"] == json!(cursor) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(dev["last_pull_cursor"], json!(cursor));
    assert_eq!(dev["behind"], 0);
    assert_eq!(dev["settled_seq"], 1);
    assert!(dev["last_sync_at"].is_string());
    let body = json!({"patient": frontdesk_central::demo::patient(10), "department": "EK"});
    let r = s.client.post(s.url("/v1/public/sites/east/bookings")).json(&body).send().await.unwrap();
    let status = r.status();
    assert_eq!(status, 201, "{}", r.text().await.unwrap());
    let listed: Value = s.admin_get("/v1/admin/devices?site=east").await.json().await.unwrap();
    assert!(mine(&listed)["behind"].as_u64().unwrap() >= 1);
    let r = s.admin_post(&format!("/v1/admin/devices/{}/revoke", d.id), json!({})).await;
    assert_eq!(r.status(), 204);
    let r = s.client.get(s.url("/v1/sync/pull")).bearer_auth(&d.token).send().await.unwrap();
    assert_eq!(r.status(), 401);
    // An enrollment code works once.
    let code: Value =
        s.admin_post("/v1/admin/sites/east/enroll-codes", json!({"ttl_hours": 1})).await.json().await.unwrap();
    let enroll = |c: Value| s.client.post(s.url("/v1/devices/enroll")).json(&json!({"code": c})).send();
    assert_eq!(enroll(code["code"].clone()).await.unwrap().status(), 200);
    assert_eq!(enroll(code["code"].clone()).await.unwrap().status(), 403);
    assert_eq!(enroll(json!("AAAAA-AAAAA")).await.unwrap().status(), 401);
    s.stop().await;
}

async fn audit_verify_detects_an_edited_or_deleted_row(b: Backend) {
    let s = TestServer::start(b, |_| {}).await;
    let mut d = s.enroll("demo").await;
    for i in 0..3 {
        {
            let ops = vec![d.op(Op::RegisterPatient { patient: patient("demo", 60 + i) })];
            s.push(&d, ops).await
        };
    }
    let v: Value = s.admin_get("/v1/admin/audit/verify").await.json().await.unwrap();
    assert!(v["chains"].as_array().unwrap().iter().all(|c| c["ok"] == true), "{v}");
    let bin = env!("CARGO_BIN_EXE_frontdesk-central");
    let db = s.db.clone();
    let verify = || std::process::Command::new(bin).args(["--db", &db.arg(), "audit", "verify"]).output().unwrap();
    let out = verify();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));

    // Edit one row's detail: the command line names the row.
    let seq = db.sql_i64("SELECT MIN(seq) FROM audit_log WHERE site_id = 'demo' AND action = 'register_patient'").await;
    let edited = db
        .sql_i64(&format!(
            "UPDATE audit_log SET detail = '{{}}' WHERE site_id = 'demo' AND action = 'register_patient' AND seq = {seq}"
        ))
        .await;
    assert!(edited >= 1);
    let out = verify();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("TAMPERED") && text.contains(&format!("row {seq}")), "{text}");
    let v: Value = s.admin_get("/v1/admin/audit/verify?site=demo").await.json().await.unwrap();
    assert_eq!(v["chains"][0]["ok"], false, "{v}");

    // Delete the newest row of the site: the chain head notices.
    let deleted = db
        .sql_i64(
            "DELETE FROM audit_log WHERE site_id = 'demo' AND seq = (SELECT MAX(seq) FROM audit_log WHERE site_id = 'demo')",
        )
        .await;
    assert!(deleted >= 1);
    let out = verify();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("rows deleted"), "{text}");
    s.stop().await;
}

crate::on_both!(templates_suspend_resume_and_devices, audit_verify_detects_an_edited_or_deleted_row);
