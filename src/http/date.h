/* Internal: the Date header value, cached per second per reactor thread. */
#ifndef ROOST_HTTP_DATE_H
#define ROOST_HTTP_DATE_H

/* The current time as an IMF-fixdate (RFC 9110 §5.6.7), 29 characters, NUL-terminated. */
const char *http_date(void);

#endif
