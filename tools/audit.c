/*
 * audit.c — `borsellino audit`: the subcommand dispatcher, and `audit
 * verify`, which checks a data directory from scratch with
 * ledger_verify_signed() (every checksum, sequence and hash-chain link of
 * the journal; balances recomputed from the events; Σ debits = Σ credits
 * per ledger; the checkpoint table; every signed checkpoint against the
 * journal and its signature) and then the welfare reconciliation
 * identities with welfare_reconcile().
 *
 * Offline (--data), the directory is opened read-only: nothing is created,
 * formatted, checkpointed or "repaired", and it is safe while a
 * borsellinod writes to the same directory (the check sees the journal as
 * of the moment it opened). Over the network (--addr), the server runs the
 * same verification on its data and this command checks the signed
 * checkpoints' signatures itself, with the key given by --pubkey.
 *
 * Workload: one run per invocation; the whole journal is read once, so the
 * cost is linear in the number of records (a progress bar on stderr when
 * it is a terminal).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "audit_cli.h"
#include "cli.h"
#include "frame.h"
#include "ledger.h"
#include "welfare.h"

/* A chain head as hex: 32 bytes, two digits each, and NUL. */
enum { AUDIT_HASH_TEXT_SIZE = 65 };
/* Verification over the network reads the whole journal: wait long. */
enum { AUDIT_NETWORK_TIMEOUT_MS = 600000 };

static const char audit_help[] =
    "usage: borsellino audit COMMAND [OPTIONS]   (COMMAND --help for each)\n"
    "\n"
    "The auditor's tools (docs/audit.md). Offline commands open a data\n"
    "directory read-only and are safe while borsellinod runs on it.\n"
    "\n"
    "  verify         check the whole journal, balances, signatures and the\n"
    "                 welfare identities (offline, or over the network)\n"
    "  pubkey         print the directory's public signing key (PEM)\n"
    "  sign           have the current state signed (server or directory)\n"
    "  checkpoints    list the signed checkpoints\n"
    "  proof          an inclusion proof for one transfer, checkable with openssl\n"
    "  trial-balance  the trial balance per ledger and account code, at a time\n"
    "  balance        one account's balances at a time\n"
    "  reconcile      the reconciliation per funder and provider, at a time\n"
    "  export         the journal, trial balance or reconciliation as CSV or\n"
    "                 JSON Lines\n"
    "  report         a self-contained HTML audit report\n";

static const char audit_verify_help[] =
    "usage: borsellino audit verify [--data DIR | --addr HOST:PORT] [--pubkey FILE] [--json]\n"
    "\n"
    "Verifies the books from scratch, trusting nothing cached: every journal\n"
    "record's checksum and sequence, the SHA-256 hash chain, every account's\n"
    "balances recomputed from the events, debits = credits per ledger, the\n"
    "checkpoint table, every signed checkpoint (its chain head and trial\n"
    "balance must be the journal's at its sequence, its signature valid), and\n"
    "the welfare reconciliation identities (per funder: funded = funds + pots +\n"
    "spent - refunded + reimbursed + forfeited; per provider: sales - refunds -\n"
    "net fees = payouts + payable).\n"
    "\n"
    "  --data DIR      data directory (default: ./" CLI_DATA_PATH_DEFAULT "), opened read-only:\n"
    "                  never written or repaired; safe while borsellinod runs on\n"
    "                  it (the check sees the journal as of the moment it opens)\n"
    "  --addr H:P      ask the server at H:P to verify its data instead (writes\n"
    "                  wait while it runs); the signatures are then checked here\n"
    "  --pubkey FILE   the public key (PEM, from `audit pubkey`) you obtained\n"
    "                  independently: signatures are checked under it, and a\n"
    "                  directory whose key differs fails. Without it, they are\n"
    "                  checked under the directory's own key, which proves\n"
    "                  nothing against someone who could replace both\n"
    "  --timeout-ms MS with --addr: how long to wait (default 600000)\n"
    "  --json          one JSON object on stdout: {\"ok\": true, \"records\": N,\n"
    "                  \"accounts\": N, \"ledgers\": N, \"journal_sequence\": N,\n"
    "                  \"chain_head\": HEX, \"signatures_checked\": N,\n"
    "                  \"last_signed_sequence\": N, \"key\": \"given\"|\"directory\"|\"none\",\n"
    "                  \"welfare_funders\": N, \"welfare_providers\": N, \"verify_seconds\": S}\n"
    "                  or {\"ok\": false,\n"
    "                  \"error\": NAME, \"first_bad_sequence\": N, \"message\": TEXT}\n"
    "\n"
    "Records after the last signed checkpoint are covered by the hash chain\n"
    "but by no signature yet: `audit sign` signs the current state.\n"
    "\n"
    "Exit codes: 0 the books hold; 1 verification failed or the directory\n"
    "cannot be opened (newer format, bad checksum, truncated file: the\n"
    "message says which; the first broken sequence number is given when\n"
    "there is one); 2 bad usage. A progress bar goes to stderr when it is a\n"
    "terminal.\n";

