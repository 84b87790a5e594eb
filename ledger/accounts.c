/*
 * accounts.c — the in-memory account table, undo log and ledger totals
 * (see accounts.h for the design and invariants).
 */
#include "accounts.h"

#include <assert.h>
#include <string.h>

#include "memory.h"

enum { ACCOUNTS_BUCKETS_INITIAL = 1024, ACCOUNTS_SLOTS_INITIAL = 512 };

uint32_t accounts_id_hash(ledger_u128_t id) {
    uint64_t x = id.hi * 0x9E3779B97F4A7C15ull ^ id.lo;
    x ^= x >> 33;
    x *= 0xFF51AFD7ED558CCDull;
    x ^= x >> 33;
    x *= 0xC4CEB9FE1A85EC53ull;
    x ^= x >> 33;
    return (uint32_t)x;
}

int accounts_init(accounts_t *accounts) {
    memset(accounts, 0, sizeof(*accounts));
    accounts->buckets = memory_calloc(ACCOUNTS_BUCKETS_INITIAL, sizeof(uint32_t));
    if (accounts->buckets == NULL) return LEDGER_ERR_NO_MEMORY;
    accounts->buckets_mask = ACCOUNTS_BUCKETS_INITIAL - 1;
    return 0;
}

void accounts_free(accounts_t *accounts) {
    memory_free(accounts->slots);
    memory_free(accounts->buckets);
    memory_free(accounts->undo);
    memory_free(accounts->dirty_slots);
    memory_free(accounts->totals);
    memset(accounts, 0, sizeof(*accounts));
}

account_slot_t *accounts_find(const accounts_t *accounts, ledger_u128_t id) {
    uint32_t bucket = accounts_id_hash(id) & accounts->buckets_mask;
    for (;;) {
        uint32_t entry = accounts->buckets[bucket];
        if (entry == 0) return NULL;
        account_slot_t *slot = &accounts->slots[entry - 1];
        if (slot->id.lo == id.lo && slot->id.hi == id.hi) return slot;
        bucket = (bucket + 1) & accounts->buckets_mask;
    }
}

enum { ACCOUNTS_PROBE_PREFETCH = 2, CACHE_LINE = 64 };

/* A 104-byte slot spans two cache lines, or three when it starts past
 * byte 24 of one (half the slots of the dense array): fetch every line
 * it touches. Fetching only its first and last bytes left the middle
 * line (balances, for most slots) to miss when the transfer came. */
static void slot_prefetch(const account_slot_t *slot) {
    const char *bytes = (const char *)slot;
    __builtin_prefetch(bytes);
    __builtin_prefetch(bytes + CACHE_LINE);
    __builtin_prefetch(bytes + sizeof(account_slot_t) - 1);
}

void accounts_prefetch_probe(const accounts_t *accounts, ledger_u128_t id) {
    uint32_t bucket = accounts_id_hash(id) & accounts->buckets_mask;
    uint32_t entry = accounts->buckets[bucket];
    if (entry == 0) return;
    const account_slot_t *slot = &accounts->slots[entry - 1];
    if (slot->id.lo == id.lo && slot->id.hi == id.hi) return;
    for (int i = 0; i < ACCOUNTS_PROBE_PREFETCH; i++) {
        bucket = (bucket + 1) & accounts->buckets_mask;
        entry = accounts->buckets[bucket];
        if (entry == 0) return;
        slot_prefetch(&accounts->slots[entry - 1]);
    }
}

void accounts_prefetch_slot(const accounts_t *accounts, ledger_u128_t id) {
    uint32_t entry = accounts->buckets[accounts_id_hash(id) & accounts->buckets_mask];
    if (entry == 0) return;
    slot_prefetch(&accounts->slots[entry - 1]);
}

