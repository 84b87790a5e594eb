/*
 * authz.h — who may do what: the roles file that maps client certificates
 * to identities, and the decision whether an identity may run a request.
 * docs/security.md ("Roles") is the same table in prose; tests/test_authz.c
 * checks that the two agree, cell by cell.
 *
 * The roles file
 * --------------
 * Plain text, one mapping per line; blank lines and lines whose first
 * non-blank character is '#' are ignored (a '#' elsewhere is part of the
 * line). A mapping is a selector, one or more blanks, and a role:
 *
 *     sha256:HEX              ROLE[:SCOPE]
 *     subject:RFC2253-SUBJECT ROLE[:SCOPE]
 *
 *   - HEX is the SHA-256 of the client certificate's DER encoding, 64 hex
 *     digits (either case; stored lowercase). `openssl x509 -in c.pem
 *     -noout -fingerprint -sha256` prints it with colons, which are
 *     accepted too (95 characters).
 *   - RFC2253-SUBJECT is the subject as OpenSSL prints it with
 *     `-nameopt RFC2253` (e.g. "CN=acme-app,O=Acme\, S.p.A.,C=IT"); it runs
 *     to the last blank of the line, so it may contain blanks, and it is
 *     compared byte for byte.
 *   - ROLE is operator | app | auditor (no scope) or company | provider,
 *     which require SCOPE: the company's funder id or the provider's id,
 *     written as the CLI writes ids: decimal, 0x-hex, or a name, which is
 *     turned into an id exactly as `borsellino welfare ... --funder acme`
 *     does (tools/cli_values.c cli_parse_named_id: the first 16 bytes of
 *     SHA-256(name), big-endian). So "company:acme" is the funder the CLI
 *     creates with `--id acme`.
 *
 * Trailing blanks and a trailing '\r' are ignored. Any other line, a
 * duplicate selector, or a limit passed stops authz_roles_load with
 * "FILE:LINE: what is wrong", and the server does not start.
 *
 * Threads: a loaded authz_roles_t is immutable; any thread may look up in
 * it concurrently. authz_allowed and authz_allowed_scoped keep no state.
 */
#ifndef BORSELLINO_SERVER_AUTHZ_H
#define BORSELLINO_SERVER_AUTHZ_H

#include <stdbool.h>
#include <stddef.h>

#include "borsellino.pb-c.h"
#include "ledger.h"
#include "server.h"

/* Limits of the roles file (each tested at its bound). */
#define AUTHZ_ROLES_LINES_MAX 100000     /* lines in the file, comments included */
#define AUTHZ_ROLES_LINE_SIZE_MAX 1024   /* bytes in one line, without its '\n' */
#define AUTHZ_ROLES_ENTRIES_MAX 10000    /* mappings */
#define AUTHZ_SUBJECT_SIZE_MAX 512       /* bytes of a subject, without its NUL */

typedef struct authz_roles authz_roles_t;

/* Reads and checks the roles file at `path`.
 *
 * Returns 0 and sets *roles_out (the caller frees it with
 * authz_roles_free), or -1, with *roles_out left NULL and `error` (at most
 * error_size bytes, always NUL-terminated when error_size > 0) saying
 * "PATH:LINE: what is wrong" — or "PATH: ..." when the file cannot be
 * opened or read, or is out of memory. Nothing is loaded on error: one bad
 * line refuses the whole file. */
int authz_roles_load(const char *path, authz_roles_t **roles_out, char *error,
                     size_t error_size);

/* Finds the identity of a client certificate: first by `fingerprint_hex`
 * (lowercase hex SHA-256 of the DER certificate, 64 digits), then by
 * `subject` (RFC 2253 one-line; may be NULL). On a match returns true and
 * fills *identity_out: role, scope_id (zero for operator, app, auditor),
 * and name = "sha256:HEX" for a fingerprint match or "subject:SUBJECT" for
 * a subject match (cut at sizeof name - 1 bytes; log it quoted). Otherwise
 * returns false and sets *identity_out to role SERVER_ROLE_NONE with a
 * zero scope and the name "sha256:HEX" of the unknown certificate, so that
 * the refusal can still be logged. `roles` may be NULL (no roles file:
 * every certificate is unknown). */
bool authz_roles_lookup(const authz_roles_t *roles, const char *fingerprint_hex,
                        const char *subject, server_identity_t *identity_out);

/* Frees a roles table; NULL is allowed. */
void authz_roles_free(authz_roles_t *roles);

/* The static decision: whether `identity`'s role may run `request`'s
 * operation at all, from the role × operation table, without looking at
 * the ledger. Returns true for AUTHZ_ALLOW and AUTHZ_OWN cells (see
 * below); else false with `reason` (at most reason_size bytes, always
 * NUL-terminated when reason_size > 0) a sentence for the client and the
 * log, which names the role and the operation and never the request's
 * contents. A request with no operation set is allowed here (the
 * dispatcher answers it STATUS_UNKNOWN_OPERATION); an identity with role
 * SERVER_ROLE_NONE is denied everything. Any thread. */
bool authz_allowed(const server_identity_t *identity, const Borsellino__V1__Request *request,
                   char *reason, size_t reason_size);

/* Room for any reason sentence authz_* writes (bytes, with the NUL). */
#define AUTHZ_REASON_SIZE 256

/* The whole decision: authz_allowed, then, for AUTHZ_OWN cells (company
 * and provider scopes), whether every entity the request names belongs to
 * the identity's scope — a funder id equal to scope_id; a plan's or
 * employee's funder (welfare_lookup_plan, welfare_lookup_employee), for
 * every employee of a grant too; a provider id equal to scope_id. An
 * entity that does not exist is denied like another company's (a scoped
 * identity cannot probe what others have created), with the same reason.
 *
 * Reads the state of `ledger` that the request would see (the open write
 * group's, if any), so it runs on the writer thread: dispatch_request
 * calls it first. It changes nothing.
 *
 * Returns 0 with the decision in *allowed_out (and, when false, `reason`
 * as for authz_allowed), or the error of a welfare_lookup_* call (an MDB_*
 * or LEDGER_ERR_* code: the request fails like any other whose ledger call
 * failed; *allowed_out is then false). */
int authz_allowed_scoped(ledger_t *ledger, const server_identity_t *identity,
                         const Borsellino__V1__Request *request, bool *allowed_out,
                         char *reason, size_t reason_size);

/* ---- the table itself, for logs, tests and docs ---- */

typedef enum authz_rule {
    AUTHZ_DENY = 0,  /* never */
    AUTHZ_ALLOW = 1, /* always */
    AUTHZ_OWN = 2,   /* only for entities in the identity's scope */
} authz_rule_t;

/* One row of the role × operation table. */
typedef struct authz_operation {
    Borsellino__V1__Request__OpCase op;
    const char *name;     /* the Request field's name, e.g. "welfare_fund" */
    bool write;           /* changes the books (or signs them) */
    authz_rule_t rules[6]; /* indexed by server_role_t */
} authz_operation_t;

/* The table: every operation of Request, in field order. Sets *count_out;
 * the array is static (never freed). */
const authz_operation_t *authz_operations(size_t *count_out);

/* The row of `op`, or NULL when `op` is not an operation of the table. */
const authz_operation_t *authz_operation_find(Borsellino__V1__Request__OpCase op);

/* "operator", "company", "app", "provider", "auditor", or "none". */
const char *authz_role_name(server_role_t role);

#endif