typedef struct audit_options {
    const char *data_path;
    const char *pubkey_path;
    bool network; /* --addr given */
    bool json;
    cli_net_options_t net;
} audit_options_t;


/* What a verification found, offline or over the network. */
typedef struct audit_result {
    uint64_t records, accounts, ledgers, journal_sequence;
    uint64_t signatures_checked, last_signed_sequence;
    uint8_t chain_head[LEDGER_DIGEST_SIZE];
    const char *key; /* "given", "directory" or "none" */
    uint32_t funders, providers;
    uint64_t verify_ns; /* the journal walk alone (offline only; 0 otherwise) */
} audit_result_t;

static void audit_hash_text(const uint8_t hash[32], char text[AUDIT_HASH_TEXT_SIZE]) {
    for (int i = 0; i < 32; i++) snprintf(text + 2 * i, 3, "%02x", hash[i]);
}

/* Parses the options after `verify`. Returns -1 to go on, or an exit code. */
static int audit_parse(int argc, char **argv, audit_options_t *options) {
    memset(options, 0, sizeof(*options));
    options->data_path = CLI_DATA_PATH_DEFAULT;
    cli_net_options_init(&options->net);
    options->net.timeout_ms = AUDIT_NETWORK_TIMEOUT_MS;
    bool data_given = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(audit_verify_help, stdout);
            return CLI_EXIT_OK;
        }
        bool is_address = strcmp(argv[i], "--addr") == 0 || strcmp(argv[i], "--address") == 0;
        int common = cli_net_option(argc, argv, &i, "audit verify", &options->net);
        if (common < 0) return CLI_EXIT_USAGE;
        if (common > 0) {
            options->network = options->network || is_address;
            continue;
        }
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
            options->data_path = argv[++i];
            data_given = true;
        } else if (strcmp(argv[i], "--pubkey") == 0 && i + 1 < argc) {
            options->pubkey_path = argv[++i];
        } else {
            return cli_usage_error("audit verify", "unknown option %s (see --help)", argv[i]);
        }
    }
    if (data_given && options->network) {
        return cli_usage_error("audit verify", "give --data or --addr, not both");
    }
    options->json = options->net.json;
    return -1;
}

/* Reports a failure (open or verify): stderr always, JSON with --json. */
static int audit_fail(const audit_options_t *options, int error, uint64_t first_bad_sequence,
                      const char *message) {
    const char *where = options->network ? options->net.address : options->data_path;
    fprintf(stderr, "borsellino audit verify: %s: %s", where, message);
    if (first_bad_sequence != 0) {
        fprintf(stderr, " (first bad journal sequence %" PRIu64 ")", first_bad_sequence);
    }
    fputc('\n', stderr);
    if (options->json) {
        printf("{\"ok\": false, \"error\": ");
        cli_json_string(stdout, ledger_strerror(error));
        printf(", \"first_bad_sequence\": %" PRIu64 ", \"message\": ", first_bad_sequence);
        cli_json_string(stdout, message);
        printf("}\n");
    }
    return CLI_EXIT_FAILURE;
}

