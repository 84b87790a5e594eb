-- pg_transfer.sql — the transfer functions of the PostgreSQL opponent
-- (bench/compare). Result codes are borsellino's (ledger/ledger.h) where
-- one applies: 0 ok, 20 exists, 50 exists with different fields, 25
-- accounts must be different, 31 amount must not be zero, 33/34 debit/
-- credit account not found, 37 pending transfer not found, 38 pending
-- transfer not pending, 61/62 exceeds credits/debits.
--
-- transfer(id, debit, credit, amount [, flags]) — one transfer, single
--   phase (flags 0) or pending (flags 2):
--   1. idempotency: an existing id answers exists (or exists with
--      different fields, or its old failure) and changes nothing;
--   2. locks both accounts in a fixed order, lower id first (SELECT ...
--      FOR UPDATE), so that two transfers over the same pair can never
--      deadlock;
--   3. refuses an overdraft on accounts flagged so; the failure is
--      recorded under the id, so that the id stays failed;
--   4. inserts the transfer, its two entries, and updates both balances.
-- post_pending(id, pending_id) — posts a pending transfer in full.
-- transfer_batch(ids[], debits[], credits[], amounts[] [, flags]) and
-- post_batch(ids[], pending_ids[]) — the batched variants: one call, one
--   commit; they first lock every account the batch touches in id order
--   (so concurrent batches cannot deadlock either), then apply each event
--   in order with the single-event function, each with its own result.
-- bench_* — the load generators pgbench calls (ids, accounts, amounts
--   drawn as borsellino bench draws them; see the pgbench scripts).

CREATE OR REPLACE FUNCTION transfer(p_id uuid, p_debit bigint, p_credit bigint,
                                    p_amount bigint, p_flags integer DEFAULT 0,
                                    p_ledger integer DEFAULT 978, p_code integer DEFAULT 1)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    t transfers%ROWTYPE;
    d accounts%ROWTYPE;
    c accounts%ROWTYPE;
    pending boolean := (p_flags & 2) <> 0;
    failure integer := 0;
BEGIN
    SELECT * INTO t FROM transfers WHERE id = p_id;
    IF FOUND THEN
        IF t.result <> 0 THEN RETURN t.result; END IF;
        IF t.debit_account_id = p_debit AND t.credit_account_id = p_credit
           AND t.amount = p_amount AND t.flags = p_flags THEN
            RETURN 20;
        END IF;
        RETURN 50;
    END IF;
    IF p_debit = p_credit THEN RETURN 25; END IF;
    IF p_amount <= 0 THEN RETURN 31; END IF;
    IF p_debit < p_credit THEN
        SELECT * INTO d FROM accounts WHERE id = p_debit FOR UPDATE;
        SELECT * INTO c FROM accounts WHERE id = p_credit FOR UPDATE;
    ELSE
        SELECT * INTO c FROM accounts WHERE id = p_credit FOR UPDATE;
        SELECT * INTO d FROM accounts WHERE id = p_debit FOR UPDATE;
    END IF;
    IF d.id IS NULL THEN RETURN 33; END IF;
    IF c.id IS NULL THEN RETURN 34; END IF;
    IF (d.flags & 2) <> 0
       AND d.debits_pending + d.debits_posted + p_amount > d.credits_posted THEN
        failure := 61;
    ELSIF (c.flags & 4) <> 0
       AND c.credits_pending + c.credits_posted + p_amount > c.debits_posted THEN
        failure := 62;
    END IF;
    INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, ledger, code,
                           flags, status, result)
    VALUES (p_id, p_debit, p_credit, p_amount, p_ledger, p_code, p_flags,
            CASE WHEN failure <> 0 THEN 3 WHEN pending THEN 1 ELSE 0 END, failure)
    ON CONFLICT (id) DO NOTHING;
    IF NOT FOUND THEN RETURN 20; END IF;   -- the same id, committed meanwhile
    IF failure <> 0 THEN RETURN failure; END IF;
    IF pending THEN
        UPDATE accounts SET debits_pending = debits_pending + p_amount WHERE id = p_debit;
        UPDATE accounts SET credits_pending = credits_pending + p_amount WHERE id = p_credit;
    ELSE
        UPDATE accounts SET debits_posted = debits_posted + p_amount WHERE id = p_debit;
        UPDATE accounts SET credits_posted = credits_posted + p_amount WHERE id = p_credit;
        d.debits_posted := d.debits_posted + p_amount;
        c.credits_posted := c.credits_posted + p_amount;
    END IF;
    INSERT INTO entries (transfer_id, account_id, amount, pending, balance_after) VALUES
        (p_id, p_debit, -p_amount, pending, d.credits_posted - d.debits_posted),
        (p_id, p_credit, p_amount, pending, c.credits_posted - c.debits_posted);
    RETURN 0;
