/*
 * audit_cli.h — the `borsellino audit` subcommands, one function each.
 *
 * tools/audit.c parses `audit SUBCOMMAND` and calls the function here with
 * argv[0] = the subcommand's name; each one parses its own options, prints
 * its own --help, and returns a CLI_EXIT_* code (cli.h).
 *
 *   verify         tools/audit.c          the whole check, offline or over
 *                                         the network
 *   pubkey, sign,  tools/audit_sign.c     the signing key and signed
 *   checkpoints                           checkpoints
 *   proof          tools/audit_proof.c    an inclusion proof for a transfer
 *   trial-balance, tools/audit_export.c   the trial balance and balances at a
 *   balance,                              time, reconciliation per funder and
 *   reconcile,                            provider, and the CSV / JSON Lines
 *   export                                exports
 *   report         tools/audit_report.c   the self-contained HTML report
 */
#ifndef BORSELLINO_TOOLS_AUDIT_CLI_H
#define BORSELLINO_TOOLS_AUDIT_CLI_H

int audit_verify_main(int argc, char **argv);
int audit_pubkey_main(int argc, char **argv);
int audit_sign_main(int argc, char **argv);
int audit_checkpoints_main(int argc, char **argv);
int audit_proof_main(int argc, char **argv);
int audit_trial_balance_main(int argc, char **argv);
int audit_balance_main(int argc, char **argv);
int audit_reconcile_main(int argc, char **argv);
int audit_export_main(int argc, char **argv);
int audit_report_main(int argc, char **argv);

#endif