static void buckets_place(uint32_t *buckets, uint32_t mask, ledger_u128_t id,
                          uint32_t slot_index) {
    uint32_t bucket = accounts_id_hash(id) & mask;
    while (buckets[bucket] != 0) bucket = (bucket + 1) & mask;
    buckets[bucket] = slot_index + 1;
}

static int buckets_grow(accounts_t *accounts) {
    uint32_t buckets_count = (accounts->buckets_mask + 1) * 2;
    size_t size = (size_t)buckets_count * sizeof(uint32_t);
    uint32_t *buckets = memory_alloc(size);
    if (buckets == NULL) return LEDGER_ERR_NO_MEMORY;
    /* Advised before the first touch (the zeroing), so that the kernel
     * backs it with huge pages at once rather than maybe later. */
    memory_advise_huge_pages(buckets, size);
    memset(buckets, 0, size);
    for (uint32_t i = 0; i < accounts->slots_count; i++) {
        buckets_place(buckets, buckets_count - 1, accounts->slots[i].id, i);
    }
    memory_free(accounts->buckets);
    accounts->buckets = buckets;
    accounts->buckets_mask = buckets_count - 1;
    return 0;
}

/* Grows a dynamic array of `element_size` elements to hold `needed`; the
 * capacity grows by half again so that the slack stays within the
 * 256-bytes-per-account budget. The new block is advised for huge pages
 * before anything is copied into it: a realloc would fill it first, and
 * the kernel only backs untouched memory with huge pages at once (the
 * account slots are read at random, one TLB miss each on small pages). */
static int array_reserve(void **array, uint32_t *capacity, uint32_t needed,
                         size_t element_size, uint32_t initial) {
    if (needed <= *capacity) return 0;
    uint64_t grown = *capacity < initial ? initial : *capacity;
    while (grown < needed) grown += grown / 2;
    if (grown > UINT32_MAX) grown = UINT32_MAX;
    void *bigger = memory_alloc((size_t)grown * element_size);
    if (bigger == NULL) return LEDGER_ERR_NO_MEMORY;
    memory_advise_huge_pages(bigger, (size_t)grown * element_size);
    if (*array != NULL) memcpy(bigger, *array, (size_t)*capacity * element_size);
    memory_free(*array);
    *array = bigger;
    *capacity = (uint32_t)grown;
    return 0;
}

static ledger_totals_t *totals_find(const accounts_t *accounts, uint32_t ledger) {
    for (uint32_t i = 0; i < accounts->totals_count; i++) {
        if (accounts->totals[i].ledger == ledger) return &accounts->totals[i];
    }
    return NULL;
}

static void dirty_mark(accounts_t *accounts, account_slot_t *slot);

int accounts_insert(accounts_t *accounts, const account_slot_t *slot,
                    bool undoable, bool mark_dirty) {
    assert(accounts_find(accounts, slot->id) == NULL);
    if (accounts->slots_count >= ACCOUNTS_COUNT_MAX) return LEDGER_ERR_NO_MEMORY;
    int error = array_reserve((void **)&accounts->slots, &accounts->slots_capacity,
                              accounts->slots_count + 1, sizeof(account_slot_t),
                              ACCOUNTS_SLOTS_INITIAL);
    if (error) return error;
    if (totals_find(accounts, slot->ledger) == NULL) {
        error = array_reserve((void **)&accounts->totals,
                              &accounts->totals_capacity,
                              accounts->totals_count + 1,
                              sizeof(ledger_totals_t), 4);
        if (error) return error;
        ledger_totals_t *totals = &accounts->totals[accounts->totals_count++];
        memset(totals, 0, sizeof(*totals));
        totals->ledger = slot->ledger;
    }
    if ((uint64_t)(accounts->slots_count + 1) * 2 > accounts->buckets_mask + 1) {
        error = buckets_grow(accounts);
        if (error) return error;
    }
    error = accounts_reserve(accounts, 1);
    if (error) return error;
    uint32_t index = accounts->slots_count++;
    accounts->slots[index] = *slot;
    accounts->slots[index].dirty = 0;
    buckets_place(accounts->buckets, accounts->buckets_mask, slot->id, index);
    ledger_totals_t *totals = totals_find(accounts, slot->ledger);
    totals->debits_pending += slot->balance.debits_pending;
    totals->debits_posted += slot->balance.debits_posted;
    totals->credits_pending += slot->balance.credits_pending;
    totals->credits_posted += slot->balance.credits_posted;
    if (undoable) {
        undo_entry_t *entry = &accounts->undo[accounts->undo_count++];
        memset(entry, 0, sizeof(*entry));
        entry->slot = index;
        entry->created = 1;
    }
    if (mark_dirty) dirty_mark(accounts, &accounts->slots[index]);
    return 0;
}

