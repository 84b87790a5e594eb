/*
 * audit_proof.c — `borsellino audit proof`: an inclusion proof for one
 * journal record (a transfer, by id or by sequence), that anyone can check
 * with the `openssl` command-line tool and coreutils alone
 * (docs/audit.md, "Checking an inclusion proof").
 *
 * The proof is a directory:
 *   previous_hash.bin   the chain hash of the record before (32 bytes)
 *   records/NNNNNNNNNNNNNNNNNNNN.bin
 *                       the raw 264-byte journal records from the proven
 *                       one to the signed checkpoint, one file each, named
 *                       by sequence (zero-padded: names sort in order)
 *   checkpoint.msg      the 96-byte signed checkpoint message (audit.h)
 *   checkpoint.sig      its 64-byte Ed25519 signature
 *   public.pem          the directory's public key (check with your own)
 *   record.json         the proven record, decoded, for people
 *   README.txt          what the files are and how to check them
 * The checkpoint is the first signed one at or after the record. Each
 * record's chain hash is SHA-256(previous hash ‖ its bytes 4..231) and is
 * stored in its bytes 232..263; the last one must be the chain head the
 * checkpoint signs. The data directory is opened read-only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "audit.h"
#include "audit_cli.h"
#include "cli.h"

enum {
    /* Records a proof may hold by default: a signed checkpoint further away
     * than this is a sign to `audit sign` first. */
    PROOF_RECORDS_DEFAULT_MAX = 100000,
    PROOF_PATH_SIZE = 4096,
    PROOF_PEM_SIZE = 256,
};

static const char proof_help[] =
    "usage: borsellino audit proof (--transfer ID | --sequence N) --out DIR\n"
    "                              [--data DIR] [--max-records N] [--json]\n"
    "\n"
    "Writes an inclusion proof for one journal record: the chain of raw\n"
    "records from it to the first signed checkpoint at or after it, the\n"
    "signed checkpoint and its signature, and the public key. Anyone can check\n"
    "it with openssl and coreutils alone, without borsellino: the procedure is\n"
    "in DIR/README.txt and docs/audit.md. Opens the data directory read-only.\n"
    "\n"
    "  --transfer ID     the transfer to prove (its id, as `transfer lookup` takes)\n"
    "  --sequence N      or any journal record, by sequence\n"
    "  --out DIR         the proof directory to create (must not exist)\n"
    "  --data DIR        data directory (default: ./" CLI_DATA_PATH_DEFAULT ")\n"
    "  --max-records N   refuse a proof longer than N records (default 100000):\n"
    "                    have the state signed first (audit sign) for a short one\n"
    "  --json            print {\"sequence\": N, \"checkpoint_sequence\": N,\n"
    "                    \"records\": N, \"out\": DIR} on success\n"
    "\n"
    "Exit codes: 0 written; 1 no such transfer or record, no signed checkpoint\n"
    "covers it yet (run `borsellino audit sign`), or it is too far; 2 bad usage.\n";

static const char proof_readme[] =
    "Inclusion proof of one borsellino journal record.\n"
    "\n"
    "  previous_hash.bin   chain hash of the record before the proven one\n"
    "  records/*.bin       raw 264-byte journal records, the proven one first,\n"
    "                      up to the signed checkpoint's; bytes 232..263 of each\n"
    "                      hold its chain hash = SHA-256(previous ‖ bytes 4..231)\n"
    "  checkpoint.msg      signed message: \"borsellino-cp-v1\", u64 sequence,\n"
    "                      32-byte chain head, u64 time, 32-byte trial balance\n"
    "                      digest (integers little-endian)\n"
    "  checkpoint.sig      Ed25519 signature of checkpoint.msg\n"
    "  public.pem          the ledger's public key; check with a copy you got\n"
    "                      independently (borsellino audit pubkey)\n"
    "  record.json         the proven record, decoded\n"
    "\n"
    "Check it (bash, openssl, coreutils), with PUB your copy of the key:\n"
    "\n"
    "  set -eu\n"
    "  openssl pkeyutl -verify -pubin -inkey \"$PUB\" -rawin \\\n"
    "      -in checkpoint.msg -sigfile checkpoint.sig\n"
    "  cp previous_hash.bin hash.bin\n"
    "  for record in records/*.bin; do\n"
    "    { cat hash.bin; tail -c +5 \"$record\" | head -c 228; } |\n"
    "      openssl dgst -sha256 -binary > hash.next\n"
    "    tail -c 32 \"$record\" | cmp - hash.next\n"
    "    mv hash.next hash.bin\n"
    "  done\n"
    "  tail -c +25 checkpoint.msg | head -c 32 | cmp - hash.bin\n"
    "  tail -c +9 \"$record\" | head -c 8 | cmp - <(tail -c +17 checkpoint.msg | head -c 8)\n"
    "  echo \"proof holds\"\n";

