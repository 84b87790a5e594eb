/*
 * audit_sign.c — `borsellino audit pubkey | sign | checkpoints`: the
 * directory's public signing key, signing the current state, and the list
 * of signed checkpoints (ledger/audit.h).
 *
 * pubkey and checkpoints open the data directory read-only (safe while a
 * server runs). sign asks the server (--addr) or, with --data, opens the
 * directory for writing, which must then not be served by a borsellinod:
 * the server's own signatures go through --addr.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "audit_cli.h"
#include "cli.h"
#include "frame.h"

enum {
    AUDIT_PEM_TEXT_SIZE = 256,
    AUDIT_HEX_TEXT_SIZE = 2 * LEDGER_SIGNATURE_SIZE + 1,
};

static void hex_text(const uint8_t *bytes, size_t size, char *text) {
    for (size_t i = 0; i < size; i++) snprintf(text + 2 * i, 3, "%02x", bytes[i]);
}

static int open_read_only(const char *command, const char *data_path, ledger_t **ledger_out) {
    ledger_options_t options;
    memset(&options, 0, sizeof options);
    options.read_only = true;
    int error = ledger_open(data_path, &options, ledger_out);
    if (error == 0) return 0;
    fprintf(stderr, "borsellino %s: %s: %s\n", command, data_path, ledger_last_error_message(NULL));
    return CLI_EXIT_FAILURE;
}

/* One checkpoint as text: a JSON object, or a human line. */
static void checkpoint_print(const ledger_signed_checkpoint_t *checkpoint, bool json) {
    char head[AUDIT_HEX_TEXT_SIZE], digest[AUDIT_HEX_TEXT_SIZE], signature[AUDIT_HEX_TEXT_SIZE];
    char when[CLI_TIMESTAMP_TEXT_SIZE];
    hex_text(checkpoint->chain_head, LEDGER_DIGEST_SIZE, head);
    hex_text(checkpoint->trial_balance_digest, LEDGER_DIGEST_SIZE, digest);
    hex_text(checkpoint->signature, LEDGER_SIGNATURE_SIZE, signature);
    cli_format_timestamp(checkpoint->timestamp, when);
    if (json) {
        printf("{\"sequence\": %" PRIu64 ", \"timestamp\": %" PRIu64 ", \"signed_at\": \"%s\", "
               "\"chain_head\": \"%s\", \"trial_balance_digest\": \"%s\", \"signature\": \"%s\"}",
               checkpoint->sequence, checkpoint->timestamp, when, head, digest, signature);
    } else {
        printf("sequence %" PRIu64 "  signed %s\n  chain head %s\n  trial balance %s\n"
               "  signature %s\n", checkpoint->sequence, when, head, digest, signature);
    }
}

/* ---- pubkey ---- */

static const char pubkey_help[] =
    "usage: borsellino audit pubkey [--data DIR] [--out FILE]\n"
    "\n"
    "Prints the public half of the directory's checkpoint signing key as a PEM\n"
    "\"PUBLIC KEY\" block (what `openssl pkey -pubin` reads). Keep a copy\n"
    "obtained independently of the server: `audit verify --pubkey FILE` checks\n"
    "the signatures under it. Opens the directory read-only.\n"
    "\n"
    "  --data DIR   data directory (default: ./" CLI_DATA_PATH_DEFAULT ")\n"
    "  --out FILE   write the PEM to FILE instead of stdout\n"
    "  --json       print {\"public_key\": HEX (32 raw bytes), \"pem\": TEXT} instead\n"
    "\n"
    "Exit codes: 0 printed; 1 no such directory, or it has no key yet (it was\n"
    "formatted before signing existed and never opened by a server since);\n"
    "2 bad usage.\n";

