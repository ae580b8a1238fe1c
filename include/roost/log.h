/* roost — the library's log: levels and a hook. roost never writes to stderr on its own: every
 * message it has goes through the hook, whose default writes one line to stderr. */
#ifndef ROOST_LOG_H
#define ROOST_LOG_H

#include <stdbool.h>
#include <roost/common.h>

ROOST_BEGIN_DECLS

enum roost_log_level {
    ROOST_LOG_ERROR, /* something failed and was not retried */
    ROOST_LOG_WARN,  /* something degraded and roost carries on (default threshold) */
    ROOST_LOG_INFO,  /* life-cycle events */
    ROOST_LOG_DEBUG,
};

/*
 * Receives every message at or below the threshold, as one line without its newline, on
 * whichever thread logged it (a reactor's included: do not block). arg is the hook's.
 */
typedef void (*roost_log_hook)(enum roost_log_level level, const char *msg, void *arg);

/* Installs hook (NULL: the default, one line to stderr). Any thread, any time. */
void roost_log_set_hook(roost_log_hook hook, void *arg);

/* Messages less severe than level are dropped before they are formatted (default WARN). */
void roost_log_set_level(enum roost_log_level level);
enum roost_log_level roost_log_get_level(void);

/* "error", "warn", "info" or "debug" into *out: 0, or -EINVAL. */
int roost_log_level_parse(const char *name, enum roost_log_level *out);
const char *roost_log_level_name(enum roost_log_level level);

/* Logs a printf-style message through the hook (used by roost itself; open to users). */
__attribute__((format(printf, 2, 3))) void roost_log(enum roost_log_level level, const char *fmt,
                                                     ...);

ROOST_END_DECLS

#endif
