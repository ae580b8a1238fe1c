/* Query-string access (application/x-www-form-urlencoded pairs, RFC 3986 §3.4): iteration
 * over the raw pairs and decoding into the caller's buffer. Nothing here allocates: a handler
 * decodes the values it wants into its own storage. */
#include <errno.h>
#include <string.h>

#include <roost/http.h>

bool roost_http_query_next(struct roost_str query, size_t *pos, struct roost_str *name,
                           struct roost_str *value)
{
    while (query.p && *pos < query.n) {
        const char *p = query.p + *pos, *end = query.p + query.n;
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pair_end = amp ? amp : end;
        *pos = (size_t)(pair_end - query.p) + (amp ? 1 : 0);
        if (pair_end == p)
            continue; /* "a=1&&b=2": empty pairs carry nothing */
        const char *eq = memchr(p, '=', (size_t)(pair_end - p));
        *name = (struct roost_str){p, (size_t)((eq ? eq : pair_end) - p)};
        *value = eq ? (struct roost_str){eq + 1, (size_t)(pair_end - eq - 1)}
                    : (struct roost_str){pair_end, 0};
        return true;
    }
    return false;
}

static int hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The byte at in.p[*i] decoded ('+' is a space, %XX a byte), advancing *i; -1 if malformed. */
static int decode_at(struct roost_str in, size_t *i)
{
    unsigned char c = (unsigned char)in.p[*i];
    if (c == '+') {
        (*i)++;
        return ' ';
    }
    if (c != '%') {
        (*i)++;
        return c;
    }
    int hi = *i + 2 < in.n ? hex_digit((unsigned char)in.p[*i + 1]) : -1;
    int lo = hi >= 0 ? hex_digit((unsigned char)in.p[*i + 2]) : -1;
    if (lo < 0)
        return -1;
    *i += 3;
    return hi << 4 | lo;
}

int roost_http_query_decode(struct roost_str in, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < in.n;) {
        int c = decode_at(in, &i);
        if (c < 0)
            return -EINVAL;
        if (o == cap)
            return -ENOSPC;
        out[o++] = (char)c;
    }
    return (int)o;
}

/* Does the encoded s decode to exactly lit? Compared byte by byte, without a copy. */
static bool decodes_to(struct roost_str s, const char *lit, size_t lit_n)
{
    size_t i = 0, j = 0;
    while (i < s.n) {
        int c = decode_at(s, &i);
        if (c < 0 || j == lit_n || (unsigned char)lit[j++] != c)
            return false;
    }
    return j == lit_n;
}

int roost_http_query_get(struct roost_str query, const char *name, char *out, size_t cap)
{
    size_t pos = 0, n = strlen(name);
    struct roost_str k, v;
    while (roost_http_query_next(query, &pos, &k, &v)) {
        if (!decodes_to(k, name, n))
            continue;
        if (cap == 0)
            return -ENOSPC;
        int len = roost_http_query_decode(v, out, cap - 1);
        if (len >= 0)
            out[len] = 0;
        return len;
    }
    return -ENOENT;
}
