/* Flags and environment variables from tables of struct roost_option (see options.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/options.h"

/* Says why value was refused and what the option accepts. */
static void refuse(const char *prog, const char *what, const char *sep, const char *value,
                   const struct roost_option *o, int rc)
{
    char range[96];
    roost_option_range(o, range, sizeof(range));
    const char *why;
    if (rc == -ERANGE)
        why = o->kind == ROOST_OPT_POW2 ? "out of range or not a power of two" : "out of range";
    else if (o->kind == ROOST_OPT_COUNT || o->kind == ROOST_OPT_POW2)
        why = "not a number (digits only)";
    else if (o->kind == ROOST_OPT_BYTES)
        why = "not a size (digits, then optionally k, m or g)";
    else if (o->kind == ROOST_OPT_TEXT)
        why = "empty";
    else
        why = "not one of the accepted values";
    fprintf(stderr, "%s: %s%s'%s': %s; accepted: %s\n", prog, what, sep, value, why, range);
}

static bool is_bool_word(const char *v)
{
    static const struct roost_option probe = {.kind = ROOST_OPT_BOOL, .size = 1};
    bool b;
    return roost_option_set(&probe, &b, v) == 0;
}

int roost_cli_options(const char *prog, const struct roost_option *opts, size_t n, void *base,
                      int argc, char **argv)
{
    size_t bad = 0;
    int rc = roost_options_from_env(opts, n, base, &bad);
    if (rc < 0) {
        char var[64];
        roost_option_env_name(&opts[bad], var, sizeof(var));
        refuse(prog, var, "=", getenv(var), &opts[bad], rc);
        return -1;
    }
    int out = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            argv[out++] = argv[i];
            continue;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const struct roost_option *o = roost_option_find(opts, n, name, len);
        if (!o) {
            argv[out++] = argv[i];
            continue;
        }
        const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[i + 1] : NULL);
        if (!eq && o->kind == ROOST_OPT_BOOL && (!value || !is_bool_word(value)))
            value = "on"; /* a bare `--reuse-port` */
        else if (!eq && value)
            i++;
        char flag[48];
        snprintf(flag, sizeof(flag), "--%s", o->name);
        if (!value) {
            char range[96];
            roost_option_range(o, range, sizeof(range));
            fprintf(stderr, "%s: %s needs a value; accepted: %s\n", prog, flag, range);
            return -1;
        }
        rc = roost_option_set(o, base, value);
        if (rc < 0) {
            refuse(prog, flag, " ", value, o, rc);
            return -1;
        }
    }
    argv[out] = NULL;
    return out;
}

void roost_cli_options_help(const struct roost_option *opts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct roost_option *o = &opts[i];
        char flag[64], range[96];
        snprintf(flag, sizeof(flag), "--%s %s", o->name, o->values);
        roost_option_range(o, range, sizeof(range));
        printf("  %-34s %s\n  %-34s default %s", flag, o->help, "", o->def ? o->def : "none");
        if (o->kind == ROOST_OPT_COUNT || o->kind == ROOST_OPT_POW2 || o->kind == ROOST_OPT_BYTES)
            printf(", accepted %s", range);
        printf("\n");
    }
}

int roost_cli_config(struct roost_config *cfg, int argc, char **argv)
{
    size_t n;
    const struct roost_option *opts = roost_config_options(&n);
    return roost_cli_options("roost", opts, n, cfg, argc, argv);
}

void roost_cli_config_help(void)
{
    size_t n;
    const struct roost_option *opts = roost_config_options(&n);
    printf("runtime switches (also as environment variables ROOST_<NAME>, e.g. ROOST_RUN_ON):\n");
    roost_cli_options_help(opts, n);
}
