/* Internal: the Date header value, cached per second per reactor thread. */
#ifndef ROOST_HTTP_DATE_H
#define ROOST_HTTP_DATE_H

#include <stdint.h>

/* The current time as an IMF-fixdate (RFC 9110 §5.6.7), 29 characters, NUL-terminated. */
const char *http_date(void);

/* Like http_date, and *gen changes whenever the text does (once a second): a cache built from
 * the text compares gen rather than the text. */
const char *http_date_gen(uint64_t *gen);

#endif