int audit_pubkey_main(int argc, char **argv) {
    const char *data_path = CLI_DATA_PATH_DEFAULT;
    const char *out_path = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(pubkey_help, stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--json") == 0) json = true;
        else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) data_path = argv[++i];
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) out_path = argv[++i];
        else return cli_usage_error("audit pubkey", "unknown option %s (see --help)", argv[i]);
    }
    ledger_t *ledger = NULL;
    if (open_read_only("audit pubkey", data_path, &ledger)) return CLI_EXIT_FAILURE;
    uint8_t key[LEDGER_PUBLIC_KEY_SIZE];
    bool found = false;
    int error = ledger_public_key(ledger, key, &found);
    (void)ledger_close(ledger);
    char pem[AUDIT_PEM_TEXT_SIZE];
    if (!error && found) error = ledger_public_key_pem(key, pem, sizeof pem);
    if (error || !found) {
        fprintf(stderr, "borsellino audit pubkey: %s: %s\n", data_path,
                error ? ledger_strerror(error)
                      : "the directory has no signing key yet: start borsellinod on it once");
        return CLI_EXIT_FAILURE;
    }
    if (json) {
        char hex[2 * LEDGER_PUBLIC_KEY_SIZE + 1];
        hex_text(key, sizeof key, hex);
        printf("{\"public_key\": \"%s\", \"pem\": ", hex);
        cli_json_string(stdout, pem);
        puts("}");
        return CLI_EXIT_OK;
    }
    FILE *out = out_path ? fopen(out_path, "w") : stdout;
    if (out == NULL) {
        fprintf(stderr, "borsellino audit pubkey: cannot write %s\n", out_path);
        return CLI_EXIT_FAILURE;
    }
    fputs(pem, out);
    bool failed = ferror(out) != 0;
    if (out_path != NULL) failed = fclose(out) != 0 || failed;
    return failed ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}

/* ---- sign ---- */

static const char sign_help[] =
    "usage: borsellino audit sign [--addr HOST:PORT | --data DIR [--signing-key FILE]] [--json]\n"
    "\n"
    "Has the current state signed: the last journal record's sequence, the\n"
    "chain head and the trial balance digest, with the signing time, under the\n"
    "directory's Ed25519 key; the signed checkpoint is stored for good and\n"
    "printed. The server also signs at every checkpoint and when it stops.\n"
    "A state already signed prints the stored checkpoint.\n"
    "\n"
    "  --addr H:P          ask the server at H:P (default " CLIENT_ADDRESS_DEFAULT ")\n"
    "  --data DIR          sign a directory no server is running on, directly\n"
    "  --signing-key FILE  with --data: the private key (default DIR/signing.key)\n"
    "  --json              the checkpoint as one JSON object\n"
    "  --timeout-ms MS     with --addr: how long to wait (default 10000)\n"
    "\n"
    "Exit codes: 0 signed; 1 the server or the directory refused (the message\n"
    "says why: no key, a key other users can read, storage full); 2 bad usage.\n";

static int sign_offline(const char *data_path, const char *key_path, bool json) {
    ledger_options_t options;
    memset(&options, 0, sizeof options);
    options.signing_key_path = key_path;
    ledger_t *ledger = NULL;
    int error = ledger_open(data_path, &options, &ledger);
    if (error) {
        fprintf(stderr, "borsellino audit sign: %s: %s\n", data_path, ledger_last_error_message(NULL));
        return CLI_EXIT_FAILURE;
    }
    ledger_signed_checkpoint_t checkpoint;
    error = ledger_sign_checkpoint(ledger, &checkpoint);
    if (error) {
        fprintf(stderr, "borsellino audit sign: %s: %s (%s)\n", data_path, ledger_strerror(error),
                ledger_last_error_message(ledger));
    }
    /* Only the signature is written: no account checkpoint from here. */
    ledger_close_without_checkpoint(ledger);
    if (error) return CLI_EXIT_FAILURE;
    checkpoint_print(&checkpoint, json);
    if (json) putchar('\n');
    return CLI_EXIT_OK;
}

static void checkpoint_from_message(const Borsellino__V1__SignedCheckpoint *message,
                                    ledger_signed_checkpoint_t *checkpoint) {
    memset(checkpoint, 0, sizeof(*checkpoint));
    checkpoint->sequence = message->sequence;
    checkpoint->timestamp = message->timestamp;
    if (message->chain_head.len == LEDGER_DIGEST_SIZE) {
        memcpy(checkpoint->chain_head, message->chain_head.data, LEDGER_DIGEST_SIZE);
    }
    if (message->trial_balance_digest.len == LEDGER_DIGEST_SIZE) {
        memcpy(checkpoint->trial_balance_digest, message->trial_balance_digest.data,
               LEDGER_DIGEST_SIZE);
    }
    if (message->signature.len == LEDGER_SIGNATURE_SIZE) {
        memcpy(checkpoint->signature, message->signature.data, LEDGER_SIGNATURE_SIZE);
    }
}