typedef struct proof_options {
    const char *data_path;
    const char *out_path;
    ledger_u128_t transfer_id;
    bool by_transfer;
    uint64_t sequence;
    uint64_t records_max;
    bool json;
} proof_options_t;

static int proof_parse(int argc, char **argv, proof_options_t *options) {
    memset(options, 0, sizeof(*options));
    options->data_path = CLI_DATA_PATH_DEFAULT;
    options->records_max = PROOF_RECORDS_DEFAULT_MAX;
    const char *command = "audit proof";
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(proof_help, stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(arg, "--json") == 0) {
            options->json = true;
        } else if (strcmp(arg, "--data") == 0 && has_value) {
            options->data_path = argv[++i];
        } else if (strcmp(arg, "--out") == 0 && has_value) {
            options->out_path = argv[++i];
        } else if (strcmp(arg, "--transfer") == 0 && has_value) {
            if (!cli_parse_named_id(argv[++i], &options->transfer_id)) {
                return cli_usage_error(command, "--transfer needs an id, not \"%s\"", argv[i]);
            }
            options->by_transfer = true;
        } else if (strcmp(arg, "--sequence") == 0 && has_value) {
            if (!cli_parse_u64(argv[++i], UINT64_MAX, &options->sequence) || options->sequence == 0) {
                return cli_usage_error(command, "--sequence needs a journal sequence (1 or more)");
            }
        } else if (strcmp(arg, "--max-records") == 0 && has_value) {
            if (!cli_parse_u64(argv[++i], UINT64_MAX, &options->records_max) ||
                options->records_max == 0) {
                return cli_usage_error(command, "--max-records needs a number of 1 or more");
            }
        } else {
            return cli_usage_error(command, "unknown option %s (see --help)", arg);
        }
    }
    if (options->by_transfer == (options->sequence != 0)) {
        return cli_usage_error(command, "give exactly one of --transfer ID and --sequence N");
    }
    if (options->out_path == NULL) return cli_usage_error(command, "--out DIR is required");
    return -1;
}

/* path = directory/name; ENAMETOOLONG rather than a cut path, which would
 * name another file. */
static int path_join(char path[PROOF_PATH_SIZE], const char *directory, const char *name) {
    int length = snprintf(path, PROOF_PATH_SIZE, "%s/%s", directory, name);
    return length < 0 || length >= PROOF_PATH_SIZE ? ENAMETOOLONG : 0;
}

static int file_write(const char *directory, const char *name, const void *bytes, size_t size) {
    char path[PROOF_PATH_SIZE];
    int error = path_join(path, directory, name);
    if (error) return error;
    FILE *file = fopen(path, "wb");
    if (file == NULL) return errno;
    size_t written = fwrite(bytes, 1, size, file);
    error = fclose(file) != 0 || written != size ? (errno ? errno : EIO) : 0;
    return error;
}