static void audit_print_ok(const audit_options_t *options, const audit_result_t *result) {
    char head[AUDIT_HASH_TEXT_SIZE];
    audit_hash_text(result->chain_head, head);
    if (options->json) {
        printf("{\"ok\": true, \"records\": %" PRIu64 ", \"accounts\": %" PRIu64
               ", \"ledgers\": %" PRIu64 ", \"journal_sequence\": %" PRIu64
               ", \"chain_head\": \"%s\", \"signatures_checked\": %" PRIu64
               ", \"last_signed_sequence\": %" PRIu64 ", \"key\": \"%s\""
               ", \"welfare_funders\": %u, \"welfare_providers\": %u, \"verify_seconds\": %.3f}\n",
               result->records, result->accounts, result->ledgers, result->journal_sequence,
               head, result->signatures_checked, result->last_signed_sequence, result->key,
               result->funders, result->providers, (double)result->verify_ns / 1e9);
        return;
    }
    printf("books hold: %s\n", options->network ? options->net.address : options->data_path);
    printf("  records     %" PRIu64 " (journal sequence %" PRIu64 ")\n", result->records,
           result->journal_sequence);
    printf("  accounts    %" PRIu64 "\n", result->accounts);
    printf("  ledgers     %" PRIu64 "\n", result->ledgers);
    printf("  chain head  %s\n", head);
    printf("  signatures  %" PRIu64 " signed checkpoint(s) match the journal, the last at "
           "sequence %" PRIu64 " (key: %s)\n", result->signatures_checked,
           result->last_signed_sequence, result->key);
    if (result->journal_sequence > result->last_signed_sequence) {
        printf("              %" PRIu64 " records after it are not signed yet (audit sign)\n",
               result->journal_sequence - result->last_signed_sequence);
    }
    printf("  welfare     %u funders and %u providers reconcile\n", result->funders,
           result->providers);
    if (result->verify_ns > 0) {
        printf("  time        %.3f s for the journal walk (%.0f records/s)\n",
               (double)result->verify_ns / 1e9,
               (double)result->records * 1e9 / (double)result->verify_ns);
    }
}

static const char *audit_key_name(uint32_t source) {
    return source == LEDGER_VERIFY_KEY_GIVEN       ? "given"
           : source == LEDGER_VERIFY_KEY_DIRECTORY ? "directory"
                                                   : "none";
}

