-- pg_schema.sql — the double-entry ledger most teams build in PostgreSQL,
-- as the opponent of borsellino in bench/compare. Tables only; the
-- functions are in pg_transfer.sql and pg_welfare.sql.
--
-- The same model as borsellino's core (docs/ledger.md), reduced to what the
-- benchmark exercises:
--   accounts   balances kept on the row (debits/credits, pending/posted),
--              flags: 2 = debits must not exceed credits,
--                     4 = credits must not exceed debits (ledger.h values);
--   transfers  one row per event; the client's id is the idempotency key
--              (primary key); status of pending transfers; failed ids are
--              kept too (result <> 0) so that they stay failed, like
--              borsellino's failure markers;
--   entries    two per transfer (one per side), with the balance after,
--              indexed by account for statements (borsellino gets
--              per-account history from back pointers in its records).
-- No foreign keys: the transfer function locks and checks both accounts
-- itself, so they would only repeat that work.
--
-- accounts has fillfactor 50 so that balance updates stay HOT (heap-only
-- tuples: no index insert per update), which is how one tunes such a
-- table; it is rewritten often and small.

DROP TABLE IF EXISTS entries, transfers, accounts CASCADE;

CREATE TABLE accounts (
    id              bigint PRIMARY KEY,
    ledger          integer NOT NULL,
    code            integer NOT NULL,
    flags           integer NOT NULL DEFAULT 0,
    debits_pending  bigint NOT NULL DEFAULT 0,
    debits_posted   bigint NOT NULL DEFAULT 0,
    credits_pending bigint NOT NULL DEFAULT 0,
    credits_posted  bigint NOT NULL DEFAULT 0
) WITH (fillfactor = 50);

CREATE TABLE transfers (
    id                uuid PRIMARY KEY,
    debit_account_id  bigint NOT NULL,
    credit_account_id bigint NOT NULL,
    amount            bigint NOT NULL,
    ledger            integer NOT NULL,
    code              integer NOT NULL,
    flags             integer NOT NULL,      -- 2 = pending, 4 = post_pending
    pending_id        uuid,
    status            smallint NOT NULL,     -- 0 posted, 1 pending, 2 pending posted, 3 failed
    result            integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE entries (
    transfer_id   uuid NOT NULL,
    account_id    bigint NOT NULL,
    amount        bigint NOT NULL,            -- negative on the debit side
    pending       boolean NOT NULL,
    balance_after bigint NOT NULL             -- posted credits - posted debits after it
);
CREATE INDEX entries_account ON entries (account_id);
