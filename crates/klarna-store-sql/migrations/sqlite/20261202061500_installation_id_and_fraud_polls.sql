-- klarna-store-sql schema v2 (SQLite): the installation id, and leases of fraud-review polls.
-- Never edit a migration that has shipped: add the next one.

-- One row, made on first use by `SqlStore::installation_id` (insert-if-absent): 16 random
-- bytes that name this installation's idempotency keys for its whole life.
CREATE TABLE klarna_meta (
    id              INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    installation_id BLOB    NOT NULL CHECK (length(installation_id) = 16)
);

-- When a fraud-review poll's claim on a payment ends (ms; separate from `claimed_until`,
-- the in-doubt claims' lease), and the index the poll's claim walks.
ALTER TABLE payments ADD COLUMN fraud_claimed_until INTEGER NOT NULL DEFAULT 0;
CREATE INDEX payments_fraud_reviews ON payments (fraud_claimed_until, created_seq)
    WHERE stage = 'FraudReview';
