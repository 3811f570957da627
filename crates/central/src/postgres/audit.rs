//! The hash-chained audit log. A site's log is a set of chains, one per writer lane: each
//! row's hash covers the previous row of its chain and every field of the row (its chain and
//! sequence number included), and `audit_heads` holds each chain's last hash and length, so
//! editing, deleting or re-ordering any row — the newest included — breaks verification.
//! A lane locks the heads it appends to (`FOR UPDATE`) for the length of its transaction, so
//! two processes that were given the same lane name still append one after the other.

use std::collections::{BTreeMap, HashMap};

use deadpool_postgres::Object;
use frontdesk_domain::schedule::SiteId;
use frontdesk_protocol::admin::AuditReport;

use super::rows::{q, q1, x};
use super::{Ctx, R};
use crate::outcome::{GENESIS, audit_hash};

/// The heads of the chains a transaction has appended to: (site) → (last seq, last hash,
/// rows, changed in this transaction). Written to `audit_heads` once, before the commit.
#[derive(Debug, Clone, Default)]
pub(crate) struct Heads {
    heads: HashMap<String, (i64, String, i64, bool)>,
}

/// A row's hash: the previous row of its chain, then (lane, seq, site, at, actor, action, detail).
fn row_hash(prev: &str, lane: &str, seq: i64, rest: [&str; 5]) -> String {
    let seq = seq.to_string();
    let [site, at, actor, action, detail] = rest;
    audit_hash(prev, &[lane, &seq, site, at, actor, action, detail])
}

/// Appends an entry to this lane's chain of a site (inside the caller's transaction).
pub(crate) async fn append(ctx: &mut Ctx, site: &str, actor: &str, action: &str, detail: &str) -> R<()> {
    let (seq, prev, count) = match ctx.audit.heads.get(site) {
        Some((seq, hash, count, _)) => (*seq, hash.clone(), *count),
        None => {
            match q1(
                &ctx.conn,
                "SELECT last_seq, hash, count FROM audit_heads WHERE site_id = $1 AND lane = $2 FOR UPDATE",
                &[&site, &ctx.lane],
            )
            .await?
            {
                Some(r) => (r.get(0), r.get(1), r.get(2)),
                None => (0, GENESIS.to_string(), 0),
            }
        }
    };
    let seq = seq + 1;
    let at = ctx.now.to_string();
    let hash = row_hash(&prev, &ctx.lane, seq, [site, &at, actor, action, detail]);
    x(
        &ctx.conn,
        "INSERT INTO audit_log (site_id, lane, seq, at, actor, action, detail, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[&site, &ctx.lane, &seq, &at, &actor, &action, &detail, &prev, &hash],
    )
    .await?;
    ctx.audit.heads.insert(site.to_string(), (seq, hash, count + 1, true));
    Ok(())
}

/// Writes the changed chain heads (before the transaction commits).
pub(crate) async fn flush(ctx: &mut Ctx) -> R<()> {
    let dirty: Vec<(String, i64, String, i64)> = ctx
        .audit
        .heads
        .iter()
        .filter(|(_, v)| v.3)
        .map(|(site, (seq, hash, count, _))| (site.clone(), *seq, hash.clone(), *count))
        .collect();
    for (site, seq, hash, count) in dirty {
        x(
            &ctx.conn,
            "INSERT INTO audit_heads (site_id, lane, last_seq, hash, count) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (site_id, lane) DO UPDATE SET last_seq = excluded.last_seq, hash = excluded.hash, \
             count = excluded.count",
            &[&site, &ctx.lane, &seq, &hash, &count],
        )
        .await?;
    }
    ctx.audit = Heads::default();
    Ok(())
}

/// Checks every chain (or one site's chains), reading each chain in order.
pub(crate) async fn verify_chains(c: &Object, site: Option<&str>) -> R<Vec<AuditReport>> {
    struct Chain {
        prev: String,
        rows: u64,
        last_seq: i64,
        problems: Vec<String>,
    }
    let fresh = || Chain { prev: GENESIS.to_string(), rows: 0, last_seq: 0, problems: Vec::new() };
    let mut chains: BTreeMap<(String, String), Chain> = BTreeMap::new();
    let mut heads: HashMap<(String, String), (i64, String, i64)> = HashMap::new();
    for r in q(
        c,
        "SELECT site_id, lane, last_seq, hash, count FROM audit_heads WHERE $1::text IS NULL OR site_id = $1",
        &[&site],
    )
    .await?
    {
        let key: (String, String) = (r.get(0), r.get(1));
        chains.insert(key.clone(), fresh());
        heads.insert(key, (r.get(2), r.get(3), r.get(4)));
    }
    let rows = q(
        c,
        "SELECT site_id, lane, seq, at, actor, action, detail, prev_hash, hash FROM audit_log \
         WHERE $1::text IS NULL OR site_id = $1 ORDER BY site_id, lane, seq",
        &[&site],
    )
    .await?;
    for r in rows {
        let (s, lane): (String, String) = (r.get(0), r.get(1));
        let seq: i64 = r.get(2);
        let (at, actor, action, detail, prev_hash, hash): (String, String, String, String, String, String) =
            (r.get(3), r.get(4), r.get(5), r.get(6), r.get(7), r.get(8));
        let chain = chains.entry((s.clone(), lane.clone())).or_insert_with(fresh);
        if prev_hash != chain.prev || seq != chain.last_seq + 1 {
            chain.problems.push(format!(
                "chain {lane}, row {seq}: does not follow the previous row (a row before it was deleted or edited)"
            ));
        }
        if row_hash(&prev_hash, &lane, seq, [&s, &at, &actor, &action, &detail]) != hash {
            chain.problems.push(format!("chain {lane}, row {seq}: content does not match its hash (edited)"));
        }
        chain.prev = hash;
        chain.rows += 1;
        chain.last_seq = seq;
    }
    let mut by_site: BTreeMap<String, (u64, Vec<String>)> = BTreeMap::new();
    if let Some(s) = site {
        by_site.entry(s.to_string()).or_default();
    }
    for ((s, lane), mut chain) in chains {
        match heads.get(&(s.clone(), lane.clone())) {
            Some((hseq, hhash, hcount))
                if *hseq != chain.last_seq || *hhash != chain.prev || *hcount as u64 != chain.rows =>
            {
                chain.problems.push(format!(
                    "chain {lane}: head says {hcount} rows ending at row {hseq}, found {} ending at row {} (rows deleted)",
                    chain.rows, chain.last_seq
                ));
            }
            None if chain.rows > 0 => chain.problems.push(format!("chain {lane}: head missing")),
            _ => {}
        }
        let e = by_site.entry(s).or_default();
        e.0 += chain.rows;
        e.1.extend(chain.problems);
    }
    Ok(by_site
        .into_iter()
        .map(|(s, (rows, problems))| AuditReport { site_id: SiteId(s), rows, ok: problems.is_empty(), problems })
        .collect())
}
