#include "cli.h"
int cli_bench_ledger(int argc, char **argv) { (void)argc; (void)argv; return 1; }
