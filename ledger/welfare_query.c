/*
 * welfare_query.c — wallets, movements and statements. Everything here is
 * computed from the core journal and balances (the postings carry the
 * operation id, category, fiscal year, provider and funder numbers), and
 * from the welfare table only for the registry: a statement is a reading
 * of the audited record, never a separately maintained counter.
 *
 * Reads of the welfare table happen in one read transaction that is ended
 * before core queries (history, balance_at) run, since those open their own.
 */
#include <assert.h>
#include <stdlib.h>

#include "welfare_internal.h"
#include "welfare_pots.h"

bool welfare_is_posting(const journal_record_t *record) {
    return record->kind == RECORD_KIND_TRANSFER && record->ledger == WELFARE_LEDGER &&
           welfare_transfer_id_is(record->id);
}

static uint32_t posting_category(uint64_t user_data_64) { return (uint32_t)(user_data_64 & 0xFF); }
static uint32_t posting_basis(uint64_t user_data_64) { return (uint32_t)((user_data_64 >> 8) & 0xFF); }
static uint32_t posting_year(uint64_t user_data_64) { return (uint32_t)((user_data_64 >> 16) & 0xFFFF); }

bool welfare_posting_spends(const journal_record_t *record) {
    return !(record->flags & (LEDGER_TRANSFER_PENDING | LEDGER_TRANSFER_VOID_PENDING));
}

/* ---- wallet ---- */

