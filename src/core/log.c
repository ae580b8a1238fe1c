/* The log hook. The hook and its argument are one published pair, so a message never sees a
 * new hook with the old hook's argument: both live in a static slot chosen by an atomic index. */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <roost/log.h>

struct hook {
    roost_log_hook fn;
    void *arg;
};

static void to_stderr(enum roost_log_level level, const char *msg, void *arg)
{
    (void)arg;
    char line[1100];
    int n = snprintf(line, sizeof(line), "roost: %s: %s\n", roost_log_level_name(level), msg);
    if (n > (int)sizeof(line) - 1)
        n = (int)sizeof(line) - 1;
    /* one write: lines from several threads do not interleave */
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

/* Slot 0 is the default; set_hook alternates between slots 1 and 2 (writers are rare and are
 * expected not to race each other; readers always see a complete pair). */
static struct hook hooks[3] = {{to_stderr, NULL}, {NULL, NULL}, {NULL, NULL}};
static _Atomic unsigned current;
static _Atomic int threshold = ROOST_LOG_WARN;

void roost_log_set_hook(roost_log_hook fn, void *arg)
{
    if (!fn) {
        atomic_store_explicit(&current, 0, memory_order_release);
        return;
    }
    unsigned next = atomic_load_explicit(&current, memory_order_relaxed) == 1 ? 2 : 1;
    hooks[next] = (struct hook){fn, arg};
    atomic_store_explicit(&current, next, memory_order_release);
}

void roost_log_set_level(enum roost_log_level level)
{
    atomic_store_explicit(&threshold, (int)level, memory_order_relaxed);
}

enum roost_log_level roost_log_get_level(void)
{
    return (enum roost_log_level)atomic_load_explicit(&threshold, memory_order_relaxed);
}

static const char *const names[] = {"error", "warn", "info", "debug"};

const char *roost_log_level_name(enum roost_log_level level)
{
    return (unsigned)level < 4 ? names[level] : "?";
}

int roost_log_level_parse(const char *name, enum roost_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (!strcmp(name, names[i])) {
            *out = (enum roost_log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

void roost_log(enum roost_log_level level, const char *fmt, ...)
{
    if ((int)level > atomic_load_explicit(&threshold, memory_order_relaxed))
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct hook h = hooks[atomic_load_explicit(&current, memory_order_acquire)];
    h.fn(level, msg, h.arg);
}
