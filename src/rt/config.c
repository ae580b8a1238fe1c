/* Configuration: defaults, and one name per switch for flags and environment variables. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <roost/config.h>

void roost_config_init(struct roost_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->reactors = 0;
    cfg->sq_entries = 256;
    cfg->inbox_budget = 4096;
    cfg->resume = ROOST_RESUME_INLINE;
    cfg->run_on = ROOST_RUN_ON_REACTOR;
    cfg->wake = ROOST_WAKE_COALESCED;
    cfg->affinity = true;
    cfg->speculative = true;
    cfg->inline_budget = 2;
    cfg->recv = ROOST_RECV_MULTISHOT;
    cfg->buf_count = 1024;
    cfg->buf_size = 4096;
    cfg->max_conns = 10000;
}

const char *roost_resume_name(enum roost_resume v)
{
    return v == ROOST_RESUME_POSTED ? "posted" : "inline";
}

const char *roost_run_on_name(enum roost_run_on v)
{
    return v == ROOST_RUN_ON_POOL ? "pool" : "reactor";
}

const char *roost_wake_name(enum roost_wake v)
{
    return v == ROOST_WAKE_PER_ITEM ? "per-item" : "coalesced";
}

const char *roost_recv_name(enum roost_recv v)
{
    return v == ROOST_RECV_ONESHOT ? "oneshot" : "multishot";
}

static int parse_bool(const char *v, bool *out)
{
    if (!strcmp(v, "on") || !strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes"))
        *out = true;
    else if (!strcmp(v, "off") || !strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no"))
        *out = false;
    else
        return -EINVAL;
    return 0;
}

/* A decimal count in [min, max]; size suffixes k/m for stack-size style values. */
static int parse_size(const char *v, unsigned long long min, unsigned long long max,
                      unsigned long long *out)
{
    if (!isdigit((unsigned char)v[0]))
        return -EINVAL;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno)
        return -EINVAL;
    if (*end == 'k' || *end == 'K') {
        n *= 1024;
        end++;
    } else if (*end == 'm' || *end == 'M') {
        n *= 1024 * 1024;
        end++;
    }
    if (*end || n < min || n > max)
        return -EINVAL;
    *out = n;
    return 0;
}

int roost_config_set(struct roost_config *cfg, const char *name, const char *value)
{
    unsigned long long n;
    int rc;
    if (!strcmp(name, "resume")) {
        if (!strcmp(value, "inline"))
            cfg->resume = ROOST_RESUME_INLINE;
        else if (!strcmp(value, "posted"))
            cfg->resume = ROOST_RESUME_POSTED;
        else
            return -EINVAL;
    } else if (!strcmp(name, "run-on")) {
        if (!strcmp(value, "reactor"))
            cfg->run_on = ROOST_RUN_ON_REACTOR;
        else if (!strcmp(value, "pool"))
            cfg->run_on = ROOST_RUN_ON_POOL;
        else
            return -EINVAL;
    } else if (!strcmp(name, "wake")) {
        if (!strcmp(value, "coalesced"))
            cfg->wake = ROOST_WAKE_COALESCED;
        else if (!strcmp(value, "per-item"))
            cfg->wake = ROOST_WAKE_PER_ITEM;
        else
            return -EINVAL;
    } else if (!strcmp(name, "affinity")) {
        return parse_bool(value, &cfg->affinity);
    } else if (!strcmp(name, "speculative")) {
        return parse_bool(value, &cfg->speculative);
    } else if (!strcmp(name, "pin-threads")) {
        return parse_bool(value, &cfg->pin_threads);
    } else if (!strcmp(name, "inline-budget")) {
        if ((rc = parse_size(value, 0, 1u << 20, &n)) < 0)
            return rc;
        cfg->inline_budget = (unsigned)n;
    } else if (!strcmp(name, "reactors")) {
        if ((rc = parse_size(value, 0, 1024, &n)) < 0)
            return rc;
        cfg->reactors = (unsigned)n;
    } else if (!strcmp(name, "sq-entries")) {
        if ((rc = parse_size(value, 2, 32768, &n)) < 0)
            return rc;
        cfg->sq_entries = (unsigned)n;
    } else if (!strcmp(name, "inbox-budget")) {
        if ((rc = parse_size(value, 1, 1u << 30, &n)) < 0)
            return rc;
        cfg->inbox_budget = (unsigned)n;
    } else if (!strcmp(name, "pool-threads")) {
        if ((rc = parse_size(value, 0, 1024, &n)) < 0)
            return rc;
        cfg->pool_threads = (unsigned)n;
    } else if (!strcmp(name, "stack-size")) {
        if ((rc = parse_size(value, 0, 1ull << 30, &n)) < 0)
            return rc;
        cfg->stack_size = (size_t)n;
    } else if (!strcmp(name, "recv")) {
        if (!strcmp(value, "multishot"))
            cfg->recv = ROOST_RECV_MULTISHOT;
        else if (!strcmp(value, "oneshot"))
            cfg->recv = ROOST_RECV_ONESHOT;
        else
            return -EINVAL;
    } else if (!strcmp(name, "buf-count")) {
        /* The kernel wants a power of two, at most 32768 (16-bit buffer ids). */
        if ((rc = parse_size(value, 1, 32768, &n)) < 0)
            return rc;
        if (n & (n - 1))
            return -EINVAL;
        cfg->buf_count = (unsigned)n;
    } else if (!strcmp(name, "buf-size")) {
        if ((rc = parse_size(value, 64, 1u << 20, &n)) < 0)
            return rc;
        cfg->buf_size = (unsigned)n;
    } else if (!strcmp(name, "max-conns")) {
        if ((rc = parse_size(value, 1, 1u << 24, &n)) < 0)
            return rc;
        cfg->max_conns = (unsigned)n;
    } else {
        return -ENOENT;
    }
    return 0;
}

int roost_config_from_env(struct roost_config *cfg, const char **bad)
{
    /* The variable of switch "run-on" is ROOST_RUN_ON, and so on. */
    static const char *const names[] = {
        "resume",   "run-on",     "wake",         "affinity",     "speculative", "inline-budget",
        "reactors", "sq-entries", "inbox-budget", "pool-threads", "stack-size",  "pin-threads",
        "recv",     "buf-count",  "buf-size",     "max-conns",
    };
    static _Thread_local char var[64];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t k = 0;
        for (const char *c = "ROOST_"; *c; c++)
            var[k++] = *c;
        for (const char *c = names[i]; *c; c++)
            var[k++] = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
        var[k] = 0;
        const char *v = getenv(var);
        if (!v)
            continue;
        int rc = roost_config_set(cfg, names[i], v);
        if (rc < 0) {
            if (bad)
                *bad = var;
            return rc;
        }
    }
    return 0;
}