int welfare_wallet(ledger_t *ledger, ledger_u128_t employee_id, welfare_wallet_t *wallet_out,
                   bool *found_out) {
    if (ledger == NULL || wallet_out == NULL || found_out == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    memset(wallet_out, 0, sizeof(*wallet_out));
    MDB_txn *txn = NULL;
    int error = ledger_read_begin(ledger, &txn);
    if (error) return error;
    employee_record_t employee;
    employee_pots_t pots;
    pots.count = 0;
    error = store_employee_get(ledger, txn, employee_id, &employee, found_out);
    if (!error && *found_out) error = welfare_pots_load(ledger, txn, &employee, &pots);
    uint64_t granted[WELFARE_POTS_PER_EMPLOYEE_MAX] = {0};
    for (uint32_t i = 0; !error && *found_out && i < pots.count; i++) {
        pot_record_t pot;
        bool found = false;
        error = store_pot_get(ledger, txn, employee_id, pots.pots[i].plan.id, &pot, &found);
        granted[i] = found ? pot.granted : 0;
    }
    ledger_read_end(ledger, txn);
    if (error || !*found_out) return error;
    uint64_t now = ledger->options.clock(ledger->options.clock_context);
    wallet_out->employee_id = employee_id;
    wallet_out->funder_id = employee.funder_id;
    wallet_out->offboarded = employee.offboarded;
    wallet_out->pots_count = pots.count;
    for (uint32_t i = 0; i < pots.count; i++) {
        const pot_candidate_t *pot = &pots.pots[i];
        const ledger_balance_t *balance = &welfare_slot(ledger, pot->account_id)->balance;
        welfare_pot_t *out = &wallet_out->pots[i];
        out->plan_id = pot->plan.id;
        out->account_id = pot->account_id;
        out->held = balance->debits_pending;
        out->balance = balance->credits_posted - balance->debits_posted;
        out->granted = granted[i];
        out->valid_from = pot->plan.valid_from;
        out->valid_until = pot->plan.valid_until;
        out->categories = pot->plan.categories;
        out->expired = now >= pot->plan.valid_until;
        out->closed = pot->closed;
        bool spendable = !out->expired && !out->closed && now >= pot->plan.valid_from;
        out->available = spendable ? pot->available : 0;
    }
    return 0;
}

/* ---- movements ---- */

/* Oldest first; the two movements of one posting: out of a pot first. */
static int movement_compare(const void *a, const void *b) {
    const welfare_movement_t *x = a;
    const welfare_movement_t *y = b;
    if (x->timestamp != y->timestamp) return x->timestamp < y->timestamp ? -1 : 1;
    return (x->amount > y->amount) - (x->amount < y->amount);
}

static void movement_from(const ledger_history_entry_t *entry, ledger_u128_t pot_account,
                          ledger_u128_t plan_id, welfare_movement_t *out) {
    const ledger_transfer_t *transfer = &entry->transfer;
    bool into = ledger_u128_equal(transfer->credit_account_id, pot_account);
    memset(out, 0, sizeof(*out));
    out->timestamp = transfer->timestamp;
    out->operation_id = transfer->user_data_128;
    out->plan_id = plan_id;
    out->posting = transfer->code;
    out->category = posting_category(transfer->user_data_64);
    out->amount = into ? (int64_t)transfer->amount : -(int64_t)transfer->amount;
    bool release = entry->kind == LEDGER_EVENT_EXPIRY ||
                   (transfer->flags & LEDGER_TRANSFER_VOID_PENDING);
    if (release) out->amount = -out->amount; /* a release gives back to the pot */
    out->held = release || (transfer->flags & LEDGER_TRANSFER_PENDING);
    out->pot_balance_after = entry->balance_after.credits_posted - entry->balance_after.debits_posted;
}

/* Appends up to `capacity` movements of one pot to `all`. */
static int pot_movements(ledger_t *ledger, const pot_candidate_t *pot, uint64_t timestamp_min,
                         uint64_t timestamp_max, uint32_t capacity,
                         ledger_history_entry_t *entries, welfare_movement_t *all,
                         uint32_t *count) {
    ledger_history_filter_t filter = {pot->account_id, timestamp_min, timestamp_max, capacity,
                                      LEDGER_HISTORY_DEBITS | LEDGER_HISTORY_CREDITS};
    uint32_t found = 0;
    int error = ledger_account_history(ledger, &filter, entries, &found);
    if (error) return error;
    for (uint32_t i = 0; i < found; i++) {
        movement_from(&entries[i], pot->account_id, pot->plan.id, &all[(*count)++]);
    }
    return 0;
}

/* How many of the `count` sorted movements fit a page of `capacity`
 * without splitting the movements of one timestamp (at most two: one
 * posting between two pots). *more_out: whether some are left out. */
static uint32_t page_cut(const welfare_movement_t *all, uint32_t count, uint32_t capacity,
                         bool *more_out) {
    *more_out = count > capacity;
    if (count <= capacity) return count;
    uint32_t cut = capacity;
    while (cut > 0 && all[cut - 1].timestamp == all[cut].timestamp) cut--;
    assert(cut > 0); /* capacity >= 2 and groups hold at most two */
    return cut;
}

int welfare_movements(ledger_t *ledger, ledger_u128_t employee_id, uint64_t timestamp_min,
                      uint64_t timestamp_max, welfare_movement_t *movements_out,
                      uint32_t capacity, uint32_t *count_out, bool *more_out) {
    if (ledger == NULL || movements_out == NULL || count_out == NULL || more_out == NULL) {
        return LEDGER_ERR_INVALID_ARGUMENT;
    }
    if (capacity < WELFARE_MOVEMENTS_MIN || capacity > WELFARE_MOVEMENTS_MAX) {
        return LEDGER_ERR_INVALID_ARGUMENT;
    }
    *count_out = 0;
    *more_out = false;
    MDB_txn *txn = NULL;
    int error = ledger_read_begin(ledger, &txn);
    if (error) return error;
    employee_record_t employee;
    employee_pots_t pots;
    pots.count = 0;
    bool found = false;
    error = store_employee_get(ledger, txn, employee_id, &employee, &found);
    if (!error && found) error = welfare_pots_load(ledger, txn, &employee, &pots);
    ledger_read_end(ledger, txn);
    if (error) return error;
    if (!found) return LEDGER_ERR_ACCOUNT_NOT_FOUND;
    ledger_history_entry_t *entries = malloc(((size_t)capacity + 1) * sizeof(*entries));
    welfare_movement_t *all = malloc(((size_t)capacity + 1) * (pots.count + 1) * sizeof(*all));
    if (entries == NULL || all == NULL) error = LEDGER_ERR_NO_MEMORY;
    uint32_t count = 0;
    /* Each pot gives up to capacity + 1 movements, so that a cut can see
     * whether more follow. */
    for (uint32_t i = 0; i < pots.count && !error; i++) {
        error = pot_movements(ledger, &pots.pots[i], timestamp_min, timestamp_max, capacity + 1,
                              entries, all, &count);
    }
    if (!error) {
        qsort(all, count, sizeof(*all), movement_compare);
        *count_out = page_cut(all, count, capacity, more_out);
        memcpy(movements_out, all, (size_t)*count_out * sizeof(*all));
    }
    free(entries);
    free(all);
    return error;
}

/* ---- journal scan ---- */

/* The first sequence whose timestamp is >= timestamp_min (timestamps grow
 * with sequences), by binary search. */
static int journal_first_at(ledger_t *ledger, MDB_txn *txn, uint64_t timestamp_min,
                            uint64_t *sequence_out) {
    uint64_t low = 1;
    uint64_t high = ledger->sequence + 1;
    while (low < high) {
        uint64_t middle = low + (high - low) / 2;
        journal_record_t record;
        int error = journal_read(ledger, txn, middle, &record);
        if (error) return error;
        if (record.timestamp < timestamp_min) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    *sequence_out = low;
    return 0;
}

int welfare_journal_scan(ledger_t *ledger, uint64_t timestamp_min, uint64_t timestamp_max,
                         welfare_journal_visit_fn visit, void *context) {
    MDB_txn *txn = NULL;
    int error = ledger_read_begin(ledger, &txn);
    if (error) return error;
    uint64_t sequence = 1;
    if (timestamp_min > 0) error = journal_first_at(ledger, txn, timestamp_min, &sequence);
    for (; !error && sequence <= ledger->sequence; sequence++) {
        journal_record_t record;
        error = journal_read(ledger, txn, sequence, &record);
        if (error) break;
        if (timestamp_max != 0 && record.timestamp > timestamp_max) break;
        if (welfare_is_posting(&record)) visit(context, &record);
    }
    ledger_read_end(ledger, txn);
    return error;
}

/* ---- funder statement ---- */

typedef struct funder_scan {
    uint32_t number;
    welfare_funder_statement_t *statement;
} funder_scan_t;

static void funder_visit(void *context, const journal_record_t *record) {
    funder_scan_t *scan = context;
    if (record->user_data_32 != scan->number) return;
    welfare_funder_statement_t *out = scan->statement;
    uint64_t amount = record->amount;
    switch (record->code) {
    case WELFARE_POSTING_FUND: out->funded += amount; break;
    case WELFARE_POSTING_GRANT: out->granted += amount; break;
    case WELFARE_POSTING_PURCHASE:
        if (welfare_posting_spends(record)) {
            out->spent += amount;
            out->spent_by_category[posting_category(record->user_data_64)] += amount;
        }
        break;
    case WELFARE_POSTING_FEE: out->fees += amount; break;
    case WELFARE_POSTING_FEE_REFUND: out->fees_returned += amount; break;
    case WELFARE_POSTING_REFUND: out->refunded += amount; break;
    case WELFARE_POSTING_REIMBURSEMENT: out->reimbursed += amount; break;
    case WELFARE_POSTING_EXPIRE_BACK: out->expired_back += amount; break;
    case WELFARE_POSTING_FORFEIT: out->forfeited += amount; break;
    case WELFARE_POSTING_CARRY_OVER: out->carried_over += amount; break;
    default: break;
    }
}

/* Balances of an account at the end of the period (now when max is 0). A
 * read-only handle's balances are those of its open, while the registry
 * and the journal are read in fresh snapshots: an account another process
 * created since is unknown to it, and had nothing at the period's end
 * (statement_end clamps the period to the handle's last event). */
static int balance_end(ledger_t *ledger, ledger_u128_t account_id, uint64_t timestamp_max,
                       ledger_balance_t *balance_out) {
    if (timestamp_max == 0) {
        *balance_out = welfare_slot(ledger, account_id)->balance;
        return 0;
    }
    int error = ledger_account_balance_at(ledger, account_id, timestamp_max, balance_out);
    if (error == LEDGER_ERR_ACCOUNT_NOT_FOUND && ledger->options.read_only) {
        memset(balance_out, 0, sizeof(*balance_out));
        return 0;
    }
    return error;
}

/* The end of a statement's period: as given, or for "now" (0) on a
 * read-only handle, its last event, so that flows and balances describe
 * the same state even while another process keeps writing. */
static uint64_t statement_end(const ledger_t *ledger, uint64_t timestamp_max) {
    if (timestamp_max != 0 || !ledger->options.read_only) return timestamp_max;
    return ledger->last_timestamp != 0 ? ledger->last_timestamp : 1;
}

/* Every key under `type` + `id`, in a read transaction of its own. */
static int ids_under(ledger_t *ledger, char type, ledger_u128_t id, store_ids_t *list) {
    MDB_txn *txn = NULL;
    int error = ledger_read_begin(ledger, &txn);
    if (error) return error;
    error = store_ids_under(ledger, txn, type, id, list);
    ledger_read_end(ledger, txn);
    return error;
}

/* One employee's pots (from its record) at the end of the period. */
static int employee_end(ledger_t *ledger, ledger_u128_t employee_id, uint64_t timestamp_max,
                        welfare_employee_balance_t *row) {
    MDB_txn *txn = NULL;
    employee_record_t employee;
    bool found = false;
    int error = ledger_read_begin(ledger, &txn);
    if (error) return error;
    error = store_employee_get(ledger, txn, employee_id, &employee, &found);
    ledger_read_end(ledger, txn);
    if (!error && !found) error = LEDGER_ERR_CORRUPT; /* the funder's index names it */
    row->employee_id = employee_id;
    row->balance = 0;
    row->held = 0;
    for (uint32_t i = 0; !error && i < employee.pots_count; i++) {
        ledger_balance_t balance;
        error = balance_end(ledger, welfare_account_id(WELFARE_ACCOUNT_POT, employee.pots[i].pot_number),
                            timestamp_max, &balance);
        row->balance += balance.credits_posted - balance.debits_posted;
        row->held += balance.debits_pending;
    }
    return error;
}

static bool u128_after(ledger_u128_t a, ledger_u128_t b) {
    return a.hi != b.hi ? a.hi > b.hi : a.lo > b.lo;
}

/* Totals over every employee, and the requested page of rows. */
static int funder_employees(ledger_t *ledger, ledger_u128_t funder_id, uint64_t timestamp_max,
                            welfare_funder_statement_t *out, ledger_u128_t after,
                            welfare_employee_balance_t *rows, uint32_t capacity,
                            uint32_t *rows_count, bool *more) {
    store_ids_t employees;
    int error = ids_under(ledger, 'M', funder_id, &employees);
    for (uint32_t i = 0; i < employees.count && !error; i++) {
        welfare_employee_balance_t row;
        error = employee_end(ledger, employees.ids[i], timestamp_max, &row);
        if (error) break;
        out->pots_balance += row.balance;
        out->held += row.held;
        bool in_page = ledger_u128_is_zero(after) || u128_after(employees.ids[i], after);
        if (!in_page) continue;
        if (*rows_count < capacity) {
            rows[(*rows_count)++] = row;
        } else {
            *more = true;
        }
    }
    store_ids_free(&employees);
    return error;
}

int welfare_funder_statement(ledger_t *ledger, ledger_u128_t funder_id,
                             uint64_t timestamp_min, uint64_t timestamp_max,
                             welfare_funder_statement_t *statement_out,
                             ledger_u128_t employees_after,
                             welfare_employee_balance_t *employees_out, uint32_t capacity,
                             uint32_t *employees_count_out, bool *more_out) {
    if (ledger == NULL || statement_out == NULL || employees_count_out == NULL ||
        more_out == NULL || capacity > WELFARE_STATEMENT_EMPLOYEES_MAX ||
        (capacity > 0 && employees_out == NULL)) {
        return LEDGER_ERR_INVALID_ARGUMENT;
    }
    memset(statement_out, 0, sizeof(*statement_out));
    *employees_count_out = 0;
    *more_out = false;
    timestamp_max = statement_end(ledger, timestamp_max);
    welfare_funder_t funder;
    bool found = false;
    int error = welfare_lookup_funder(ledger, funder_id, &funder, &found);
    if (error) return error;
    if (!found) return LEDGER_ERR_ACCOUNT_NOT_FOUND;
    funder_scan_t scan = {funder.number, statement_out};
    error = welfare_journal_scan(ledger, timestamp_min, timestamp_max, funder_visit, &scan);
    ledger_balance_t funds;
    if (!error) error = balance_end(ledger, funder.account_id, timestamp_max, &funds);
    if (error) return error;
    statement_out->funds_balance = funds.credits_posted - funds.debits_posted;
    return funder_employees(ledger, funder_id, timestamp_max, statement_out, employees_after,
                            employees_out, capacity, employees_count_out, more_out);
}

/* ---- provider statement ---- */

static void provider_entry(const ledger_history_entry_t *entry,
                           welfare_provider_statement_t *out) {
    const ledger_transfer_t *transfer = &entry->transfer;
    if (entry->kind != LEDGER_EVENT_TRANSFER) return;
    if (!welfare_transfer_id_is(transfer->id)) return;
    bool spends = !(transfer->flags & (LEDGER_TRANSFER_PENDING | LEDGER_TRANSFER_VOID_PENDING));
    switch (transfer->code) {
    case WELFARE_POSTING_PURCHASE: if (spends) out->sales += transfer->amount; break;
    case WELFARE_POSTING_REFUND: out->refunds += transfer->amount; break;
    case WELFARE_POSTING_FEE: out->fees += transfer->amount; break;
    case WELFARE_POSTING_FEE_REFUND: out->fees_returned += transfer->amount; break;
    case WELFARE_POSTING_PAYOUT: out->payouts += transfer->amount; break;
    default: break;
    }
}

int welfare_provider_statement(ledger_t *ledger, ledger_u128_t provider_id,
                               uint64_t timestamp_min, uint64_t timestamp_max,
                               welfare_provider_statement_t *statement_out) {
    if (ledger == NULL || statement_out == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    memset(statement_out, 0, sizeof(*statement_out));
    timestamp_max = statement_end(ledger, timestamp_max);
    welfare_provider_t provider;
    bool found = false;
    int error = welfare_lookup_provider(ledger, provider_id, &provider, &found);
    if (error) return error;
    if (!found) return LEDGER_ERR_ACCOUNT_NOT_FOUND;
    ledger_history_entry_t *entries = malloc(LEDGER_HISTORY_LIMIT_MAX * sizeof(*entries));
    if (entries == NULL) return LEDGER_ERR_NO_MEMORY;
    ledger_history_filter_t filter = {provider.account_id, timestamp_min, timestamp_max,
                                      LEDGER_HISTORY_LIMIT_MAX,
                                      LEDGER_HISTORY_DEBITS | LEDGER_HISTORY_CREDITS};
    for (uint32_t found_count = LEDGER_HISTORY_LIMIT_MAX;
         !error && found_count == LEDGER_HISTORY_LIMIT_MAX;) {
        error = ledger_account_history(ledger, &filter, entries, &found_count);
        for (uint32_t i = 0; !error && i < found_count; i++) provider_entry(&entries[i], statement_out);
        if (found_count > 0) filter.timestamp_min = entries[found_count - 1].transfer.timestamp + 1;
    }
    free(entries);
    if (error == LEDGER_ERR_ACCOUNT_NOT_FOUND && ledger->options.read_only) {
        /* Created by another process since this handle opened (balance_end). */
        memset(statement_out, 0, sizeof(*statement_out));
        return 0;
    }
    ledger_balance_t balance;
    if (!error) error = balance_end(ledger, provider.account_id, timestamp_max, &balance);
    if (error) return error;
    statement_out->payable = balance.credits_posted - balance.debits_posted;
    statement_out->held = balance.credits_pending;
    return 0;
}

/* ---- annual statement ---- */

typedef struct annual_scan {
    uint32_t year;
    int64_t spent[WELFARE_BASIS_COUNT];
    uint64_t reimbursed[WELFARE_BASIS_COUNT];
} annual_scan_t;

static void annual_entry(const ledger_history_entry_t *entry, ledger_u128_t pot,
                         annual_scan_t *scan) {
    const ledger_transfer_t *transfer = &entry->transfer;
    if (entry->kind != LEDGER_EVENT_TRANSFER) return;
    if (posting_year(transfer->user_data_64) != scan->year) return;
    /* The basis the operation was made under, never today's catalog. */
    uint32_t basis = posting_basis(transfer->user_data_64);
    if (basis >= WELFARE_BASIS_COUNT) return;
    bool spends = !(transfer->flags & (LEDGER_TRANSFER_PENDING | LEDGER_TRANSFER_VOID_PENDING));
    if (transfer->code == WELFARE_POSTING_PURCHASE && spends &&
        ledger_u128_equal(transfer->debit_account_id, pot)) {
        scan->spent[basis] += (int64_t)transfer->amount;
    } else if (transfer->code == WELFARE_POSTING_REFUND) {
        scan->spent[basis] -= (int64_t)transfer->amount;
    } else if (transfer->code == WELFARE_POSTING_REIMBURSEMENT) {
        scan->reimbursed[basis] += transfer->amount;
    }
}

static int annual_pot(ledger_t *ledger, ledger_u128_t pot, annual_scan_t *scan,
                      ledger_history_entry_t *entries) {
    ledger_history_filter_t filter = {pot, 0, 0, LEDGER_HISTORY_LIMIT_MAX,
                                      LEDGER_HISTORY_DEBITS | LEDGER_HISTORY_CREDITS};
    int error = 0;
    for (uint32_t found = LEDGER_HISTORY_LIMIT_MAX; !error && found == LEDGER_HISTORY_LIMIT_MAX;) {
        error = ledger_account_history(ledger, &filter, entries, &found);
        for (uint32_t i = 0; !error && i < found; i++) annual_entry(&entries[i], pot, scan);
        if (found > 0) filter.timestamp_min = entries[found - 1].transfer.timestamp + 1;
    }
    return error;
}

/* The employee's pots and cap figures. */
static int annual_setup(ledger_t *ledger, ledger_u128_t employee_id, annual_scan_t *scan,
                        employee_pots_t *pots, welfare_annual_statement_t *out, bool *found_out) {
    MDB_txn *txn = NULL;
    int error = ledger_read_begin(ledger, &txn);
    if (error) return error;
    employee_record_t employee;
    error = store_employee_get(ledger, txn, employee_id, &employee, found_out);
    uint64_t cap_class = 0;
    bool found = false;
    if (!error && *found_out) error = welfare_pots_load(ledger, txn, &employee, pots);
    if (!error && *found_out) error = store_u64_get(ledger, txn, 'C', employee_id, scan->year, &cap_class, &found);
    if (!error && *found_out) error = store_u64_get(ledger, txn, 'U', employee_id, scan->year, &out->fringe_used, &found);
    ledger_read_end(ledger, txn);
    out->cap_class = (uint32_t)cap_class;
    return error;
}

int welfare_annual_statement(ledger_t *ledger, ledger_u128_t employee_id, uint32_t year,
                             welfare_annual_statement_t *statement_out) {
    if (ledger == NULL || statement_out == NULL || year < 2000 || year > 2199) {
        return LEDGER_ERR_INVALID_ARGUMENT;
    }
    memset(statement_out, 0, sizeof(*statement_out));
    statement_out->year = year;
    annual_scan_t *scan = calloc(1, sizeof(*scan));
    employee_pots_t *pots = calloc(1, sizeof(*pots));
    ledger_history_entry_t *entries = malloc(LEDGER_HISTORY_LIMIT_MAX * sizeof(*entries));
    bool found = false;
    int error = scan && pots && entries ? 0 : LEDGER_ERR_NO_MEMORY;
    if (!error) {
        scan->year = year;
        error = annual_setup(ledger, employee_id, scan, pots, statement_out, &found);
    }
    if (!error && !found) error = LEDGER_ERR_ACCOUNT_NOT_FOUND;
    for (uint32_t i = 0; !error && i < pots->count; i++) {
        error = annual_pot(ledger, pots->pots[i].account_id, scan, entries);
    }
    if (!error) error = welfare_fringe_cap_for(ledger, year, statement_out->cap_class,
                                               &statement_out->fringe_cap);
    for (uint32_t b = 0; !error && b < WELFARE_BASIS_COUNT; b++) {
        statement_out->spent[b] = scan->spent[b] > 0 ? (uint64_t)scan->spent[b] : 0;
        statement_out->reimbursed[b] = scan->reimbursed[b];
    }
    free(scan);
    free(pots);
    free(entries);
    return error;
}

/* ---- registry listings ---- */

enum { LIST_KEY_SIZE = 1 + 16 }; /* type byte, big-endian u128 id */

/* Walks the keys `type` + id after `after` in `txn`. */
static int list_walk(ledger_t *ledger, MDB_txn *txn, char type, ledger_u128_t after,
                     ledger_u128_t *ids_out, uint32_t capacity, uint32_t *count_out,
                     bool *more_out) {
    welfare_key_t start;
    key_begin(&start, type);
    codec_put_u128_be(&start.codec, after);
    MDB_cursor *cursor = NULL;
    int error = mdb_cursor_open(txn, ledger->dbi_welfare, &cursor);
    if (error) return error;
    MDB_val key = {start.codec.at, start.bytes};
    MDB_val data;
    for (error = mdb_cursor_get(cursor, &key, &data, MDB_SET_RANGE); error == 0;
         error = mdb_cursor_get(cursor, &key, &data, MDB_NEXT)) {
        const uint8_t *bytes = key.mv_data;
        if (key.mv_size < 1 || bytes[0] != (uint8_t)type) break;
        if (key.mv_size != LIST_KEY_SIZE) {
            ledger_set_error(ledger, "welfare key of type '%c' has size %zu", type, key.mv_size);
            error = LEDGER_ERR_CORRUPT;
            break;
        }
        welfare_codec_t codec = {(uint8_t *)bytes, key.mv_size, 1, false};
        ledger_u128_t id = codec_get_u128_be(&codec);
        if (ledger_u128_equal(id, after)) continue;
        if (*count_out == capacity) {
            *more_out = true;
            break;
        }
        ids_out[(*count_out)++] = id;
    }
    mdb_cursor_close(cursor);
    return error == MDB_NOTFOUND ? 0 : error;
}

static int list_ids(ledger_t *ledger, char type, ledger_u128_t after, ledger_u128_t *ids_out,
                    uint32_t capacity, uint32_t *count_out, bool *more_out) {
    if (ledger == NULL || ids_out == NULL || count_out == NULL || more_out == NULL ||
        capacity == 0 || capacity > WELFARE_LIST_IDS_MAX) {
        return LEDGER_ERR_INVALID_ARGUMENT;
    }
    *count_out = 0;
    *more_out = false;
    MDB_txn *txn = NULL;
    int error = ledger_read_begin(ledger, &txn);
    if (error) return error;
    error = list_walk(ledger, txn, type, after, ids_out, capacity, count_out, more_out);
    ledger_read_end(ledger, txn);
    if (error) *count_out = 0;
    return error;
}

int welfare_list_funders(ledger_t *ledger, ledger_u128_t after_id, ledger_u128_t *ids_out,
                         uint32_t capacity, uint32_t *count_out, bool *more_out) {
    return list_ids(ledger, 'F', after_id, ids_out, capacity, count_out, more_out);
}

int welfare_list_providers(ledger_t *ledger, ledger_u128_t after_id, ledger_u128_t *ids_out,
                           uint32_t capacity, uint32_t *count_out, bool *more_out) {
    return list_ids(ledger, 'V', after_id, ids_out, capacity, count_out, more_out);
}
