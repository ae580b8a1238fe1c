/* Internal: the Date header value, cached per second per thread. */
#ifndef ROOST_HTTP_DATE_H
#define ROOST_HTTP_DATE_H

#include <stdint.h>

/*
 * The time as an IMF-fixdate (RFC 9110 §5.6.7), 29 characters, NUL-terminated, for a caller
 * whose monotonic time (roost_reactor_now_ns) is now_ns. The text stays right until the
 * monotonic instant *valid_until_ns, when its second ends: a new text always comes with a
 * new instant, so a cache built from the text compares the instant rather than the text.
 */
const char *http_date_at(uint64_t now_ns, uint64_t *valid_until_ns);

#endif