/* Opens read-only, verifies, closes. */
static int audit_verify_offline(const audit_options_t *options, const uint8_t *public_key) {
    if (access(options->data_path, F_OK) != 0) {
        /* A read-only open of a missing directory would not create it; say
         * so plainly instead of an LMDB error. */
        return audit_fail(options, LEDGER_ERR_NOT_A_LEDGER, 0, "no such data directory");
    }
    ledger_options_t ledger_options;
    memset(&ledger_options, 0, sizeof ledger_options);
    ledger_options.read_only = true;
    ledger_t *ledger = NULL;
    int error = ledger_open(options->data_path, &ledger_options, &ledger);
    if (error != 0) {
        char message[512];
        snprintf(message, sizeof message, "cannot open (%s): %s", ledger_strerror(error),
                 ledger_last_error_message(NULL));
        return audit_fail(options, error, 0, message);
    }
    ledger_verify_report_t report;
    memset(&report, 0, sizeof report);
    cli_progress_t progress;
    cli_progress_init(&progress, "verifying", "records");
    uint64_t started_ns = cli_monotonic_ns();
    error = ledger_verify_signed(ledger, public_key, &report, cli_progress_fn, &progress);
    uint64_t verify_ns = cli_monotonic_ns() - started_ns;
    cli_progress_end(&progress);
    ledger_stats_t stats;
    memset(&stats, 0, sizeof stats);
    int stats_error = error == 0 ? ledger_stats(ledger, &stats) : 0;
    welfare_reconcile_report_t reconcile;
    memset(&reconcile, 0, sizeof reconcile);
    int reconcile_error = error == 0 && stats_error == 0 ? welfare_reconcile(ledger, &reconcile) : 0;
    (void)ledger_close(ledger);
    if (error == LEDGER_ERR_VERIFY_FAILED) {
        return audit_fail(options, error, report.first_bad_sequence, report.message);
    }
    if (error == 0) error = stats_error ? stats_error : reconcile_error;
    if (error != 0) {
        return audit_fail(options, error, report.first_bad_sequence, ledger_strerror(error));
    }
    if (!reconcile.balanced) {
        char message[320];
        snprintf(message, sizeof message, "welfare books do not reconcile: %s", reconcile.message);
        return audit_fail(options, LEDGER_ERR_VERIFY_FAILED, 0, message);
    }
    audit_result_t result = {report.records_checked, report.accounts_checked,
                             report.ledgers_checked, stats.journal_sequence,
                             report.signatures_checked, report.last_signed_sequence, {0},
                             audit_key_name(report.key_source), reconcile.funders_checked,
                             reconcile.providers_checked, verify_ns};
    memcpy(result.chain_head, stats.chain_head, sizeof(result.chain_head));
    audit_print_ok(options, &result);
    return CLI_EXIT_OK;
}

/* Over the network: every signed checkpoint's signature must verify under
 * the key (the given one, which must be the server's). Returns 0 or an exit
 * code after reporting. */
static int audit_signatures_remote(const audit_options_t *options, client_t *client,
                                   const uint8_t *public_key, const char **key_name_out) {
    uint64_t sequence_min = 0;
    for (;;) {
        Borsellino__V1__AuditCheckpointsRequest query = BORSELLINO__V1__AUDIT_CHECKPOINTS_REQUEST__INIT;
        query.sequence_min = sequence_min;
        Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
        request.op_case = BORSELLINO__V1__REQUEST__OP_AUDIT_CHECKPOINTS;
        request.audit_checkpoints = &query;
        Borsellino__V1__Response *response = NULL;
        int exit_code = cli_call(client, &options->net, "audit verify", &request,
                                 BORSELLINO__V1__RESPONSE__RESULT_AUDIT_CHECKPOINTS, &response);
        if (exit_code) return exit_code;
        const Borsellino__V1__AuditCheckpointsResponse *page = response->audit_checkpoints;
        uint8_t key[LEDGER_PUBLIC_KEY_SIZE];
        bool have_key = page->public_key.len == LEDGER_PUBLIC_KEY_SIZE;
        if (have_key) memcpy(key, page->public_key.data, sizeof(key));
        const char *problem = NULL;
        uint64_t bad = 0;
        if (public_key != NULL && (!have_key || memcmp(key, public_key, sizeof(key)) != 0)) {
            problem = "the server's public key is not the one given: its checkpoints are "
                      "signed by another key";
        }
        for (size_t i = 0; i < page->n_checkpoints && problem == NULL; i++) {
            const Borsellino__V1__SignedCheckpoint *m = page->checkpoints[i];
            ledger_signed_checkpoint_t checkpoint = {.sequence = m->sequence,
                                                     .timestamp = m->timestamp};
            bool sizes = m->chain_head.len == 32 && m->trial_balance_digest.len == 32 &&
                         m->signature.len == 64;
            if (sizes) {
                memcpy(checkpoint.chain_head, m->chain_head.data, 32);
                memcpy(checkpoint.trial_balance_digest, m->trial_balance_digest.data, 32);
                memcpy(checkpoint.signature, m->signature.data, 64);
            }
            if (!sizes || !have_key || !ledger_checkpoint_signature_valid(public_key ? public_key : key, &checkpoint)) {
                problem = "a signed checkpoint's signature does not verify under the public key";
                bad = m->sequence;
            }
            sequence_min = m->sequence + 1;
        }
        *key_name_out = public_key != NULL ? "given" : have_key ? "server" : "none";
        bool last_page = page->n_checkpoints < LEDGER_SIGNED_CHECKPOINTS_MAX;
        frame_response_free(response);
        if (problem != NULL) return audit_fail(options, LEDGER_ERR_VERIFY_FAILED, bad, problem);
        if (last_page) return 0;
    }
}