int accounts_reserve(accounts_t *accounts, uint32_t count) {
    int error = array_reserve((void **)&accounts->undo, &accounts->undo_capacity,
                              accounts->undo_count + count, sizeof(undo_entry_t),
                              1024);
    if (error) return error;
    return array_reserve((void **)&accounts->dirty_slots,
                         &accounts->dirty_capacity,
                         accounts->dirty_count + count + 1, sizeof(uint32_t),
                         1024);
}

static void totals_move(accounts_t *accounts, uint32_t ledger,
                        const ledger_balance_t *from, const ledger_balance_t *to) {
    ledger_totals_t *totals = totals_find(accounts, ledger);
    assert(totals != NULL);
    totals->debits_pending += to->debits_pending;
    totals->debits_pending -= from->debits_pending;
    totals->debits_posted += to->debits_posted;
    totals->debits_posted -= from->debits_posted;
    totals->credits_pending += to->credits_pending;
    totals->credits_pending -= from->credits_pending;
    totals->credits_posted += to->credits_posted;
    totals->credits_posted -= from->credits_posted;
}

static void dirty_mark(accounts_t *accounts, account_slot_t *slot) {
    if (slot->dirty) return;
    assert(accounts->dirty_count < accounts->dirty_capacity);
    slot->dirty = 1;
    accounts->dirty_slots[accounts->dirty_count++] =
        (uint32_t)(slot - accounts->slots);
}

void accounts_set_state(accounts_t *accounts, account_slot_t *slot,
                        const account_state_t *state, bool undoable) {
    assert(slot >= accounts->slots);
    assert(slot < accounts->slots + accounts->slots_count);
    if (undoable) {
        assert(accounts->undo_count < accounts->undo_capacity);
        undo_entry_t *entry = &accounts->undo[accounts->undo_count++];
        entry->slot = (uint32_t)(slot - accounts->slots);
        entry->created = 0;
        entry->state.balance = slot->balance;
        entry->state.last_sequence = slot->last_sequence;
        entry->state.flags = slot->flags;
    }
    totals_move(accounts, slot->ledger, &slot->balance, &state->balance);
    slot->balance = state->balance;
    slot->last_sequence = state->last_sequence;
    slot->flags = state->flags;
    dirty_mark(accounts, slot);
}

/* Removes the newest account (undo of its creation). Linear probing needs
 * the entries after the hole re-placed so that later probes still find
 * them (backward-shift deletion). */
static void accounts_remove_newest(accounts_t *accounts, uint32_t index) {
    assert(index + 1 == accounts->slots_count);
    account_slot_t *slot = &accounts->slots[index];
    totals_move(accounts, slot->ledger, &slot->balance,
                &(ledger_balance_t){0, 0, 0, 0});
    uint32_t mask = accounts->buckets_mask;
    uint32_t bucket = accounts_id_hash(slot->id) & mask;
    while (accounts->buckets[bucket] != index + 1) bucket = (bucket + 1) & mask;
    accounts->buckets[bucket] = 0;
    for (uint32_t next = (bucket + 1) & mask; accounts->buckets[next] != 0;
         next = (next + 1) & mask) {
        uint32_t moved = accounts->buckets[next];
        accounts->buckets[next] = 0;
        buckets_place(accounts->buckets, mask, accounts->slots[moved - 1].id,
                      moved - 1);
    }
    accounts->slots_count--;
}

