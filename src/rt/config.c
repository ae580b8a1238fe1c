/*
 * Configuration: the runtime switches of ROOST_CONFIG_SWITCHES, and the machinery every
 * table of struct roost_option shares (the CLI's serve flags use it too): strict parsing,
 * range checks, environment variables, range texts for help and error messages.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <roost/config.h>

#define CONFIG_OPTION_(...) ROOST_OPTION(struct roost_config, __VA_ARGS__),
static const struct roost_option config_options[] = {ROOST_CONFIG_SWITCHES(CONFIG_OPTION_)};
#undef CONFIG_OPTION_

/* A range that does not fit its field would be silently truncated: refuse to build. */
#define CONFIG_FITS_(name, field, kind, def, min, max, values, help)                               \
    _Static_assert(sizeof(((struct roost_config *)0)->field) >= 8 ||                               \
                       (unsigned long long)(max) <                                                 \
                           1ull << (8 * sizeof(((struct roost_config *)0)->field)),                \
                   "the range of " name " does not fit its field");
ROOST_CONFIG_SWITCHES(CONFIG_FITS_)
#undef CONFIG_FITS_

#define CONFIG_COUNT (sizeof(config_options) / sizeof(config_options[0]))

const struct roost_option *roost_config_options(size_t *count)
{
    *count = CONFIG_COUNT;
    return config_options;
}

void roost_config_init(struct roost_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    /* Cannot fail: test_core_config checks every default of the table. */
    (void)roost_options_defaults(config_options, CONFIG_COUNT, cfg, NULL);
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

/* ---- option machinery ---------------------------------------------------------------- */

static bool all_digits(const char *v, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (v[i] < '0' || v[i] > '9')
            return false;
    return true;
}

/*
 * Digits only: strtoull would take leading spaces, a sign and "0x", which a switch must
 * refuse (" 19180" and "+19180" are typos, not ports). Overflow is -ERANGE.
 */
static int parse_digits(const char *v, size_t n, unsigned long long *out)
{
    if (!all_digits(v, n))
        return -EINVAL;
    unsigned long long x = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(v[i] - '0');
        if (x > (ULLONG_MAX - d) / 10)
            return -ERANGE;
        x = x * 10 + d;
    }
    *out = x;
    return 0;
}

static int parse_bytes(const char *v, unsigned long long *out)
{
    size_t n = strlen(v);
    unsigned shift = 0;
    if (n > 1) {
        switch (v[n - 1]) {
        case 'k':
        case 'K':
            shift = 10;
            break;
        case 'm':
        case 'M':
            shift = 20;
            break;
        case 'g':
        case 'G':
            shift = 30;
            break;
        }
    }
    unsigned long long x;
    int rc = parse_digits(v, shift ? n - 1 : n, &x);
    if (rc < 0)
        return rc;
    if (x > ULLONG_MAX >> shift)
        return -ERANGE;
    *out = x << shift;
    return 0;
}

static int parse_bool(const char *v, unsigned long long *out)
{
    static const char *const yes[] = {"on", "1", "true", "yes"};
    static const char *const no[] = {"off", "0", "false", "no"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (!strcmp(v, yes[i])) {
            *out = 1;
            return 0;
        }
        if (!strcmp(v, no[i])) {
            *out = 0;
            return 0;
        }
    }
    return -EINVAL;
}

/* The index of v among the '|'-separated names, as the enum's value. */
static int parse_enum(const char *names, const char *v, unsigned long long *out)
{
    size_t vn = strlen(v);
    unsigned long long i = 0;
    for (const char *p = names;; i++) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == vn && vn && !memcmp(p, v, n)) {
            *out = i;
            return 0;
        }
        if (!bar)
            return -EINVAL;
        p = bar + 1;
    }
}

static void store(const struct roost_option *o, void *base, unsigned long long v)
{
    char *field = (char *)base + o->offset;
    switch (o->size) {
    case 1: {
        uint8_t x = (uint8_t)v;
        memcpy(field, &x, 1);
        break;
    }
    case 2: {
        uint16_t x = (uint16_t)v;
        memcpy(field, &x, 2);
        break;
    }
    case 4: {
        uint32_t x = (uint32_t)v;
        memcpy(field, &x, 4);
        break;
    }
    default: {
        uint64_t x = v;
        memcpy(field, &x, 8);
        break;
    }
    }
}

