-- klarna-store-sql schema v1 (SQLite). See the crate docs and docs/decisions/0003-sql-store.md.
-- Secrets never sit in clear text: `snapshot` and `token_enc` are AES-256-GCM ciphertexts,
-- `auth_token_hash` and `lookup_hash` are HMAC-SHA256 values (hex).

CREATE TABLE payments (
    id              TEXT    NOT NULL PRIMARY KEY,
    version         INTEGER NOT NULL CHECK (version >= 1),
    stage           TEXT    NOT NULL,
    snapshot        BLOB    NOT NULL,
    order_id        TEXT    UNIQUE,
    auth_token_hash TEXT    UNIQUE,
    pending_key     TEXT,
    session_id      TEXT,
    has_pending     BOOLEAN NOT NULL,
    claimed_until   INTEGER NOT NULL DEFAULT 0,
    created_seq     INTEGER NOT NULL
);
CREATE INDEX payments_session_id ON payments (session_id);
CREATE INDEX payments_created_seq ON payments (created_seq);
CREATE INDEX payments_claims ON payments (has_pending, claimed_until, created_seq);

CREATE TABLE managed_orders (
    order_id      TEXT    NOT NULL PRIMARY KEY,
    version       INTEGER NOT NULL CHECK (version >= 1),
    data          TEXT    NOT NULL,
    pending_key   TEXT,
    has_pending   BOOLEAN NOT NULL,
    claimed_until INTEGER NOT NULL DEFAULT 0,
    created_seq   INTEGER NOT NULL
);
CREATE INDEX managed_orders_claims ON managed_orders (has_pending, claimed_until, created_seq);

CREATE TABLE customer_tokens (
    lookup_hash TEXT    NOT NULL PRIMARY KEY,
    version     INTEGER NOT NULL CHECK (version >= 1),
    token_enc   BLOB    NOT NULL,
    data        TEXT    NOT NULL
);

-- The keys of pending operations, of payments and managed orders alike, so a key is unique
-- across both. `owner` is `payment:<id>` or `order:<id>`.
CREATE TABLE idempotency_keys (
    key   TEXT NOT NULL PRIMARY KEY,
    owner TEXT NOT NULL
);
CREATE INDEX idempotency_keys_owner ON idempotency_keys (owner);
