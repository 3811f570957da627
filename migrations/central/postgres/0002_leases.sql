-- Capacity leases (docs/SYNC.md, "Capacity leases"): desk-pool queue numbers held in escrow for
-- a site's enrolled desks.
--
-- A leased number is its `numbers` row with the lessee beside `booking_id`, so the row lock that
-- guards a booking's claim guards the lease too: a grant and a claim of one number take turns
-- on one row, and nothing can both book and lease it. A claim for a booking outside a lease
-- skips leased rows; a desk's spend of its own leased number clears the lease in the claim's
-- transaction. A lease stays until the platform ends it — past `lease_expires_at` too, until the
-- round may return it (docs/SYNC.md, "Return"). `lease_site` (the session's site, set only while
-- leased) finds a site's leases without joining the schedule; `lease_cursor` is the change-log
-- position of the grant (was the desk ever sent it?); `lease_slot_ends_at` when no one can book
-- the number any more.

ALTER TABLE numbers
    ADD COLUMN lease_site         TEXT,
    ADD COLUMN lease_device       TEXT,
    ADD COLUMN lease_expires_at   TIMESTAMPTZ,
    ADD COLUMN lease_granted_at   TIMESTAMPTZ,
    ADD COLUMN lease_cursor       BIGINT,
    ADD COLUMN lease_slot_ends_at TIMESTAMPTZ;

-- A lease is whole (all its columns or none), and a number is booked or leased, never both.
ALTER TABLE numbers
    ADD CONSTRAINT numbers_lease_whole CHECK (
        (lease_device IS NULL) = (lease_site IS NULL)
        AND (lease_device IS NULL) = (lease_expires_at IS NULL)
        AND (lease_device IS NULL) = (lease_granted_at IS NULL)
        AND (lease_device IS NULL) = (lease_cursor IS NULL)
        AND (lease_device IS NULL) = (lease_slot_ends_at IS NULL)
    ),
    ADD CONSTRAINT numbers_booked_or_leased CHECK (lease_device IS NULL OR booking_id IS NULL);

CREATE INDEX numbers_leased_by_site ON numbers (lease_site, lease_expires_at) WHERE lease_device IS NOT NULL;
CREATE INDEX numbers_leased_by_device ON numbers (lease_device) WHERE lease_device IS NOT NULL;

-- A site's lease policy (`frontdesk_domain::lease::LeasePolicy` as JSON); no row, no leases.
-- Every grant of the site holds this row locked, so grants of one site — the platform's rounds
-- on every process and the desks' own requests — take turns and never lease a desk beyond its
-- share. Holding it, a grant waits for no other transaction: it leases only number rows no
-- other transaction has locked (`SKIP LOCKED`).
CREATE TABLE lease_policies (
    site_id    TEXT PRIMARY KEY REFERENCES sites(id),
    policy     JSONB NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- What the platform knows a desk has received, so an expired lease returns only when it is
-- sure the lease is unspent: `served_cursor` is the highest change-log position served to the
-- desk (a lease granted beyond it was never sent), `clean_pull_at` the arrival of its latest
-- pull with nothing pending in its outbox. A row of its own, not columns of `devices`: a push
-- holds its device's row locked for its whole group.
CREATE TABLE lease_receipts (
    device_id     TEXT PRIMARY KEY,
    served_cursor BIGINT NOT NULL DEFAULT 0,
    clean_pull_at TIMESTAMPTZ
);

-- What happened to each desk's leased numbers (granted, spent, given back, expired, taken
-- back), for the admin's lease view: appended, never updated, so counting never waits on
-- another transaction (a per-desk counter row would be locked by every spend until its group
-- commits). No foreign keys for the same reason: a push holds its device's row locked.
CREATE TABLE lease_events (
    id        BIGSERIAL PRIMARY KEY,
    site_id   TEXT NOT NULL,
    device_id TEXT NOT NULL,
    what      TEXT NOT NULL CHECK (what IN ('granted', 'spent', 'returned', 'expired', 'revoked')),
    n         BIGINT NOT NULL,
    at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX lease_events_by_site ON lease_events (site_id, device_id);
