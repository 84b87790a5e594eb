-- pg_welfare.sql — the welfare purchase of the PostgreSQL opponent
-- (bench/compare), on the tables of pg_schema.sql plus its own. The same
-- shape as `borsellino bench-welfare`: one company plan, employees with one
-- pot each (€1,000 granted), 20 providers with a 3% fee, purchases of
-- €0.01–1.00, one in five in a fringe category (cap check per employee and
-- year). A purchase is one chain: pot → provider payable (amount), then
-- payable → platform fees (fee), two transfers and four entries, the
-- purchase row being its idempotency record.
-- A refund (refund(), `borsellino bench-welfare --refund-permille`) is the
-- chain backwards, as welfare_refund in ledger/welfare_refund.c: platform
-- fees → provider payable (the fee share), then payable → pot (the
-- amount), two transfers and four entries, the refund row being its
-- idempotency record; a fringe purchase's refund gives its amount back to
-- the cap of the purchase's year.
--
-- Welfare result codes (beyond pg_transfer.sql's): 101 unknown employee,
-- 102 unknown provider, 103 category not allowed, 104 fringe cap reached,
-- 61 insufficient credit in the pot; for refunds 105 unknown purchase,
-- 106 refund above the purchase (less what was already refunded: a second
-- whole refund), 107 the provider's payable (or the platform's fees) does
-- not cover the refund, 20/50 the refund id exists (with the same or with
-- other fields).

DROP TABLE IF EXISTS refunds, purchases, fringe_usage, employees, providers, plans CASCADE;

CREATE TABLE plans (
    id                integer PRIMARY KEY,
    categories        integer[] NOT NULL,    -- allowed spending categories
    fringe_categories integer[] NOT NULL     -- of those, fringe benefits (cap)
);

CREATE TABLE employees (
    id          bigint PRIMARY KEY,
    plan_id     integer NOT NULL,
    pot_account bigint NOT NULL,
    fringe_cap  bigint NOT NULL              -- per fiscal year, cents
);

CREATE TABLE providers (
    id              integer PRIMARY KEY,
    payable_account bigint NOT NULL,
    fee_account     bigint NOT NULL,
    fee_bps         integer NOT NULL,
    categories      integer[] NOT NULL
);

CREATE TABLE fringe_usage (
    employee_id bigint NOT NULL,
    year        integer NOT NULL,
    used        bigint NOT NULL,
    PRIMARY KEY (employee_id, year)
);

