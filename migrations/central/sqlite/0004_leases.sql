-- Capacity leases (docs/SYNC.md, "Capacity leases"): desk-pool queue numbers held in escrow for
-- a site's enrolled desks.

-- A site's lease policy (`frontdesk_domain::lease::LeasePolicy` as JSON); no row, no leases.
CREATE TABLE lease_policies (
    site_id    TEXT PRIMARY KEY REFERENCES sites(id),
    policy     TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

-- One row per leased, unspent number. A number is leased once per session (the key); it stays
-- held until the platform ends the lease — past `expires_at` too, until the round may return
-- it (docs/SYNC.md, "Return"). Times are milliseconds since the Unix epoch, so they compare as
-- numbers. `cursor` is the change-log position of the grant (was the desk ever sent it?),
-- `slot_ends_at` when no one can book the number any more.
CREATE TABLE leases (
    session_id   TEXT NOT NULL,
    queue_no     INTEGER NOT NULL,
    site_id      TEXT NOT NULL REFERENCES sites(id),
    slot_id      TEXT NOT NULL,
    device_id    TEXT NOT NULL REFERENCES devices(id),
    expires_at   INTEGER NOT NULL,
    granted_at   TEXT NOT NULL,
    cursor       INTEGER NOT NULL,
    slot_ends_at INTEGER NOT NULL,
    PRIMARY KEY (session_id, queue_no)
) STRICT;
CREATE INDEX leases_by_device ON leases (device_id);
CREATE INDEX leases_by_site_expiry ON leases (site_id, expires_at);

-- What happened to each desk's leased numbers, for the admin's lease view.
CREATE TABLE lease_counts (
    site_id   TEXT NOT NULL REFERENCES sites(id),
    device_id TEXT NOT NULL REFERENCES devices(id),
    granted   INTEGER NOT NULL DEFAULT 0,
    spent     INTEGER NOT NULL DEFAULT 0,
    returned  INTEGER NOT NULL DEFAULT 0,
    expired   INTEGER NOT NULL DEFAULT 0,
    revoked   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, device_id)
) STRICT;

-- The highest change-log position the platform has sent a desk (in a pull page or a lease
-- answer): a lease recorded beyond it never reached the desk. And when the desk last pulled
-- with nothing left in its outbox (milliseconds since the Unix epoch): every lease spend it
-- made before then has been pushed and decided.
ALTER TABLE devices ADD COLUMN served_cursor INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN clean_pull_at INTEGER;