void accounts_undo_to(accounts_t *accounts, uint32_t undo_mark) {
    assert(undo_mark <= accounts->undo_count);
    while (accounts->undo_count > undo_mark) {
        undo_entry_t *entry = &accounts->undo[--accounts->undo_count];
        if (entry->created) {
            accounts_remove_newest(accounts, entry->slot);
            continue;
        }
        account_slot_t *slot = &accounts->slots[entry->slot];
        totals_move(accounts, slot->ledger, &slot->balance,
                    &entry->state.balance);
        slot->balance = entry->state.balance;
        slot->last_sequence = entry->state.last_sequence;
        slot->flags = entry->state.flags;
    }
}

void accounts_undo_clear(accounts_t *accounts) {
    accounts->undo_count = 0;
}

void accounts_totals_check(const accounts_t *accounts) {
    for (uint32_t i = 0; i < accounts->totals_count; i++) {
        const ledger_totals_t *totals = &accounts->totals[i];
        /* Split assertions: the message names the broken one. */
        assert(totals->debits_pending == totals->credits_pending);
        assert(totals->debits_posted == totals->credits_posted);
        (void)totals;
    }
}

bool accounts_totals_balanced(const accounts_t *accounts, uint32_t *ledger_out) {
    for (uint32_t i = 0; i < accounts->totals_count; i++) {
        const ledger_totals_t *totals = &accounts->totals[i];
        if (totals->debits_pending != totals->credits_pending ||
            totals->debits_posted != totals->credits_posted) {
            *ledger_out = totals->ledger;
            return false;
        }
    }
    return true;
}

void accounts_totals_recheck(const accounts_t *accounts) {
    for (uint32_t i = 0; i < accounts->totals_count; i++) {
        ledger_totals_t sum;
        memset(&sum, 0, sizeof(sum));
        for (uint32_t s = 0; s < accounts->slots_count; s++) {
            const account_slot_t *slot = &accounts->slots[s];
            if (slot->ledger != accounts->totals[i].ledger) continue;
            sum.debits_pending += slot->balance.debits_pending;
            sum.debits_posted += slot->balance.debits_posted;
            sum.credits_pending += slot->balance.credits_pending;
            sum.credits_posted += slot->balance.credits_posted;
        }
        assert(sum.debits_pending == accounts->totals[i].debits_pending);
        assert(sum.debits_posted == accounts->totals[i].debits_posted);
        assert(sum.credits_pending == accounts->totals[i].credits_pending);
        assert(sum.credits_posted == accounts->totals[i].credits_posted);
    }
    accounts_totals_check(accounts);
}

void accounts_dirty_clear(accounts_t *accounts) {
    for (uint32_t i = 0; i < accounts->dirty_count; i++) {
        uint32_t index = accounts->dirty_slots[i];
        if (index < accounts->slots_count) accounts->slots[index].dirty = 0;
    }
    accounts->dirty_count = 0;
}

void accounts_slot_to_account(const account_slot_t *slot,
                              ledger_account_t *account) {
    memset(account, 0, sizeof(*account));
    account->id = slot->id;
    account->debits_pending = slot->balance.debits_pending;
    account->debits_posted = slot->balance.debits_posted;
    account->credits_pending = slot->balance.credits_pending;
    account->credits_posted = slot->balance.credits_posted;
    account->user_data_128 = slot->user_data_128;
    account->user_data_64 = slot->user_data_64;
    account->user_data_32 = slot->user_data_32;
    account->ledger = slot->ledger;
    account->code = slot->code;
    account->flags = slot->flags;
    account->timestamp = slot->timestamp;
}
