-- klarna-store-sql schema v1 (PostgreSQL). See the crate docs and docs/decisions/0003-sql-store.md.
-- Secrets never sit in clear text: `snapshot` and `token_enc` are AES-256-GCM ciphertexts,
-- `auth_token_hash` and `lookup_hash` are HMAC-SHA256 values (hex).

CREATE SEQUENCE klarna_created_seq;

CREATE TABLE payments (
    id              TEXT    NOT NULL,
    version         BIGINT  NOT NULL CHECK (version >= 1),
    stage           TEXT    NOT NULL,
    snapshot        BYTEA   NOT NULL,
    order_id        TEXT,
    auth_token_hash TEXT,
    pending_key     TEXT,
    session_id      TEXT,
    has_pending     BOOLEAN NOT NULL,
    claimed_until   BIGINT  NOT NULL DEFAULT 0,
    created_seq     BIGINT  NOT NULL DEFAULT nextval('klarna_created_seq'),
    CONSTRAINT payments_pkey PRIMARY KEY (id),
    CONSTRAINT payments_order_id_key UNIQUE (order_id),
    CONSTRAINT payments_auth_token_hash_key UNIQUE (auth_token_hash)
);
CREATE INDEX payments_session_id ON payments (session_id);
CREATE INDEX payments_created_seq ON payments (created_seq);
CREATE INDEX payments_claims ON payments (claimed_until, created_seq) WHERE has_pending;

CREATE TABLE managed_orders (
    order_id      TEXT    NOT NULL,
    version       BIGINT  NOT NULL CHECK (version >= 1),
    data          TEXT    NOT NULL,
    pending_key   TEXT,
    has_pending   BOOLEAN NOT NULL,
    claimed_until BIGINT  NOT NULL DEFAULT 0,
    created_seq   BIGINT  NOT NULL DEFAULT nextval('klarna_created_seq'),
    CONSTRAINT managed_orders_pkey PRIMARY KEY (order_id)
);
CREATE INDEX managed_orders_claims ON managed_orders (claimed_until, created_seq) WHERE has_pending;

CREATE TABLE customer_tokens (
    lookup_hash TEXT   NOT NULL,
    version     BIGINT NOT NULL CHECK (version >= 1),
    token_enc   BYTEA  NOT NULL,
    data        TEXT   NOT NULL,
    CONSTRAINT customer_tokens_pkey PRIMARY KEY (lookup_hash)
);

-- The keys of pending operations, of payments and managed orders alike, so a key is unique
-- across both. `owner` is `payment:<id>` or `order:<id>`.
CREATE TABLE idempotency_keys (
    key   TEXT NOT NULL,
    owner TEXT NOT NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (key)
);
CREATE INDEX idempotency_keys_owner ON idempotency_keys (owner);
