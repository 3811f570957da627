//! The hash-chained audit log: one chain per site. Each row's hash covers the previous row's
//! hash and every field of the row (its sequence number included), and `audit_heads` holds
//! each chain's last hash and length, so editing, deleting or re-ordering any row — the newest
//! included — breaks verification.

use std::collections::BTreeMap;

use frontdesk_domain::schedule::SiteId;
use frontdesk_protocol::admin::AuditReport;
use rusqlite::{Connection, OptionalExtension, params};

use super::WriteCtx;
use crate::error::StoreResult;

use crate::outcome::{GENESIS, audit_hash};

/// A row's hash: the previous row's hash, then (seq, site, at, actor, action, detail).
fn row_hash(prev: &str, seq: i64, rest: [&str; 5]) -> String {
    let seq = seq.to_string();
    let [site, at, actor, action, detail] = rest;
    audit_hash(prev, &[&seq, site, at, actor, action, detail])
}

/// The heads of the chains a commit group has appended to, kept in memory for the group and
/// written to `audit_heads` once, before the commit.
#[derive(Debug, Clone, Default)]
pub(crate) struct Heads {
    /// site → (last seq, last hash, rows), and whether it changed in this group.
    heads: std::collections::HashMap<String, (i64, String, i64, bool)>,
    next_seq: Option<i64>,
}

/// Appends an entry to a site's chain (inside the caller's transaction).
pub(crate) fn append(ctx: &mut WriteCtx<'_>, site: &str, actor: &str, action: &str, detail: &str) -> StoreResult<()> {
    let c = ctx.conn;
    let (prev, count) = match ctx.cache.audit.heads.get(site) {
        Some((_, hash, count, _)) => (hash.clone(), *count),
        None => c
            .prepare_cached("SELECT hash, count FROM audit_heads WHERE site_id = ?1")?
            .query_row([site], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .unwrap_or_else(|| (GENESIS.to_string(), 0)),
    };
    let seq: i64 = match ctx.cache.audit.next_seq {
        Some(s) => s,
        None => c.prepare_cached("SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_log")?.query_row([], |r| r.get(0))?,
    };
    let at = ctx.now_text();
    let hash = row_hash(&prev, seq, [site, at, actor, action, detail]);
    c.prepare_cached(
        "INSERT INTO audit_log (seq, site_id, at, actor, action, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![seq, site, at, actor, action, detail, prev, hash])?;
    ctx.cache.audit.heads.insert(site.to_string(), (seq, hash, count + 1, true));
    ctx.cache.audit.next_seq = Some(seq + 1);
    Ok(())
}

/// Writes the changed chain heads (before the group commits).
pub(crate) fn flush(ctx: &mut WriteCtx<'_>) -> StoreResult<()> {
    for (site, (seq, hash, count, dirty)) in ctx.cache.audit.heads.iter_mut() {
        if !*dirty {
            continue;
        }
        ctx.conn
            .prepare_cached(
                "INSERT INTO audit_heads (site_id, last_seq, hash, count) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (site_id) DO UPDATE SET last_seq = excluded.last_seq, hash = excluded.hash, count = excluded.count",
            )?
            .execute(params![site, *seq, hash.as_str(), *count])?;
        *dirty = false;
    }
    Ok(())
}

/// Checks every chain (or one site's), reading the log once in `seq` order.
pub fn verify_chains(c: &Connection, site: Option<&str>) -> StoreResult<Vec<AuditReport>> {
    struct Chain {
        prev: String,
        rows: u64,
        last_seq: i64,
        problems: Vec<String>,
    }
    let fresh = || Chain { prev: GENESIS.to_string(), rows: 0, last_seq: 0, problems: Vec::new() };
    let mut chains: BTreeMap<String, Chain> = BTreeMap::new();
    let heads: Vec<String> =
        c.prepare("SELECT site_id FROM audit_heads")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    for s in heads {
        if site.is_none_or(|x| x == s) {
            chains.insert(s, fresh());
        }
    }
    if let Some(s) = site {
        chains.entry(s.to_string()).or_insert_with(fresh);
    }
    let mut st = c.prepare(
        "SELECT seq, site_id, at, actor, action, detail, prev_hash, hash FROM audit_log \
         WHERE ?1 IS NULL OR site_id = ?1 ORDER BY seq",
    )?;
    let mut q = st.query([site])?;
    while let Some(r) = q.next()? {
        let seq: i64 = r.get(0)?;
        let s: String = r.get(1)?;
        let at: String = r.get(2)?;
        let actor: String = r.get(3)?;
        let action: String = r.get(4)?;
        let detail: String = r.get(5)?;
        let prev_hash: String = r.get(6)?;
        let hash: String = r.get(7)?;
        let chain = chains.entry(s.clone()).or_insert_with(fresh);
        if prev_hash != chain.prev {
            chain
                .problems
                .push(format!("row {seq}: does not follow the previous row (a row before it was deleted or edited)"));
        }
        if row_hash(&prev_hash, seq, [&s, &at, &actor, &action, &detail]) != hash {
            chain.problems.push(format!("row {seq}: content does not match its hash (edited)"));
        }
        chain.prev = hash;
        chain.rows += 1;
        chain.last_seq = seq;
    }
    let mut reports = Vec::new();
    for (s, mut chain) in chains {
        let head: Option<(i64, String, i64)> = c
            .query_row("SELECT last_seq, hash, count FROM audit_heads WHERE site_id = ?1", [&s], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        match head {
            Some((hseq, hhash, hcount))
                if hseq != chain.last_seq || hhash != chain.prev || hcount as u64 != chain.rows =>
            {
                chain.problems.push(format!(
                    "chain head says {hcount} rows ending at row {hseq}, found {} ending at row {} (rows deleted)",
                    chain.rows, chain.last_seq
                ));
            }
            None if chain.rows > 0 => chain.problems.push("chain head missing".into()),
            _ => {}
        }
        reports.push(AuditReport {
            site_id: SiteId(s),
            rows: chain.rows,
            ok: chain.problems.is_empty(),
            problems: chain.problems,
        });
    }
    Ok(reports)
}
