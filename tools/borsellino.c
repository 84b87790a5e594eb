/*
 * borsellino.c — the `borsellino` command-line tool: dispatches to its
 * subcommands and prints the truth about them in --help. The client
 * commands (account, transfer, status, bench, welfare) talk to borsellinod
 * over the protocol through client.c; demo and bench-ledger open a data
 * directory in-process.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "import.h"

static const char usage[] =
    "usage: borsellino COMMAND [OPTIONS]\n"
    "\n"
    "Commands talking to a borsellinod server (--addr HOST:PORT, default\n"
    CLIENT_ADDRESS_DEFAULT "; --json for scripts):\n"
    "  account create|lookup|history|balance\n"
    "                create accounts, show them, their history and balances\n"
    "  transfer create|post|void|lookup\n"
    "                move money (one transfer, or a batch from a CSV or JSON\n"
    "                Lines file), complete or cancel pending transfers, show them\n"
    "  status        the server's version, journal, accounts, storage and limits\n"
    "  bench         load generator over the protocol: transfers/s, batch latency\n"
    "                percentiles, then checks the server's balances\n"
    "  welfare       the welfare layer: rules (categories, fringe caps), funders,\n"
    "                providers, employees, plans; fund, grant, purchase, hold and\n"
    "                capture, void, refund, reimburse, sweep, offboard, payout;\n"
    "                wallets and statements (borsellino welfare --help)\n"
    "\n"
    "Commands working on a data directory in-process (no server):\n"
    "  demo          seed a small Cremona-like welfare platform into a data\n"
    "                directory (--data DIR, default ./borsellino-data): funders,\n"
    "                providers, employees, purchases, a refund, a reimbursement,\n"
    "                a payout; prints wallets and statements, verifies the books;\n"
    "                idempotent (a second run changes nothing)\n"
    "  bench-ledger  measure the engine in-process (transfers/s) against the\n"
    "                storage-only limit of this machine\n"
    "  bench-welfare measure the welfare layer in-process: bulk grant, purchases/s\n"
    "                (fee split, cap check), expiry sweep of every pot\n"
    "  audit         the auditor's tools: verify (checksums, hash chain,\n"
    "                balances, signed checkpoints, welfare identities), pubkey,\n"
    "                sign, checkpoints, proof, trial-balance, balance, reconcile,\n"
    "                export, report (borsellino audit --help)\n"
    "  backup        copy a data directory while a server keeps serving from it:\n"
    "                one consistent, compacted snapshot (--out DIR); start a\n"
    "                server on the copy with `borsellinod --data DIR`\n"
    "  certs         development TLS certificates (--out DIR): a CA, the server's,\n"
    "                one client certificate per role and the roles file\n"
    "\n"
    "TLS: client commands take --tls-cert, --tls-key and --tls-ca (or the\n"
    "BORSELLINO_TLS_CERT, BORSELLINO_TLS_KEY and BORSELLINO_TLS_CA variables).\n"
    "\n"
    "Run `borsellino COMMAND --help` for a command's options.\n"
    "Exit codes: 0 success, 1 the operation failed, 2 bad usage.\n";

bool cli_parse_count(const char *text, uint64_t *value_out) {
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || end == text || text[0] == '-') return false;
    uint64_t multiplier = 1;
    if (*end == 'k') multiplier = 1000, end++;
    else if (*end == 'M') multiplier = 1000000, end++;
    if (*end != '\0') return false;
    if (value > UINT64_MAX / multiplier) return false;
    *value_out = value * multiplier;
    return true;
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "demo") == 0) return cli_demo(argc - 1, argv + 1);
    if (strcmp(argv[1], "bench-ledger") == 0) return cli_bench_ledger(argc - 1, argv + 1);
    if (strcmp(argv[1], "bench-welfare") == 0) return cli_bench_welfare(argc - 1, argv + 1);
    if (strcmp(argv[1], "account") == 0) return cli_account(argc - 1, argv + 1);
    if (strcmp(argv[1], "transfer") == 0) return cli_transfer(argc - 1, argv + 1);
    if (strcmp(argv[1], "status") == 0) return cli_status(argc - 1, argv + 1);
    if (strcmp(argv[1], "bench") == 0) return cli_bench(argc - 1, argv + 1);
    if (strcmp(argv[1], "audit") == 0) return cli_audit(argc - 1, argv + 1);
    if (strcmp(argv[1], "backup") == 0) return cli_backup(argc - 1, argv + 1);
    if (strcmp(argv[1], "certs") == 0) return cli_certs(argc - 1, argv + 1);
    if (strcmp(argv[1], "welfare") == 0) return cli_welfare(argc - 1, argv + 1);
    if (strcmp(argv[1], "import") == 0) return cli_import(argc - 1, argv + 1);
    fprintf(stderr, "borsellino: unknown command %s\n\n%s", argv[1], usage);
    return CLI_EXIT_USAGE;
}
