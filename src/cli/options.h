/*
 * The command line's flags. Every flag comes from a table of struct roost_option
 * (include/roost/config.h) generated from an X-macro list, one line per flag:
 *
 *   X(name, field, kind, default, min, max, values, help)
 *
 * The runtime switches are ROOST_CONFIG_SWITCHES (struct roost_config); `roost serve`'s
 * own flags are ROOST_SERVE_FLAGS in src/cli/serve.c (struct serve_flags). From one line,
 * the same machinery gives the `--name value` / `--name=value` flag, the ROOST_<NAME>
 * environment variable (dashes as underscores), the range check with its error message,
 * and the line in `--help`.
 *
 * Adding a flag to `roost serve`:
 *   1. add its field to struct serve_flags (or to struct roost_http_server_opts, which
 *      serve_flags embeds as `http`);
 *   2. add one line to ROOST_SERVE_FLAGS, e.g.
 *        X("send-timeout-ms", http.send_timeout_ms, ROOST_OPT_COUNT, "30000", 1, 86400000,
 *          "MS", "close a connection whose send makes no progress this long")
 *      kinds: ROOST_OPT_COUNT (digits in [min, max]), ROOST_OPT_POW2, ROOST_OPT_BYTES (k/m/g
 *      suffixes), ROOST_OPT_BOOL (on|off), ROOST_OPT_ENUM ("a|b|c", stored as the index),
 *      ROOST_OPT_TEXT (a string);
 *   3. use the field; document the flag in README.md's serve table.
 * test_core_config checks every default parses and lies within its range.
 */
#ifndef ROOST_CLI_OPTIONS_H
#define ROOST_CLI_OPTIONS_H

#include <stddef.h>

#include <roost/config.h>

/*
 * Applies the ROOST_<NAME> environment variables of opts[0..n), then their flags among
 * argv[1..argc) (`--name=value` or `--name value`), storing into base and removing the
 * flags it used from argv. Returns the new argc, or -1 after printing to stderr which flag
 * or variable was refused, why, and what it accepts.
 */
int roost_cli_options(const char *prog, const struct roost_option *opts, size_t n, void *base,
                      int argc, char **argv);

/* Prints one help line per option: flag, values, help, default and range. */
void roost_cli_options_help(const struct roost_option *opts, size_t n);

/* roost_cli_options for the runtime switches (ROOST_CONFIG_SWITCHES). */
int roost_cli_config(struct roost_config *cfg, int argc, char **argv);

/* Prints the runtime switches, for --help texts. */
void roost_cli_config_help(void);

#endif
