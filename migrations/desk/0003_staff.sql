-- Staff who may sign in at this desk, offline: nurses and admins. Passwords are stored only
-- as salted Argon2id hashes in PHC string form.
CREATE TABLE staff (
    id            TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('nurse', 'admin')),
    password_hash TEXT NOT NULL,
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at    TEXT NOT NULL
) STRICT;
