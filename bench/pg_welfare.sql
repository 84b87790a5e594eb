-- pg_welfare.sql — the welfare purchase of the PostgreSQL opponent
-- (bench/compare), on the tables of pg_schema.sql plus its own. The same
-- shape as `borsellino bench-welfare`: one company plan, employees with one
-- pot each (€1,000 granted), 20 providers with a 3% fee, purchases of
-- €0.01–1.00, one in five in a fringe category (cap check per employee and
-- year). A purchase is one chain: pot → provider payable (amount), then
-- payable → platform fees (fee), two transfers and four entries, the
-- purchase row being its idempotency record.
--
-- Welfare result codes (beyond pg_transfer.sql's): 101 unknown employee,
-- 102 unknown provider, 103 category not allowed, 104 fringe cap reached,
-- 61 insufficient credit in the pot.

DROP TABLE IF EXISTS purchases, fringe_usage, employees, providers, plans CASCADE;

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
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

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
    INSERT INTO purchases (id, employee_id, provider_id, category, amount, fee, result)
    VALUES (p_id, p_employee, p_provider, p_category, p_amount, fee, 0);
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

-- ---- setup and load generator ----

-- Account ids: bank 30,000,000, company funds 30,000,001, platform fees
-- 30,000,002, provider payables 30,000,101.., employee pots 20,000,001..
CREATE OR REPLACE FUNCTION bench_welfare_setup(p_employees bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    granted bigint := 100000;               -- €1,000 per pot
    total bigint := granted * p_employees;
BEGIN
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