static int audit_verify_remote(const audit_options_t *options, const uint8_t *public_key) {
    client_t *client = NULL;
    int exit_code = cli_connect(&options->net, "audit verify", &client);
    const char *key_name = "none";
    if (!exit_code) exit_code = audit_signatures_remote(options, client, public_key, &key_name);
    Borsellino__V1__Response *response = NULL;
    if (!exit_code) {
        Borsellino__V1__AuditVerifyRequest query = BORSELLINO__V1__AUDIT_VERIFY_REQUEST__INIT;
        Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
        request.op_case = BORSELLINO__V1__REQUEST__OP_AUDIT_VERIFY;
        request.audit_verify = &query;
        exit_code = cli_call(client, &options->net, "audit verify", &request,
                             BORSELLINO__V1__RESPONSE__RESULT_AUDIT_VERIFY, &response);
    }
    client_close(client);
    if (exit_code) return exit_code;
    const Borsellino__V1__AuditVerifyResponse *report = response->audit_verify;
    if (!report->ok) {
        exit_code = audit_fail(options, LEDGER_ERR_VERIFY_FAILED, report->first_bad_sequence,
                               report->message);
    } else {
        audit_result_t result = {report->records_checked, report->accounts_checked,
                                 report->ledgers_checked, report->journal_sequence,
                                 report->signatures_checked, report->last_signed_sequence, {0},
                                 key_name, report->welfare_funders, report->welfare_providers, 0};
        if (report->chain_head.len == sizeof(result.chain_head)) {
            memcpy(result.chain_head, report->chain_head.data, sizeof(result.chain_head));
        }
        audit_print_ok(options, &result);
    }
    frame_response_free(response);
    return exit_code;
}

int audit_verify_main(int argc, char **argv) {
    audit_options_t options;
    int exit_code = audit_parse(argc, argv, &options);
    if (exit_code >= 0) return exit_code;
    uint8_t key[LEDGER_PUBLIC_KEY_SIZE];
    if (options.pubkey_path != NULL && ledger_public_key_read(options.pubkey_path, key) != 0) {
        return cli_usage_error("audit verify", "%s", ledger_last_error_message(NULL));
    }
    const uint8_t *public_key = options.pubkey_path != NULL ? key : NULL;
    return options.network ? audit_verify_remote(&options, public_key)
                           : audit_verify_offline(&options, public_key);
}

typedef struct audit_command {
    const char *name;
    int (*main)(int argc, char **argv);
} audit_command_t;

int cli_audit(int argc, char **argv) {
    static const audit_command_t commands[] = {
        {"verify", audit_verify_main},
        {"pubkey", audit_pubkey_main},
        {"sign", audit_sign_main},
        {"checkpoints", audit_checkpoints_main},
        {"proof", audit_proof_main},
        {"trial-balance", audit_trial_balance_main},
        {"balance", audit_balance_main},
        {"reconcile", audit_reconcile_main},
        {"export", audit_export_main},
        {"report", audit_report_main},
    };
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(audit_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].main(argc - 1, argv + 1);
    }
    return cli_usage_error("audit", "unknown subcommand %s (see borsellino audit --help)",
                           argv[1]);
}