/* Finds the first signed checkpoint at or after `sequence`. */
static int proof_checkpoint(ledger_t *ledger, uint64_t sequence,
                            ledger_signed_checkpoint_t *checkpoint_out, bool *found_out) {
    uint32_t count = 0;
    int error = ledger_signed_checkpoints(ledger, sequence, checkpoint_out, 1, &count);
    *found_out = !error && count == 1;
    return error;
}

static void record_json_write(FILE *out, const ledger_journal_entry_t *entry) {
    static const char *const kinds[] = {"?", "account", "transfer", "expiry", "failed"};
    fprintf(out, "{\"sequence\": %" PRIu64 ", \"kind\": \"%s\", \"transfer\": ", entry->sequence,
            entry->kind <= LEDGER_EVENT_FAILED ? kinds[entry->kind] : "?");
    cli_json_transfer(out, &entry->transfer);
    fputs("}\n", out);
}

/* ledger_journal_fn: keeps the one entry scanned. */
static int proof_capture(void *context, const ledger_journal_entry_t *entry) {
    *(ledger_journal_entry_t *)context = *entry;
    return 0;
}

/* previous_hash.bin and records/, from `from` to `to`. */
static int proof_write_records(ledger_t *ledger, const char *out_path, uint64_t from,
                               uint64_t to) {
    char records_path[PROOF_PATH_SIZE];
    int error = path_join(records_path, out_path, "records");
    if (error) return error;
    if (mkdir(records_path, 0755) != 0) return errno;
    for (uint64_t sequence = from; sequence <= to; sequence++) {
        uint8_t record[LEDGER_JOURNAL_RECORD_SIZE];
        uint8_t previous[LEDGER_DIGEST_SIZE];
        error = ledger_journal_record_bytes(ledger, sequence, record, previous);
        if (!error && sequence == from) {
            error = file_write(out_path, "previous_hash.bin", previous, sizeof previous);
        }
        char name[64];
        snprintf(name, sizeof name, "%020" PRIu64 ".bin", sequence);
        if (!error) error = file_write(records_path, name, record, sizeof record);
        if (error) return error;
    }
    return 0;
}

/* record.json: the proven record, decoded, for people. */
static int proof_write_json(ledger_t *ledger, const char *out_path, uint64_t sequence) {
    ledger_journal_entry_t found;
    memset(&found, 0, sizeof found);
    int error = ledger_journal_scan(ledger, sequence, sequence, proof_capture, &found);
    if (error) return error;
    char path[PROOF_PATH_SIZE];
    error = path_join(path, out_path, "record.json");
    if (error) return error;
    FILE *out = fopen(path, "w");
    if (out == NULL) return errno;
    record_json_write(out, &found);
    return fclose(out) != 0 ? errno : 0;
}

/* checkpoint.msg, checkpoint.sig, public.pem, README.txt. */
static int proof_write_checkpoint(ledger_t *ledger, const char *out_path,
                                  const ledger_signed_checkpoint_t *checkpoint) {
    uint8_t message[LEDGER_CHECKPOINT_MESSAGE_SIZE];
    ledger_checkpoint_message(checkpoint, message);
    uint8_t key[LEDGER_PUBLIC_KEY_SIZE];
    bool found = false;
    char pem[PROOF_PEM_SIZE];
    int error = file_write(out_path, "checkpoint.msg", message, sizeof message);
    if (!error) error = file_write(out_path, "checkpoint.sig", checkpoint->signature,
                                   LEDGER_SIGNATURE_SIZE);
    if (!error) error = ledger_public_key(ledger, key, &found);
    if (!error && found) error = ledger_public_key_pem(key, pem, sizeof pem);
    if (!error && found) error = file_write(out_path, "public.pem", pem, strlen(pem));
    if (!error) error = file_write(out_path, "README.txt", proof_readme, strlen(proof_readme));
    return error;
}

/* Which record, and which checkpoint covers it. Returns 0 or an exit code
 * after reporting. */
