#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/options.h"

static const struct {
    const char *name;
    const char *values;
    const char *help;
} switches[] = {
    {"reactors", "N", "reactor threads (default: one per online CPU)"},
    {"resume", "inline|posted", "how ring completions resume tasks"},
    {"run-on", "reactor|pool", "where task continuations after ring completions run"},
    {"wake", "coalesced|per-item", "eventfd writes: one per park, or one per posted item"},
    {"affinity", "on|off", "reactor threads carry a scheduling context"},
    {"speculative", "on|off", "try the syscall before suspending"},
    {"inline-budget", "N", "speculative attempts per dispatch (default 2)"},
    {"sq-entries", "N", "SQ entries per reactor ring (default 256)"},
    {"inbox-budget", "N", "inbox items run per tick (default 4096)"},
    {"pool-threads", "N", "worker pool threads (default: one per online CPU)"},
    {"stack-size", "BYTES", "task stack size, k/m suffixes (default 64k)"},
    {"pin-threads", "on|off", "pin reactor i to CPU i"},
    {"recv", "multishot|oneshot", "receive strategy: provided-buffer multishot, or one-shot"},
    {"buf-count", "N", "provided buffers per reactor, a power of two (default 1024)"},
    {"buf-size", "BYTES", "bytes per provided buffer (default 4096)"},
    {"max-conns", "N", "open connections per reactor; more are shed (default 10000)"},
};

void roost_cli_config_help(void)
{
    printf("runtime switches (also as environment variables ROOST_<NAME>, e.g. ROOST_WAKE):\n");
    for (size_t i = 0; i < sizeof(switches) / sizeof(switches[0]); i++)
        printf("  --%-14s %-20s %s\n", switches[i].name, switches[i].values, switches[i].help);
}

static bool is_switch(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(switches) / sizeof(switches[0]); i++)
        if (strlen(switches[i].name) == len && !strncmp(switches[i].name, name, len))
            return true;
    return false;
}

int roost_cli_config(struct roost_config *cfg, int argc, char **argv)
{
    const char *bad = NULL;
    if (roost_config_from_env(cfg, &bad) < 0) {
        fprintf(stderr, "roost: bad value in environment variable %s\n", bad);
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
        if (!is_switch(name, len)) {
            argv[out++] = argv[i];
            continue;
        }
        const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        char key[32];
        snprintf(key, sizeof(key), "%.*s", (int)len, name);
        if (!value || roost_config_set(cfg, key, value) < 0) {
            fprintf(stderr, "roost: bad value for --%s: %s\n", key, value ? value : "(none)");
            return -1;
        }
    }
    argv[out] = NULL;
    return out;
}