CREATE TABLE purchases (
    id          uuid PRIMARY KEY,
    employee_id bigint NOT NULL,
    provider_id integer NOT NULL,
    category    integer NOT NULL,
    amount      bigint NOT NULL,
    fee         bigint NOT NULL,
    result      integer NOT NULL,
    year        integer NOT NULL,            -- fiscal year (the cap it counts in)
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- One row per refund, its id the idempotency key; fee is the fee share
-- returned with it. Indexed by purchase: what was already refunded.
CREATE TABLE refunds (
    id          uuid PRIMARY KEY,
    purchase_id uuid NOT NULL,
    amount      bigint NOT NULL,
    fee         bigint NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX refunds_purchase ON refunds (purchase_id);

-- Moves amount from debit to credit inside a purchase (both accounts are
-- already locked by the caller): one transfer, two entries, two balances.
CREATE OR REPLACE FUNCTION welfare_leg(p_debit bigint, p_credit bigint, p_amount bigint,
                                       p_code integer)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    leg_id uuid := bench_id(0);
    d_balance bigint;
    c_balance bigint;
BEGIN
    INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, ledger, code,
                           flags, status)
    VALUES (leg_id, p_debit, p_credit, p_amount, 978, p_code, 0, 0);
    UPDATE accounts SET debits_posted = debits_posted + p_amount WHERE id = p_debit
        RETURNING credits_posted - debits_posted INTO d_balance;
    UPDATE accounts SET credits_posted = credits_posted + p_amount WHERE id = p_credit
        RETURNING credits_posted - debits_posted INTO c_balance;
    INSERT INTO entries (transfer_id, account_id, amount, pending, balance_after) VALUES
        (leg_id, p_debit, -p_amount, false, d_balance),
        (leg_id, p_credit, p_amount, false, c_balance);
END $$;

CREATE OR REPLACE FUNCTION purchase(p_id uuid, p_employee bigint, p_provider integer,
                                    p_category integer, p_amount bigint,
                                    p_year integer DEFAULT 2026)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    e employees%ROWTYPE;
    pl plans%ROWTYPE;
    pr providers%ROWTYPE;
    pot accounts%ROWTYPE;
    fee bigint;
BEGIN
    PERFORM 1 FROM purchases WHERE id = p_id;
    IF FOUND THEN RETURN 20; END IF;
    SELECT * INTO e FROM employees WHERE id = p_employee;
    IF NOT FOUND THEN RETURN 101; END IF;
    SELECT * INTO pl FROM plans WHERE id = e.plan_id;
    SELECT * INTO pr FROM providers WHERE id = p_provider;
    IF NOT FOUND THEN RETURN 102; END IF;
    IF NOT (p_category = ANY (pl.categories)) OR NOT (p_category = ANY (pr.categories)) THEN
        RETURN 103;
    END IF;
    IF p_amount <= 0 THEN RETURN 31; END IF;
    -- The three accounts, in id order.
    PERFORM 1 FROM accounts WHERE id IN (e.pot_account, pr.payable_account, pr.fee_account)
      ORDER BY id FOR UPDATE;
    SELECT * INTO pot FROM accounts WHERE id = e.pot_account;
    IF pot.debits_pending + pot.debits_posted + p_amount > pot.credits_posted THEN
        RETURN 61;
    END IF;
    IF p_category = ANY (pl.fringe_categories) THEN
        -- The cap is a cliff: a purchase that would cross it is refused.
        IF p_amount > e.fringe_cap THEN RETURN 104; END IF;
        INSERT INTO fringe_usage AS u (employee_id, year, used) VALUES (p_employee, p_year, p_amount)
        ON CONFLICT (employee_id, year) DO UPDATE SET used = u.used + EXCLUDED.used
            WHERE u.used + EXCLUDED.used <= e.fringe_cap;
        IF NOT FOUND THEN RETURN 104; END IF;
    END IF;
    fee := p_amount * pr.fee_bps / 10000;
    INSERT INTO purchases (id, employee_id, provider_id, category, amount, fee, result, year)
    VALUES (p_id, p_employee, p_provider, p_category, p_amount, fee, 0, p_year);
    PERFORM welfare_leg(e.pot_account, pr.payable_account, p_amount, 7);
    IF fee > 0 THEN
        PERFORM welfare_leg(pr.payable_account, pr.fee_account, fee, 8);
    END IF;
    RETURN 0;
END $$;

-- The batched variant: every account of the batch locked first, in id
-- order, then each purchase in order with its own result.
CREATE OR REPLACE FUNCTION purchase_batch(p_ids uuid[], p_employees bigint[], p_providers integer[],
                                          p_categories integer[], p_amounts bigint[])
RETURNS integer[] LANGUAGE plpgsql AS $$
DECLARE
    results integer[] := '{}';
BEGIN
    PERFORM 1 FROM accounts
     WHERE id IN (SELECT pot_account FROM employees WHERE id = ANY (p_employees)
                  UNION SELECT payable_account FROM providers WHERE id = ANY (p_providers)
                  UNION SELECT fee_account FROM providers WHERE id = ANY (p_providers))
     ORDER BY id FOR UPDATE;
    FOR i IN 1 .. coalesce(array_length(p_ids, 1), 0) LOOP
        results := results || purchase(p_ids[i], p_employees[i], p_providers[i], p_categories[i],
                                       p_amounts[i]);
    END LOOP;
    RETURN results;
END $$;

-- refund(id, purchase_id, amount) — gives back `amount` of a purchase
-- (the benchmark refunds whole: amount = the purchase's), as
-- welfare_refund does:
--   1. idempotency: an existing refund id answers 20 (the same purchase and
--      amount) or 50 (other fields) and changes nothing; a refused refund
--      is not recorded, as a refused purchase is not;
--   2. locks the purchase's three accounts in id order, as purchase() does
--      (the same three: pot, platform fees, provider payable), so that
--      purchases and refunds cannot deadlock; holding the pot's lock, it is
--      the only operation on that employee's purchases and fringe usage,
--      so what was already refunded is read after the lock;
--   3. refuses more than was purchased less what was already refunded
--      (106: a second whole refund), and an overdraft of the payable or of
--      the platform's fees on accounts flagged so (107);
--   4. the fee share returned is floor(fee × (refunded + amount) / purchase
--      amount) less what earlier refunds returned, so a whole refund returns
--      the whole fee; fees → payable (code 6), then payable → pot (code 5),
--      borsellino's posting codes (ledger/welfare.h); a fringe purchase's
--      refund takes its amount off the fringe usage of the purchase's year.
-- A pot here never expires and is never closed, so the refunded credit
-- always lands in the pot it came from (borsellino would follow the plan's
-- expiry policy for an ended plan or an offboarded employee).
CREATE OR REPLACE FUNCTION refund(p_id uuid, p_purchase uuid, p_amount bigint)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    r refunds%ROWTYPE;
    pu purchases%ROWTYPE;
    e employees%ROWTYPE;
    pl plans%ROWTYPE;
    pr providers%ROWTYPE;
    payable accounts%ROWTYPE;
    fees accounts%ROWTYPE;
    refunded bigint;
    fee_refunded bigint;
    fee_back bigint;
BEGIN
    IF p_amount IS NULL OR p_amount <= 0 THEN RETURN 31; END IF;   -- checked first, as refund_begin
    SELECT * INTO r FROM refunds WHERE id = p_id;
    IF FOUND THEN
        IF r.purchase_id = p_purchase AND r.amount = p_amount THEN RETURN 20; END IF;
        RETURN 50;
    END IF;
    SELECT * INTO pu FROM purchases WHERE id = p_purchase;
    IF NOT FOUND THEN RETURN 105; END IF;
    SELECT * INTO e FROM employees WHERE id = pu.employee_id;
    SELECT * INTO pl FROM plans WHERE id = e.plan_id;
    SELECT * INTO pr FROM providers WHERE id = pu.provider_id;
    -- The three accounts, in id order (as purchase()).
    PERFORM 1 FROM accounts WHERE id IN (e.pot_account, pr.payable_account, pr.fee_account)
      ORDER BY id FOR UPDATE;
    SELECT coalesce(sum(amount), 0), coalesce(sum(fee), 0) INTO refunded, fee_refunded
      FROM refunds WHERE purchase_id = p_purchase;
    IF p_amount > pu.amount - refunded THEN RETURN 106; END IF;
    fee_back := pu.fee * (refunded + p_amount) / pu.amount - fee_refunded;
    SELECT * INTO fees FROM accounts WHERE id = pr.fee_account;
    SELECT * INTO payable FROM accounts WHERE id = pr.payable_account;
    IF ((fees.flags & 2) <> 0
        AND fees.debits_pending + fees.debits_posted + fee_back > fees.credits_posted)
       OR ((payable.flags & 2) <> 0
        AND payable.debits_pending + payable.debits_posted + p_amount
            > payable.credits_posted + fee_back) THEN
        RETURN 107;
    END IF;
    INSERT INTO refunds (id, purchase_id, amount, fee) VALUES (p_id, p_purchase, p_amount, fee_back)
    ON CONFLICT (id) DO NOTHING;
    IF NOT FOUND THEN RETURN 20; END IF;   -- the same id, committed meanwhile
    IF fee_back > 0 THEN
        PERFORM welfare_leg(pr.fee_account, pr.payable_account, fee_back, 6);
    END IF;
    PERFORM welfare_leg(pr.payable_account, e.pot_account, p_amount, 5);
    IF pu.category = ANY (pl.fringe_categories) THEN
        UPDATE fringe_usage SET used = used - p_amount
         WHERE employee_id = pu.employee_id AND year = pu.year;
    END IF;
    RETURN 0;
END $$;

-- ---- setup and load generator ----

-- Account ids: bank 30,000,000, company funds 30,000,001, platform fees
-- 30,000,002, provider payables 30,000,101.., employee pots 20,000,001..
CREATE OR REPLACE FUNCTION bench_welfare_setup(p_employees bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    granted bigint := 100000;               -- €1,000 per pot
    total bigint := granted * p_employees;
BEGIN
    -- From scratch, so that it can be run again (bench/compare does, before
    -- the refund mix); the transfers and entries are truncated by the caller.
    TRUNCATE refunds, purchases, fringe_usage, employees, providers, plans;
    DELETE FROM accounts WHERE id >= 20000000;
    INSERT INTO plans VALUES (1, '{7,9}', '{9}');
    INSERT INTO accounts (id, ledger, code, flags, debits_posted, credits_posted) VALUES
        (30000000, 978, 10, 0, total, 0),                 -- bank: funded the company
        (30000001, 978, 11, 2, total, total),             -- company funds: granted it all
        (30000002, 978, 12, 2, 0, 0);                     -- platform fees
    INSERT INTO accounts (id, ledger, code, flags)
        SELECT 30000100 + g, 978, 13, 2 FROM generate_series(1, 20) g;
    INSERT INTO providers SELECT g, 30000100 + g, 30000002, 300, '{7,9}' FROM generate_series(1, 20) g;
    INSERT INTO accounts (id, ledger, code, flags, credits_posted)
        SELECT 20000000 + g, 978, 14, 2, granted FROM generate_series(1, p_employees) g;
    INSERT INTO employees SELECT g, 1, 20000000 + g, 100000 FROM generate_series(1, p_employees) g;
END $$;

-- n purchases drawn as bench_welfare_net.c draws them: employee uniform,
-- provider uniform over 20, category 9 (fringe) one time in five else 7,
-- amount 1..100 cents; applied by purchase_batch; raises if any failed.
CREATE OR REPLACE FUNCTION bench_purchase_batch(n integer, p_employees bigint)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    ids uuid[];
    employees_drawn bigint[];
    providers_drawn integer[];
    categories integer[];
    amounts bigint[];
    results integer[];
BEGIN
    SELECT array_agg(bench_id(0)), array_agg(1 + floor(random() * p_employees)::bigint),
           array_agg(1 + floor(random() * 20)::integer),
           array_agg(CASE WHEN random() < 0.2 THEN 9 ELSE 7 END),
           array_agg(1 + floor(random() * 100)::bigint)
      INTO ids, employees_drawn, providers_drawn, categories, amounts
      FROM generate_series(1, n);
    results := purchase_batch(ids, employees_drawn, providers_drawn, categories, amounts);
    IF EXISTS (SELECT 1 FROM unnest(results) r WHERE r <> 0) THEN
        RAISE EXCEPTION 'bench: a purchase failed: %', results;
    END IF;
    RETURN n;
END $$;

-- One purchase with a fresh id, drawn by the caller (pg_refund_mix.pgbench);
-- raises if refused, returns the id (for a refund).
CREATE OR REPLACE FUNCTION bench_purchase(p_employee bigint, p_provider integer, p_category integer,
                                          p_amount bigint)
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    new_id uuid := bench_id(0);
    result integer;
BEGIN
    result := purchase(new_id, p_employee, p_provider, p_category, p_amount);
    IF result <> 0 THEN RAISE EXCEPTION 'bench: a purchase failed: %', result; END IF;
    RETURN new_id;
END $$;

-- The refund mix, batched: n purchases drawn and applied as
-- bench_purchase_batch does, then, in the same call and commit, the whole
-- refunds of p_permille in 1,000 of them, spaced as bench_welfare_net.c
-- spaces them: the client's k-th purchase (k = p_done + i, p_done being
-- the purchases the client made before this call) is refunded when
-- floor(k × p_permille / 1000) steps up, one refund() call each with its
-- own id and result. Every account a refund touches is one of the batch's,
-- already locked in id order. Raises if any purchase or refund failed;
-- returns n (the purchases: refunds are not counted, as bench-welfare
-- counts purchases/s).
CREATE OR REPLACE FUNCTION bench_purchase_refund_batch(n integer, p_employees bigint,
                                                       p_permille integer, p_done bigint)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    ids uuid[];
    employees_drawn bigint[];
    providers_drawn integer[];
    categories integer[];
    amounts bigint[];
    results integer[];
    k bigint;
    result integer;
BEGIN
    SELECT array_agg(bench_id(0)), array_agg(1 + floor(random() * p_employees)::bigint),
           array_agg(1 + floor(random() * 20)::integer),
           array_agg(CASE WHEN random() < 0.2 THEN 9 ELSE 7 END),
           array_agg(1 + floor(random() * 100)::bigint)
      INTO ids, employees_drawn, providers_drawn, categories, amounts
      FROM generate_series(1, n);
    results := purchase_batch(ids, employees_drawn, providers_drawn, categories, amounts);
    IF EXISTS (SELECT 1 FROM unnest(results) r WHERE r <> 0) THEN
        RAISE EXCEPTION 'bench: a purchase failed: %', results;
    END IF;
    FOR i IN 1 .. n LOOP
        k := p_done + i;
        IF k * p_permille / 1000 > (k - 1) * p_permille / 1000 THEN
            result := refund(bench_id(0), ids[i], amounts[i]);
            IF result <> 0 THEN RAISE EXCEPTION 'bench: a refund failed: %', result; END IF;
        END IF;
    END LOOP;
    RETURN n;
END $$;

-- The welfare books after bench_welfare_setup and any purchases and
-- refunds: the rows that do not reconcile (none when all is well).
--   every pot: granted − Σ purchases + Σ refunds = its balance;
--   every provider: sales − refunds − (fees − fees returned) = payable;
--   the platform: fees − fees returned = its fees account;
--   every fringe usage: Σ fringe purchases − Σ their refunds;
--   every refund: of an existing purchase, Σ ≤ the purchase, and the fees
--   returned = floor(fee × refunded / amount);
--   every welfare transfer: its two entries sum to zero, and every
--   account's entries sum to its balance change since the setup.
CREATE OR REPLACE FUNCTION bench_welfare_check()
RETURNS TABLE (what text, key text, expected bigint, actual bigint)
LANGUAGE sql STABLE AS $$
    WITH p AS (
        SELECT pu.*, coalesce(r.amount, 0) AS refunded, coalesce(r.fee, 0) AS fee_refunded
          FROM purchases pu
          LEFT JOIN (SELECT purchase_id, sum(amount) AS amount, sum(fee) AS fee
                       FROM refunds GROUP BY purchase_id) r ON r.purchase_id = pu.id
    ), pots AS (
        SELECT e.id, e.pot_account, 100000 - coalesce(sum(p.amount - p.refunded), 0) AS expected
          FROM employees e LEFT JOIN p ON p.employee_id = e.id
         GROUP BY e.id, e.pot_account
    )
    SELECT 'pot balance', pots.id::text, pots.expected, a.credits_posted - a.debits_posted
      FROM pots JOIN accounts a ON a.id = pots.pot_account
     WHERE pots.expected <> a.credits_posted - a.debits_posted
    UNION ALL
    SELECT 'provider payable', pr.id::text,
           coalesce((SELECT sum(amount - refunded - (fee - fee_refunded)) FROM p
                      WHERE p.provider_id = pr.id), 0),
           a.credits_posted - a.debits_posted
      FROM providers pr JOIN accounts a ON a.id = pr.payable_account
     WHERE coalesce((SELECT sum(amount - refunded - (fee - fee_refunded)) FROM p
                      WHERE p.provider_id = pr.id), 0) <> a.credits_posted - a.debits_posted
    UNION ALL
    SELECT 'platform fees', a.id::text, coalesce((SELECT sum(fee - fee_refunded) FROM p), 0),
           a.credits_posted - a.debits_posted
      FROM accounts a WHERE a.id = 30000002
       AND coalesce((SELECT sum(fee - fee_refunded) FROM p), 0) <> a.credits_posted - a.debits_posted
    UNION ALL
    SELECT 'fringe usage', coalesce(u.employee_id, f.employee_id)::text || '/' ||
           coalesce(u.year, f.year)::text, coalesce(f.used, 0), coalesce(u.used, 0)
      FROM fringe_usage u
      FULL JOIN (SELECT p.employee_id, p.year, sum(p.amount - p.refunded) AS used
                   FROM p JOIN employees e ON e.id = p.employee_id
                   JOIN plans pl ON pl.id = e.plan_id
                  WHERE p.category = ANY (pl.fringe_categories)
                  GROUP BY p.employee_id, p.year) f
        ON f.employee_id = u.employee_id AND f.year = u.year
     WHERE coalesce(f.used, 0) <> coalesce(u.used, 0)
    UNION ALL
    SELECT 'refund of no purchase', r.id::text, 0, r.amount
      FROM refunds r WHERE NOT EXISTS (SELECT 1 FROM purchases pu WHERE pu.id = r.purchase_id)
    UNION ALL
    SELECT 'refunded above the purchase', p.id::text, p.amount, p.refunded
      FROM p WHERE p.refunded > p.amount
    UNION ALL
    SELECT 'fee returned', p.id::text, p.fee * p.refunded / p.amount, p.fee_refunded
      FROM p WHERE p.fee_refunded <> p.fee * p.refunded / p.amount
    UNION ALL
    SELECT 'transfer entries', t.id::text, 0, coalesce(sum(en.amount), 0)
      FROM transfers t LEFT JOIN entries en ON en.transfer_id = t.id
     WHERE t.code IN (5, 6, 7, 8)
     GROUP BY t.id HAVING coalesce(sum(en.amount), 0) <> 0 OR count(en.*) <> 2
    UNION ALL
    SELECT 'account entries', a.id::text, a.credits_posted - a.debits_posted - s.start,
           coalesce(en.sum, 0)
      FROM accounts a
      JOIN (SELECT pot_account AS id, 100000::bigint AS start FROM employees
            UNION ALL SELECT payable_account, 0 FROM providers
            UNION ALL SELECT 30000002, 0) s ON s.id = a.id
      LEFT JOIN (SELECT account_id, sum(amount) AS sum FROM entries GROUP BY account_id) en
        ON en.account_id = a.id
     WHERE a.credits_posted - a.debits_posted - s.start <> coalesce(en.sum, 0)
$$;