int roost_option_set(const struct roost_option *o, void *base, const char *value)
{
    if (!value)
        return -EINVAL;
    unsigned long long v = 0;
    int rc;
    switch (o->kind) {
    case ROOST_OPT_TEXT:
        if (!*value)
            return -EINVAL;
        memcpy((char *)base + o->offset, &value, sizeof(value));
        return 0;
    case ROOST_OPT_BOOL:
        rc = parse_bool(value, &v);
        break;
    case ROOST_OPT_ENUM:
        rc = parse_enum(o->values, value, &v);
        break;
    case ROOST_OPT_BYTES:
        rc = parse_bytes(value, &v);
        break;
    case ROOST_OPT_COUNT:
    case ROOST_OPT_POW2:
    default:
        rc = parse_digits(value, strlen(value), &v);
        break;
    }
    if (rc < 0)
        return rc;
    if (o->kind == ROOST_OPT_COUNT || o->kind == ROOST_OPT_POW2 || o->kind == ROOST_OPT_BYTES) {
        if (v < o->min || v > o->max)
            return -ERANGE;
        if (o->kind == ROOST_OPT_POW2 && (v & (v - 1)))
            return -ERANGE;
    }
    store(o, base, v);
    return 0;
}

const struct roost_option *roost_option_find(const struct roost_option *opts, size_t n,
                                             const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(opts[i].name) == len && !memcmp(opts[i].name, name, len))
            return &opts[i];
    return NULL;
}

/* 16384 -> "16k": sizes read as they are written on the command line. */
static int bytes_text(unsigned long long v, char *buf, size_t len)
{
    static const char suffix[] = {'g', 'm', 'k'};
    for (unsigned i = 0; i < 3; i++) {
        unsigned shift = 30 - 10 * i;
        if (v && v % (1ull << shift) == 0)
            return snprintf(buf, len, "%llu%c", v >> shift, suffix[i]);
    }
    return snprintf(buf, len, "%llu", v);
}

int roost_option_range(const struct roost_option *o, char *buf, size_t len)
{
    char lo[24], hi[24];
    switch (o->kind) {
    case ROOST_OPT_COUNT:
        return snprintf(buf, len, "%llu..%llu", o->min, o->max);
    case ROOST_OPT_POW2:
        return snprintf(buf, len, "%llu..%llu, a power of two", o->min, o->max);
    case ROOST_OPT_BYTES:
        bytes_text(o->min, lo, sizeof(lo));
        bytes_text(o->max, hi, sizeof(hi));
        return snprintf(buf, len, "%s..%s bytes", lo, hi);
    case ROOST_OPT_TEXT: /* its placeholder ("ADDR"), the names ("on|off") otherwise */
    case ROOST_OPT_BOOL:
    case ROOST_OPT_ENUM:
    default:
        return snprintf(buf, len, "%s", o->values);
    }
}

int roost_options_defaults(const struct roost_option *opts, size_t n, void *base, size_t *bad)
{
    int first = 0;
    for (size_t i = 0; i < n; i++) {
        if (!opts[i].def)
            continue; /* a TEXT option that is unset by default keeps what base has */
        int rc = roost_option_set(&opts[i], base, opts[i].def);
        if (rc < 0 && first == 0) {
            first = rc;
            if (bad)
                *bad = i;
        }
    }
    return first;
}

int roost_option_env_name(const struct roost_option *o, char *buf, size_t len)
{
    int n = snprintf(buf, len, "ROOST_%s", o->name);
    for (size_t i = 6; i < len && buf[i]; i++)
        buf[i] = buf[i] == '-' ? '_' : (char)toupper((unsigned char)buf[i]);
    return n;
}

int roost_options_from_env(const struct roost_option *opts, size_t n, void *base, size_t *bad)
{
    for (size_t i = 0; i < n; i++) {
        char var[64];
        roost_option_env_name(&opts[i], var, sizeof(var));
        const char *v = getenv(var);
        if (!v)
            continue;
        int rc = roost_option_set(&opts[i], base, v);
        if (rc < 0) {
            if (bad)
                *bad = i;
            return rc;
        }
    }
    return 0;
}

/* ---- roost_config ---------------------------------------------------------------------- */

int roost_config_set(struct roost_config *cfg, const char *name, const char *value)
{
    const struct roost_option *o =
        roost_option_find(config_options, CONFIG_COUNT, name, strlen(name));
    return o ? roost_option_set(o, cfg, value) : -ENOENT;
}

int roost_config_from_env(struct roost_config *cfg, const char **bad)
{
    /* The variable of switch "run-on" is ROOST_RUN_ON, and so on. */
    static _Thread_local char var[64];
    size_t i = 0;
    int rc = roost_options_from_env(config_options, CONFIG_COUNT, cfg, &i);
    if (rc < 0 && bad) {
        roost_option_env_name(&config_options[i], var, sizeof(var));
        *bad = var;
    }
    return rc;
}