END $$;

CREATE OR REPLACE FUNCTION post_pending(p_id uuid, p_pending_id uuid)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    t transfers%ROWTYPE;
    p transfers%ROWTYPE;
    d accounts%ROWTYPE;
    c accounts%ROWTYPE;
BEGIN
    SELECT * INTO t FROM transfers WHERE id = p_id;
    IF FOUND THEN
        IF t.result <> 0 THEN RETURN t.result; END IF;
        IF t.pending_id = p_pending_id AND t.flags = 4 THEN RETURN 20; END IF;
        RETURN 50;
    END IF;
    SELECT * INTO p FROM transfers WHERE id = p_pending_id FOR UPDATE;
    IF NOT FOUND THEN RETURN 37; END IF;
    IF p.status <> 1 THEN RETURN 38; END IF;
    IF p.debit_account_id < p.credit_account_id THEN
        SELECT * INTO d FROM accounts WHERE id = p.debit_account_id FOR UPDATE;
        SELECT * INTO c FROM accounts WHERE id = p.credit_account_id FOR UPDATE;
    ELSE
        SELECT * INTO c FROM accounts WHERE id = p.credit_account_id FOR UPDATE;
        SELECT * INTO d FROM accounts WHERE id = p.debit_account_id FOR UPDATE;
    END IF;
    INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, ledger, code,
                           flags, pending_id, status)
    VALUES (p_id, p.debit_account_id, p.credit_account_id, p.amount, p.ledger, p.code, 4,
            p_pending_id, 0)
    ON CONFLICT (id) DO NOTHING;
    IF NOT FOUND THEN RETURN 20; END IF;
    UPDATE transfers SET status = 2 WHERE id = p_pending_id;
    UPDATE accounts SET debits_pending = debits_pending - p.amount,
                        debits_posted = debits_posted + p.amount WHERE id = p.debit_account_id;
    UPDATE accounts SET credits_pending = credits_pending - p.amount,
                        credits_posted = credits_posted + p.amount WHERE id = p.credit_account_id;
    INSERT INTO entries (transfer_id, account_id, amount, pending, balance_after) VALUES
        (p_id, p.debit_account_id, -p.amount, false,
         d.credits_posted - d.debits_posted - p.amount),
        (p_id, p.credit_account_id, p.amount, false,
         c.credits_posted + p.amount - c.debits_posted);
    RETURN 0;
END $$;

CREATE OR REPLACE FUNCTION transfer_batch(p_ids uuid[], p_debits bigint[], p_credits bigint[],
                                          p_amounts bigint[], p_flags integer DEFAULT 0)
RETURNS integer[] LANGUAGE plpgsql AS $$
DECLARE
    results integer[] := '{}';
BEGIN
    PERFORM 1 FROM accounts WHERE id = ANY (p_debits || p_credits) ORDER BY id FOR UPDATE;
    FOR i IN 1 .. coalesce(array_length(p_ids, 1), 0) LOOP
        results := results || transfer(p_ids[i], p_debits[i], p_credits[i], p_amounts[i], p_flags);
    END LOOP;
    RETURN results;
END $$;

CREATE OR REPLACE FUNCTION post_batch(p_ids uuid[], p_pending_ids uuid[])
RETURNS integer[] LANGUAGE plpgsql AS $$
DECLARE
    results integer[] := '{}';
BEGIN
    PERFORM 1 FROM accounts
     WHERE id IN (SELECT debit_account_id FROM transfers WHERE id = ANY (p_pending_ids)
                  UNION SELECT credit_account_id FROM transfers WHERE id = ANY (p_pending_ids))
     ORDER BY id FOR UPDATE;
    FOR i IN 1 .. coalesce(array_length(p_ids, 1), 0) LOOP
        results := results || post_pending(p_ids[i], p_pending_ids[i]);
    END LOOP;
    RETURN results;
END $$;

-- ---- load generators (pgbench calls these) ----

-- A transfer id: time-ordered (48-bit milliseconds + 80 random bits, like
-- ledger_id_time_ordered(); microseconds here, to keep them ordered under
-- concurrency) or random (version 4).
CREATE OR REPLACE FUNCTION bench_id(p_random integer) RETURNS uuid
LANGUAGE sql VOLATILE AS $$
    SELECT CASE WHEN p_random <> 0 THEN gen_random_uuid()
           ELSE (lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000000)::bigint), 16, '0')
                 || lpad(to_hex((random() * 9.2e18)::bigint), 16, '0'))::uuid END