static int proof_locate(ledger_t *ledger, const proof_options_t *options, uint64_t *sequence_out,
                        ledger_signed_checkpoint_t *checkpoint_out) {
    const char *command = "borsellino audit proof";
    uint64_t sequence = options->sequence;
    bool found = true;
    int error = 0;
    if (options->by_transfer) error = ledger_transfer_sequence(ledger, options->transfer_id,
                                                                &sequence, &found);
    ledger_stats_t stats;
    if (!error) error = ledger_stats(ledger, &stats);
    if (!error && (!found || sequence > stats.journal_sequence)) {
        fprintf(stderr, "%s: %s: no such %s in the journal\n", command, options->data_path,
                options->by_transfer ? "transfer" : "record");
        return CLI_EXIT_FAILURE;
    }
    if (!error) error = proof_checkpoint(ledger, sequence, checkpoint_out, &found);
    if (error) {
        fprintf(stderr, "%s: %s: %s\n", command, options->data_path, ledger_strerror(error));
        return CLI_EXIT_FAILURE;
    }
    if (!found) {
        fprintf(stderr, "%s: record %" PRIu64 " is after the last signed checkpoint: have the "
                "state signed first (borsellino audit sign), then ask again\n", command, sequence);
        return CLI_EXIT_FAILURE;
    }
    if (checkpoint_out->sequence - sequence + 1 > options->records_max) {
        fprintf(stderr, "%s: the first signed checkpoint after record %" PRIu64 " is at %" PRIu64
                ", %" PRIu64 " records away (more than --max-records): sign the state now "
                "(borsellino audit sign) for a shorter proof of later records, or raise "
                "--max-records\n", command, sequence, checkpoint_out->sequence,
                checkpoint_out->sequence - sequence + 1);
        return CLI_EXIT_FAILURE;
    }
    *sequence_out = sequence;
    return 0;
}

int audit_proof_main(int argc, char **argv) {
    proof_options_t options;
    int exit_code = proof_parse(argc, argv, &options);
    if (exit_code >= 0) return exit_code;
    ledger_options_t ledger_options;
    memset(&ledger_options, 0, sizeof ledger_options);
    ledger_options.read_only = true;
    ledger_t *ledger = NULL;
    if (ledger_open(options.data_path, &ledger_options, &ledger) != 0) {
        fprintf(stderr, "borsellino audit proof: %s: %s\n", options.data_path,
                ledger_last_error_message(NULL));
        return CLI_EXIT_FAILURE;
    }
    uint64_t sequence = 0;
    ledger_signed_checkpoint_t checkpoint;
    exit_code = proof_locate(ledger, &options, &sequence, &checkpoint);
    int error = 0;
    if (!exit_code) {
        error = mkdir(options.out_path, 0755) != 0 ? errno : 0;
        if (!error) error = proof_write_records(ledger, options.out_path, sequence,
                                                checkpoint.sequence);
        if (!error) error = proof_write_json(ledger, options.out_path, sequence);
        if (!error) error = proof_write_checkpoint(ledger, options.out_path, &checkpoint);
    }
    (void)ledger_close(ledger);
    if (exit_code) return exit_code;
    if (error) {
        fprintf(stderr, "borsellino audit proof: cannot write the proof into %s: %s\n",
                options.out_path, ledger_strerror(error));
        return CLI_EXIT_FAILURE;
    }
    uint64_t records = checkpoint.sequence - sequence + 1;
    if (options.json) {
        printf("{\"sequence\": %" PRIu64 ", \"checkpoint_sequence\": %" PRIu64
               ", \"records\": %" PRIu64 ", \"out\": ", sequence, checkpoint.sequence, records);
        cli_json_string(stdout, options.out_path);
        puts("}");
    } else {
        printf("proof of record %" PRIu64 " written to %s: %" PRIu64 " records up to the "
               "checkpoint signed at sequence %" PRIu64 "\ncheck it with %s/README.txt "
               "(openssl and coreutils only)\n", sequence, options.out_path, records,
               checkpoint.sequence, options.out_path);
    }
    return CLI_EXIT_OK;
}