static int sign_remote(const cli_net_options_t *options) {
    Borsellino__V1__AuditSignRequest sign = BORSELLINO__V1__AUDIT_SIGN_REQUEST__INIT;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_AUDIT_SIGN;
    request.audit_sign = &sign;
    client_t *client = NULL;
    Borsellino__V1__Response *response = NULL;
    int exit_code = cli_connect(options, "audit sign", &client);
    if (!exit_code) {
        exit_code = cli_call(client, options, "audit sign", &request,
                             BORSELLINO__V1__RESPONSE__RESULT_AUDIT_SIGN, &response);
    }
    client_close(client);
    if (exit_code) return exit_code;
    ledger_signed_checkpoint_t checkpoint;
    if (response->audit_sign->checkpoint != NULL) {
        checkpoint_from_message(response->audit_sign->checkpoint, &checkpoint);
        checkpoint_print(&checkpoint, options->json);
        if (options->json) putchar('\n');
    }
    frame_response_free(response);
    return CLI_EXIT_OK;
}

int audit_sign_main(int argc, char **argv) {
    cli_net_options_t options;
    cli_net_options_init(&options);
    const char *data_path = NULL;
    const char *key_path = NULL;
    bool address_given = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(sign_help, stdout);
            return CLI_EXIT_OK;
        }
        bool is_address = strcmp(argv[i], "--addr") == 0 || strcmp(argv[i], "--address") == 0;
        int common = cli_net_option(argc, argv, &i, "audit sign", &options);
        if (common < 0) return CLI_EXIT_USAGE;
        if (common > 0) {
            address_given = address_given || is_address;
        } else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
            data_path = argv[++i];
        } else if (strcmp(argv[i], "--signing-key") == 0 && i + 1 < argc) {
            key_path = argv[++i];
        } else {
            return cli_usage_error("audit sign", "unknown option %s (see --help)", argv[i]);
        }
    }
    if (data_path != NULL && address_given) {
        return cli_usage_error("audit sign", "give --data or --addr, not both");
    }
    if (key_path != NULL && data_path == NULL) {
        return cli_usage_error("audit sign", "--signing-key goes with --data (a server "
                               "signs with its own key)");
    }
    return data_path != NULL ? sign_offline(data_path, key_path, options.json)
                             : sign_remote(&options);
}

/* ---- checkpoints ---- */

static const char checkpoints_help[] =
    "usage: borsellino audit checkpoints [--data DIR] [--from SEQUENCE] [--json]\n"
    "\n"
    "Lists the signed checkpoints of a data directory (opened read-only), in\n"
    "sequence order: sequence, signing time, chain head, trial balance digest\n"
    "and signature, all hex. `audit verify` checks them against the journal.\n"
    "\n"
    "  --data DIR       data directory (default: ./" CLI_DATA_PATH_DEFAULT ")\n"
    "  --from SEQUENCE  only those at or after this journal sequence\n"
    "  --json           one JSON array of objects with those fields\n"
    "\n"
    "Exit codes: 0 listed (possibly none); 1 the directory cannot be read;\n"
    "2 bad usage.\n";

int audit_checkpoints_main(int argc, char **argv) {
    const char *data_path = CLI_DATA_PATH_DEFAULT;
    uint64_t sequence_min = 0;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(checkpoints_help, stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
            data_path = argv[++i];
        } else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc) {
            if (!cli_parse_u64(argv[++i], UINT64_MAX, &sequence_min)) {
                return cli_usage_error("audit checkpoints", "--from needs a sequence number");
            }
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else {
            return cli_usage_error("audit checkpoints", "unknown option %s (see --help)", argv[i]);
        }
    }
    ledger_t *ledger = NULL;
    if (open_read_only("audit checkpoints", data_path, &ledger)) return CLI_EXIT_FAILURE;
    static ledger_signed_checkpoint_t page[LEDGER_SIGNED_CHECKPOINTS_MAX];
    uint32_t count = 0;
    uint64_t listed = 0;
    int error = 0;
    if (json) putchar('[');
    do {
        error = ledger_signed_checkpoints(ledger, sequence_min, page,
                                          LEDGER_SIGNED_CHECKPOINTS_MAX, &count);
        for (uint32_t i = 0; i < count && !error; i++, listed++) {
            if (json && listed > 0) fputs(", ", stdout);
            checkpoint_print(&page[i], json);
            sequence_min = page[i].sequence + 1;
        }
    } while (!error && count == LEDGER_SIGNED_CHECKPOINTS_MAX);
    if (json) puts("]");
    else if (!error && listed == 0) puts("no signed checkpoints");
    if (error) {
        fprintf(stderr, "borsellino audit checkpoints: %s: %s\n", data_path,
                ledger_last_error_message(ledger));
    }
    (void)ledger_close(ledger);
    return error ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}