$$;

-- n transfers drawn as borsellino bench draws them: debit uniform over
-- 1..p_accounts, credit uniform over the others; with probability
-- hot_ppm / 1e6 (and neither side already account 1) one side, either,
-- becomes the hot account 1; amounts 1..1000.
CREATE OR REPLACE FUNCTION bench_draw(n integer, p_accounts bigint, hot_ppm integer, random_ids integer,
                                      OUT ids uuid[], OUT debits bigint[], OUT credits bigint[],
                                      OUT amounts bigint[])
LANGUAGE sql VOLATILE AS $$
    WITH drawn AS (
        SELECT g, d, CASE WHEN c0 >= d THEN c0 + 1 ELSE c0 END AS c,
               random() * 1e6 < hot_ppm AS hot, random() < 0.5 AS hot_debit
          FROM (SELECT g, 1 + floor(random() * p_accounts)::bigint AS d,
                       1 + floor(random() * (p_accounts - 1))::bigint AS c0
                  FROM generate_series(1, n) g) s
    ), placed AS (
        SELECT g,
               CASE WHEN hot AND d <> 1 AND c <> 1 AND hot_debit THEN 1 ELSE d END AS d,
               CASE WHEN hot AND d <> 1 AND c <> 1 AND NOT hot_debit THEN 1 ELSE c END AS c
          FROM drawn
    )
    SELECT array_agg(bench_id(random_ids) ORDER BY g), array_agg(d ORDER BY g),
           array_agg(c ORDER BY g), array_agg(1 + floor(random() * 1000)::bigint ORDER BY g)
      FROM placed
$$;

-- A batch of n new transfers (flags 0, or 2 for pending); returns the ids
-- of those that succeeded (for post_batch), and raises if any failed.
CREATE OR REPLACE FUNCTION bench_transfer_batch(n integer, p_accounts bigint, hot_ppm integer,
                                                random_ids integer, p_flags integer DEFAULT 0)
RETURNS uuid[] LANGUAGE plpgsql AS $$
DECLARE
    b record;
    results integer[];
BEGIN
    b := bench_draw(n, p_accounts, hot_ppm, random_ids);
    results := transfer_batch(b.ids, b.debits, b.credits, b.amounts, p_flags);
    IF EXISTS (SELECT 1 FROM unnest(results) r WHERE r <> 0) THEN
        RAISE EXCEPTION 'bench: a transfer failed: %', results;
    END IF;
    RETURN b.ids;
END $$;

-- Posts every pending transfer of p_pending_ids, with fresh ids.
CREATE OR REPLACE FUNCTION bench_post_batch(p_pending_ids uuid[], random_ids integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    ids uuid[];
    results integer[];
BEGIN
    SELECT array_agg(bench_id(random_ids)) INTO ids FROM unnest(p_pending_ids);
    results := post_batch(ids, p_pending_ids);
    IF EXISTS (SELECT 1 FROM unnest(results) r WHERE r <> 0) THEN
        RAISE EXCEPTION 'bench: a post failed: %', results;
    END IF;
    RETURN array_length(results, 1);
END $$;

-- One pending transfer with a fresh id; returns the id (for post_pending).
CREATE OR REPLACE FUNCTION bench_pending(random_ids integer, p_debit bigint, p_credit bigint,
                                         p_amount bigint)
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    new_id uuid := bench_id(random_ids);
    result integer;
BEGIN
    result := transfer(new_id, p_debit, p_credit, p_amount, 2);
    IF result <> 0 THEN RAISE EXCEPTION 'bench: pending transfer failed: %', result; END IF;
    RETURN new_id;
END $$;

-- Loads accounts first..last (ledger 978, code 1, no flags: as borsellino
-- bench creates them).
CREATE OR REPLACE FUNCTION bench_load_accounts(first bigint, last bigint)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO accounts (id, ledger, code) SELECT g, 978, 1 FROM generate_series(first, last) g
    ON CONFLICT (id) DO NOTHING
$$;

-- Raises unless the result is ok: pgbench scripts wrap single calls in it,
-- so that a refused transfer stops the run instead of counting.
CREATE OR REPLACE FUNCTION bench_ok(result integer) RETURNS integer
LANGUAGE plpgsql AS $$
BEGIN
    IF result <> 0 THEN RAISE EXCEPTION 'bench: refused with result %', result; END IF;
    RETURN result;
END $$;
