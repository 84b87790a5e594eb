/*
 * audit_internal.h — what the audit files of ledger/ share (audit.h is the
 * public manual): the journal walk that ledger_journal_scan and the trial
 * balance at a past time are both built on.
 *
 * The walk decodes each record once (record_journal_decode: checksum,
 * version, kind) and hands the decoded record to a visitor, so that an
 * internal reader pays for no conversion to the public entry struct.
 */
#ifndef BORSELLINO_LEDGER_AUDIT_INTERNAL_H
#define BORSELLINO_LEDGER_AUDIT_INTERNAL_H

#include "audit.h"
#include "ledger_internal.h"

/* Called once per record, in sequence order; nonzero stops the walk, which
 * then returns that value. */
typedef int (*audit_journal_visit_fn)(void *context, const journal_record_t *record);

/*
 * Walks the records with sequence in [sequence_min, sequence_max]
 * (sequence_min 0 is 1; sequence_max 0 = to the end of the snapshot) in
 * the read transaction `txn`, in constant memory. A gap in the sequences,
 * a bad checksum or a record that names another sequence gives
 * LEDGER_ERR_CORRUPT with ledger_last_error_message naming the sequence.
 * Returns 0, the visitor's nonzero value, LEDGER_ERR_CORRUPT,
 * LEDGER_ERR_FORMAT_NEWER or an MDB_* code.
 */
int audit_journal_walk(ledger_t *ledger, MDB_txn *txn, uint64_t sequence_min,
                       uint64_t sequence_max, audit_journal_visit_fn visit, void *context);

/* A read transaction of its own (not the handle's shared one), so that a
 * walk's visitor may call the ledger's read functions. Refused inside a
 * write group (LEDGER_ERR_WRITE_OPEN). Finish with mdb_txn_abort(). */
int audit_snapshot_begin(ledger_t *ledger, MDB_txn **txn_out);

#endif
