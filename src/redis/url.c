/* redis://[[user]:password@]host[:port][/db] */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <roost/redis.h>

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    if (!*s)
        return -EINVAL;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || v > max || *s == '-' || *s == '+')
        return -EINVAL;
    *out = v;
    return 0;
}

int roost_redis_parse_url(const char *url, struct roost_redis_opts *o, char *buf, size_t buflen)
{
    static const char scheme[] = "redis://";
    if (strncmp(url, scheme, sizeof(scheme) - 1) != 0)
        return -EINVAL;
    url += sizeof(scheme) - 1;
    if (strlen(url) + 1 > buflen)
        return -EINVAL;
    strcpy(buf, url);
    memset(o, 0, sizeof(*o));
    char *host = buf;
    char *at = strrchr(buf, '@');
    if (at) {
        *at = '\0';
        host = at + 1;
        char *colon = strchr(buf, ':');
        if (colon) {
            *colon = '\0';
            o->username = *buf ? buf : NULL;
            o->password = colon + 1;
        } else {
            o->password = buf; /* redis://secret@host: a password alone */
        }
    }
    char *slash = strchr(host, '/');
    if (slash) {
        *slash = '\0';
        unsigned long db = 0;
        if (slash[1] && parse_uint(slash + 1, 65535, &db) < 0)
            return -EINVAL;
        o->db = (unsigned)db;
    }
    char *port = NULL;
    if (*host == '[') { /* [::1]:6379 */
        char *close = strchr(host, ']');
        if (!close)
            return -EINVAL;
        *close = '\0';
        host++;
        if (close[1] == ':')
            port = close + 2;
        else if (close[1])
            return -EINVAL;
    } else if ((port = strrchr(host, ':'))) {
        *port++ = '\0';
    }
    if (port) {
        unsigned long p;
        if (parse_uint(port, 65535, &p) < 0)
            return -EINVAL;
        o->port = (uint16_t)p;
    }
    o->host = *host ? host : NULL;
    return 0;
}
