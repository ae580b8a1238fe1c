/* libFuzzer target: configuration and flag parsing (roost_config_set, roost_cli_config).
 *
 * The input is split on NUL bytes into strings. First as name/value pairs for
 * roost_config_set: it returns 0, -EINVAL (malformed), -ERANGE (out of range) or -ENOENT (no
 * such switch) and never leaves an invalid config behind (a value it refused changes nothing). Then as an argv for roost_cli_config, which
 * must keep every argument it does not consume, in order, and NULL-terminate the result.
 */
#include <errno.h>
#include <stdio.h>

#include <roost/config.h>

#include "cli/options.h"
#include "fuzz.h"

#define MAX_ARGS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    CHECK(buf);
    memcpy(buf, data, size);
    buf[size] = 0;
    char *args[MAX_ARGS + 2];
    int argc = 0;
    args[argc++] = "roost";
    for (char *p = buf; p <= buf + size && argc <= MAX_ARGS; p += strlen(p) + 1)
        args[argc++] = p;
    args[argc] = NULL;

    struct roost_config cfg, before;
    roost_config_init(&cfg);
    for (int i = 1; i + 1 < argc; i += 2) {
        before = cfg;
        int r = roost_config_set(&cfg, args[i], args[i + 1]);
        CHECK(r == 0 || r == -EINVAL || r == -ERANGE || r == -ENOENT);
        if (r < 0)
            CHECK(!memcmp(&before, &cfg, sizeof(cfg)));
    }

    char *kept[MAX_ARGS + 2];
    memcpy(kept, args, sizeof(kept));
    roost_config_init(&cfg);
    int n = roost_cli_config(&cfg, argc, args);
    CHECK(n == -1 || (n >= 1 && n <= argc));
    if (n > 0) {
        CHECK(args[n] == NULL);
        /* the kept arguments are a subsequence of the originals, in order */
        int j = 0;
        for (int i = 0; i < n; i++) {
            while (j < argc && kept[j] != args[i])
                j++;
            CHECK(j < argc);
            j++;
        }
    }
    free(buf);
    return 0;
}
