/* Strict HTTP/1.1 request parser, RFC 9112. See parser.h for the API, docs/http-parser.md for
 * the accept/reject rules.
 *
 * The head parser has two paths. parse_head, the general one, walks the bytes left to right
 * and checks each rule at the first byte that can decide it, so a prefix of an invalid request
 * is either "need more" or the same error as the whole request; it can resume where a previous
 * call on a prefix stopped (http_parse_head_more). parse_fresh, the fast path, takes a head
 * seen whole for the first time, the common case, 16 bytes at a time; it accepts only heads
 * parse_head accepts, with the same result, and declines anything else to parse_head.
 *
 * Strictness is the point: every place where two HTTP implementations could frame the same
 * bytes differently (CL vs TE, duplicate CL, bare CR/LF, obs-fold, odd chunk sizes) is an error
 * here, because a lenient parser behind a strict proxy (or the other way round) is how requests
 * get smuggled.
 */
#include "http/parser.h"
#include "http/bytes.h"

#include <limits.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Character classes, one byte per octet, built at compile time from the RFC grammars. */
enum {
    C_TOKEN = 1 << 0,  /* tchar, RFC 9110 §5.6.2 */
    C_FIELD = 1 << 1,  /* field-vchar / SP / HTAB (obs-text included), RFC 9110 §5.5 */
    C_PATH = 1 << 2,   /* pchar minus pct-encoded, plus "/": path of origin-form */
    C_QUERY = 1 << 3,  /* C_PATH plus "?": query, RFC 3986 §3.4 */
    C_URI = 1 << 4,    /* anything a non-origin request-target may contain */
    C_REG = 1 << 5,    /* unreserved / sub-delims: reg-name minus pct-encoded */
    C_HEX = 1 << 6,    /* HEXDIG */
    C_SCHEME = 1 << 7, /* ALPHA / DIGIT / "+" / "-" / ".", RFC 3986 §3.1 */
};

#define IS_ALPHA(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')
#define IS_HEX(c) (IS_DIGIT(c) || ((c) >= 'a' && (c) <= 'f') || ((c) >= 'A' && (c) <= 'F'))
#define IS_UNRESERVED(c)                                                                           \
    (IS_ALPHA(c) || IS_DIGIT(c) || (c) == '-' || (c) == '.' || (c) == '_' || (c) == '~')
#define IS_SUBDELIM(c)                                                                             \
    ((c) == '!' || (c) == '$' || (c) == '&' || (c) == '\'' || (c) == '(' || (c) == ')' ||          \
     (c) == '*' || (c) == '+' || (c) == ',' || (c) == ';' || (c) == '=')
#define IS_TCHAR(c)                                                                                \
    (IS_ALPHA(c) || IS_DIGIT(c) || (c) == '!' || (c) == '#' || (c) == '$' || (c) == '%' ||         \
     (c) == '&' || (c) == '\'' || (c) == '*' || (c) == '+' || (c) == '-' || (c) == '.' ||          \
     (c) == '^' || (c) == '_' || (c) == '`' || (c) == '|' || (c) == '~')
#define IS_PATH(c) (IS_UNRESERVED(c) || IS_SUBDELIM(c) || (c) == ':' || (c) == '@' || (c) == '/')
#define CLS(c)                                                                                     \
    ((IS_TCHAR(c) ? C_TOKEN : 0) | (((c) == '\t' || ((c) >= 0x20 && (c) != 0x7f)) ? C_FIELD : 0) | \
     (IS_PATH(c) ? C_PATH : 0) | ((IS_PATH(c) || (c) == '?') ? C_QUERY : 0) |                      \
     ((IS_PATH(c) || (c) == '?' || (c) == '%' || (c) == '[' || (c) == ']') ? C_URI : 0) |          \
     ((IS_UNRESERVED(c) || IS_SUBDELIM(c)) ? C_REG : 0) | (IS_HEX(c) ? C_HEX : 0) |                \
     ((IS_ALPHA(c) || IS_DIGIT(c) || (c) == '+' || (c) == '-' || (c) == '.') ? C_SCHEME : 0))
#define CLS4(c) CLS(c), CLS((c) + 1), CLS((c) + 2), CLS((c) + 3)
#define CLS16(c) CLS4(c), CLS4((c) + 4), CLS4((c) + 8), CLS4((c) + 12)
#define CLS64(c) CLS16(c), CLS16((c) + 16), CLS16((c) + 32), CLS16((c) + 48)

static const unsigned char cls[256] = {CLS64(0), CLS64(64), CLS64(128), CLS64(192)};

static const struct roost_http_limits default_limits = ROOST_HTTP_LIMITS_DEFAULT;

typedef const unsigned char *cptr;

/* For the helpers the head parser's two paths share: a call would cost more than their body. */
#define ALWAYS_INLINE inline __attribute__((always_inline))

static inline bool is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static inline cptr skip_ows(cptr p, cptr end)
{
    while (p < end && is_ows(*p))
        p++;
    return p;
}

static inline cptr skip_token(cptr p, cptr end)
{
    while (p < end && (cls[*p] & C_TOKEN))
        p++;
    return p;
}

static inline unsigned hex_value(unsigned char c)
{
    return IS_DIGIT(c) ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

/* Case-insensitive match of a token against a lowercase literal. Folding with | 0x20 is exact
 * here: the only tchars it maps onto a letter, digit or "-" are the letters themselves. */
static inline bool token_eq(cptr p, size_t n, const char *lit, size_t lit_n)
{
    if (n != lit_n)
        return false;
    /* a word at a time (the last one overlapping), folded the same way byte by byte */
    uint64_t a, b;
    const uint64_t fold = 0x2020202020202020u;
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8) {
            memcpy(&a, p + i, 8), memcpy(&b, lit + i, 8);
            if ((a | fold) != b)
                return false;
        }
        memcpy(&a, p + n - 8, 8), memcpy(&b, lit + n - 8, 8);
        return (a | fold) == b;
    }
    if (n >= 4) {
        uint32_t c, d, e, f;
        memcpy(&c, p, 4), memcpy(&d, lit, 4), memcpy(&e, p + n - 4, 4), memcpy(&f, lit + n - 4, 4);
        return (c | (uint32_t)fold) == d && (e | (uint32_t)fold) == f;
    }
    for (size_t i = 0; i < n; i++)
        if ((p[i] | 0x20) != (unsigned char)lit[i])
            return false;
    return true;
}
#define TOKEN_EQ(p, n, lit) token_eq((p), (n), (lit), sizeof(lit) - 1)

static inline bool pct_encoded_at(cptr p, cptr end)
{
    return end - p >= 3 && (cls[p[1]] & C_HEX) && (cls[p[2]] & C_HEX);
}

/* pct-encoded in a request-target, and not %00, %0D or %0A: once decoded, those would put a
 * NUL or a line break into a path or a query that applications log, compare and pass on
 * (RFC 3986 §7.3 warns about exactly these). Rejected with 400 wherever they appear. */
static inline bool pct_target_at(cptr p, cptr end)
{
    if (!pct_encoded_at(p, end))
        return false;
    unsigned v = hex_value(p[1]) << 4 | hex_value(p[2]);
    return v != 0 && v != '\r' && v != '\n';
}

/*
 * The common bytes of a method, a field name and a path, 16 at a time where SSE2 exists:
 * letters, digits and "-", and for paths also "." "/" "_". Returns the first byte at or after
 * p that is not one of them (or where fewer than 16 bytes are left); the byte loops after it
 * judge the rest. Byte by byte, the loops' exits were a branch mispredicted per method, name
 * and path: at pipelining depth 16 they were a third of the parser's time.
 */
#if defined(__SSE2__)
static inline __m128i bytes_in(__m128i v, char lo, char hi)
{
    __m128i d = _mm_sub_epi8(v, _mm_set1_epi8(lo));
    return _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8((char)(hi - lo))), d);
}
#endif

#if defined(__SSE2__)
/* The common bytes of a field name (letters, digits, "-"), of a path (letters, digits and
 * - . / _), of a query (those of a path, = and &). */
enum { COMMON_NAME, COMMON_PATH, COMMON_QUERY };

/* Byte mask of the 16 bytes of v that are not common bytes of the given set. */
static inline unsigned uncommon(__m128i v, int set)
{
    /* x | 0x20 is a lowercase letter exactly when x is a letter */
    __m128i ok = bytes_in(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 'z');
    if (set == COMMON_NAME) {
        ok = _mm_or_si128(_mm_or_si128(ok, bytes_in(v, '0', '9')),
                          _mm_cmpeq_epi8(v, _mm_set1_epi8('-')));
    } else {
        ok = _mm_or_si128(_mm_or_si128(ok, bytes_in(v, '-', '9')),
                          _mm_cmpeq_epi8(v, _mm_set1_epi8('_')));
        if (set == COMMON_QUERY)
            ok = _mm_or_si128(_mm_or_si128(ok, _mm_cmpeq_epi8(v, _mm_set1_epi8('='))),
                              _mm_cmpeq_epi8(v, _mm_set1_epi8('&')));
    }
    return ~(unsigned)_mm_movemask_epi8(ok) & 0xffffu;
}
#endif

static inline cptr skip_common(cptr p, cptr end, bool path)
{
#if defined(__SSE2__)
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned other = uncommon(v, path ? COMMON_PATH : COMMON_NAME);
        if (other)
            return p + __builtin_ctz(other);
        p += 16;
    }
#else
    (void)end, (void)path;
#endif
    return p;
}

/* First byte at or after p that is not allowed in a field value (RFC 9110 §5.5: VCHAR, obs-text,
 * SP, HTAB), or end. This is the longest loop of a typical head, hence 16 bytes at a time where
 * SSE2 exists: a block is skipped when it holds no byte below 0x20 and no DEL. */
static inline cptr scan_field_value(cptr p, cptr end)
{
    for (;;) {
#if defined(__SSE2__)
        const __m128i below = _mm_set1_epi8(0x1f), del = _mm_set1_epi8(0x7f);
        while (end - p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
            __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, below), v);
            int mask = _mm_movemask_epi8(_mm_or_si128(ctl, _mm_cmpeq_epi8(v, del)));
            if (mask) {
                p += __builtin_ctz((unsigned)mask);
                break;
            }
            p += 16;
        }
#endif
        if (p == end || !(cls[*p] & C_FIELD))
            return p;
        p++; /* HTAB, or a byte of the sub-16 tail */
    }
}

/* uri-host [ ":" port ] (RFC 3986 §3.2.2-3), the syntax of Host (RFC 9110 §7.2) and of the
 * authority in absolute- and authority-form. No userinfo: "@" is not a reg-name character, and
 * RFC 9110 §4.2.4 says to treat userinfo as an error. */
static bool authority_valid(cptr p, cptr end, bool need_host, bool need_port)
{
    cptr host = p;
    if (p < end && *p == '[') { /* IP-literal, loosely: IPv6 and IPvFuture characters */
        p++;
        cptr in = p;
        while (p < end && ((cls[*p] & C_REG) || *p == ':'))
            p++;
        if (p == end || *p != ']' || p == in)
            return false;
        p++;
    } else {
        for (;;) {
            if (p < end && (cls[*p] & C_REG))
                p++;
            else if (p < end && *p == '%' && pct_target_at(p, end))
                p += 3;
            else
                break;
        }
    }
    if (need_host && p == host)
        return false;
    if (p == end)
        return !need_port;
    if (*p++ != ':')
        return false;
    if (p == end)
        return !need_port; /* "host:" is valid URI syntax (port = *DIGIT) */
    if (end - p > 5)
        return false;
    unsigned port = 0;
    for (; p < end; p++) {
        if (!IS_DIGIT(*p))
            return false;
        port = port * 10 + (unsigned)(*p - '0');
    }
    return port <= 65535;
}

/* Path and query of a target, already delimited: path chars and pct-encoded up to an optional
 * "?", then query chars and pct-encoded. */
static bool path_query_split(cptr p, cptr end, struct roost_http_request *req)
{
    cptr path = p;
    unsigned char mask = C_PATH;
    req->query.p = NULL;
    req->query.n = 0;
    while (p < end) {
        if (cls[*p] & mask) {
            p++;
        } else if (*p == '%' && pct_target_at(p, end)) {
            p += 3;
        } else if (*p == '?' && mask == C_PATH) {
            req->path.p = (const char *)path;
            req->path.n = (size_t)(p - path);
            mask = C_QUERY;
            req->query.p = (const char *)++p;
        } else {
            return false;
        }
    }
    if (req->query.p)
        req->query.n = (size_t)(end - (cptr)req->query.p);
    else
        req->path = (struct roost_http_str){(const char *)path, (size_t)(end - path)};
    return true;
}

/* origin-form = absolute-path [ "?" query ] (RFC 9112 §3.2.1), the common case: split into
 * path and query and validated in the same pass, from t (on the "/") to the SP after the
 * target. No "#": a fragment is never sent. Returns 1 with *pp on that SP, 0 when the bytes end
 * first (need more), or -400. */
static ALWAYS_INLINE int origin_form(cptr t, cptr *pp, cptr end, struct roost_http_request *req)
{
    cptr p = *pp; /* the bytes from t to p are skip_common's path bytes */
    unsigned char mask = C_PATH;
    req->query = (struct roost_http_str){NULL, 0};
    for (;;) {
        p = skip_common(p, end, true); /* its bytes are in C_PATH and C_QUERY alike */
        while (p < end && (cls[*p] & mask))
            p++;
        if (p == end)
            return 0;
        if (*p == ' ') {
            break;
        } else if (*p == '%') { /* pct-encoded = "%" HEXDIG HEXDIG */
            if (end - p < 2 || (end - p < 3 && (cls[p[1]] & C_HEX)))
                return 0;
            if (!pct_target_at(p, end))
                return -400;
            p += 3;
        } else if (*p == '?' && mask == C_PATH) {
            req->path = (struct roost_http_str){(const char *)t, (size_t)(p - t)};
            req->query.p = (const char *)++p;
            mask = C_QUERY;
        } else {
            return -400;
        }
    }
    if (req->query.p)
        req->query.n = (size_t)(p - (cptr)req->query.p);
    else
        req->path = (struct roost_http_str){(const char *)t, (size_t)(p - t)};
    req->target_form = ROOST_HTTP_TARGET_ORIGIN;
    *pp = p;
    return 1;
}

/* absolute-form, RFC 9112 §3.2.2: only hierarchical URIs with a non-empty authority
 * ("scheme://host[:port]/path?query"); an http(s) URI needs a host (RFC 9110 §4.2.1), and
 * requiring "//" keeps "host:port" from passing as a scheme-only URI outside CONNECT. */
static bool absolute_form(cptr p, cptr end, struct roost_http_request *req,
                          struct roost_http_str *authority)
{
    if (p == end || !IS_ALPHA(*p))
        return false;
    while (p < end && (cls[*p] & C_SCHEME))
        p++;
    if (end - p < 3 || p[0] != ':' || p[1] != '/' || p[2] != '/')
        return false;
    p += 3;
    cptr a = p;
    while (p < end && *p != '/' && *p != '?')
        p++;
    if (!authority_valid(a, p, true, false))
        return false;
    *authority = (struct roost_http_str){(const char *)a, (size_t)(p - a)};
    if (!path_query_split(p, end, req))
        return false;
    if (req->path.n == 0) /* RFC 9110 §4.2.3: an empty path is equivalent to "/" */
        req->path = (struct roost_http_str){"/", 1};
    return true;
}

/* #list parsing (RFC 9110 §5.6.1) over a trimmed field value. list_token skips empty elements
 * (which recipients must tolerate) and reads the next element's leading token: returns 1 and
 * the token, 0 at the end of the list, -1 if the element does not start with a token. */
static int list_token(cptr *pp, cptr end, struct roost_http_str *tok)
{
    cptr p = *pp;
    while (p < end && (is_ows(*p) || *p == ','))
        p++;
    if (p == end) {
        *pp = p;
        return 0;
    }
    cptr t = p;
    while (p < end && (cls[*p] & C_TOKEN))
        p++;
    if (p == t)
        return -1;
    *tok = (struct roost_http_str){(const char *)t, (size_t)(p - t)};
    *pp = p;
    return 1;
}

/* After an element: OWS, then "," or the end of the value. */
static bool list_element_end(cptr *pp, cptr end)
{
    cptr p = *pp;
    while (p < end && is_ows(*p))
        p++;
    *pp = p;
    return p == end || *p == ',';
}

/* quoted-string, RFC 9110 §5.6.4; p is on the opening DQUOTE. Returns the byte after the
 * closing DQUOTE, or NULL. */
static cptr skip_quoted_string(cptr p, cptr end)
{
    for (p++; p < end; p++) {
        if (*p == '"')
            return p + 1;
        if (*p == '\\') {
            if (++p == end || !(cls[*p] & C_FIELD))
                return NULL;
        } else if (!(cls[*p] & C_FIELD)) {
            return NULL;
        }
    }
    return NULL;
}

/* What the header fields have said so far (struct http_fields_seen, parser.h); the verdicts
 * that need all of them are given at the blank line. */
typedef struct http_fields_seen head_state_t;

/* Transfer-Encoding, RFC 9112 §6.1 and §6.3. The list may span several field lines; chunked
 * must be the last coding and appear once. Anything after chunked makes the body length
 * undeterminable (§6.3: 400). A coding before chunked is one we cannot decode (none but chunked
 * is implemented): 501 per §6.1, decided at the blank line since a later line may still add a
 * coding after chunked. */
static int transfer_encoding(cptr p, cptr end, head_state_t *st)
{
    struct roost_http_str tok;
    int r;
    while ((r = list_token(&p, end, &tok)) > 0) {
        bool params = false;
        /* *( OWS ";" OWS transfer-parameter ), transfer-parameter = token BWS "=" BWS
         * ( token / quoted-string ) */
        for (;;) {
            p = skip_ows(p, end);
            if (p == end || *p != ';')
                break;
            cptr q = skip_ows(p + 1, end);
            if ((p = skip_token(q, end)) == q)
                return -400;
            p = skip_ows(p, end);
            if (p == end || *p++ != '=')
                return -400;
            p = skip_ows(p, end);
            if (p < end && *p == '"') {
                if (!(p = skip_quoted_string(p, end)))
                    return -400;
            } else {
                q = p;
                if ((p = skip_token(q, end)) == q)
                    return -400;
            }
            params = true;
        }
        if (!list_element_end(&p, end))
            return -400;
        if (st->te_chunked) /* a coding after chunked, or chunked twice */
            return -400;
        if (TOKEN_EQ((cptr)tok.p, tok.n, "chunked")) {
            if (params) /* chunked defines no parameters: refuse to guess */
                return -400;
            st->te_chunked = true;
        } else {
            st->te_unknown = true;
        }
    }
    return r < 0 ? -400 : 0;
}

/* Connection, RFC 9110 §7.6.1: a list of tokens; only "close" and "keep-alive" mean anything to
 * the parser (RFC 9112 §9.3). */
static int connection(cptr p, cptr end, head_state_t *st)
{
    struct roost_http_str tok;
    int r;
    /* the usual values, a list of one token, told by one compare */
    if (TOKEN_EQ(p, (size_t)(end - p), "keep-alive")) {
        st->conn_keep_alive = true;
        return 0;
    }
    if (TOKEN_EQ(p, (size_t)(end - p), "close")) {
        st->conn_close = true;
        return 0;
    }
    while ((r = list_token(&p, end, &tok)) > 0) {
        if (!list_element_end(&p, end))
            return -400;
        if (TOKEN_EQ((cptr)tok.p, tok.n, "close"))
            st->conn_close = true;
        else if (TOKEN_EQ((cptr)tok.p, tok.n, "keep-alive"))
            st->conn_keep_alive = true;
    }
    return r < 0 ? -400 : 0;
}

/* Expect, RFC 9110 §10.1.1: "100-continue" is the only expectation defined; the server MAY
 * answer 417 to any other, and does, so that a client never waits for a 100 that won't come. */
static int expect(cptr p, cptr end, head_state_t *st)
{
    struct roost_http_str tok;
    int r;
    while ((r = list_token(&p, end, &tok)) > 0) {
        if (!TOKEN_EQ((cptr)tok.p, tok.n, "100-continue") || !list_element_end(&p, end))
            return -417;
        st->expect = true;
    }
    return r < 0 ? -417 : 0;
}

/* Content-Length, RFC 9112 §6.2-6.3: 1*DIGIT, nothing else. A list ("5, 5") or a repeat is
 * rejected even when the values agree: RFC 9110 §8.6 allows folding identical values, but any
 * tolerance here is a difference from some other parser on the path. */
static int content_length(cptr p, cptr end, const struct roost_http_limits *lim,
                          struct roost_http_request *req)
{
    if (p == end)
        return -400;
    uint64_t v = 0;
    for (; p < end; p++) {
        if (!IS_DIGIT(*p))
            return -400;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -400;
        v = v * 10 + d;
    }
    if (v > lim->max_body_bytes)
        return -413;
    req->has_content_length = true;
    req->content_length = v;
    return 0;
}

/* The fields the parser interprets. Called once per field line, after its CRLF, so every
 * verdict here is given at the first byte that can decide it. */
/* Host syntax (RFC 9110 §7.2), or the same bytes as the last Host found valid on this
 * connection (hp->host: a byte compare instead of the grammar, the same verdict). */
static ALWAYS_INLINE bool host_valid(cptr v, cptr ve, struct http_head_progress *hp)
{
    size_t n = (size_t)(ve - v);
    if (n && n == hp->host_len) {
        uint64_t a, b, c, d; /* the usual 8 to 16 bytes ("127.0.0.1:8080") in two words */
        if (n >= 8 && n <= 16) {
            memcpy(&a, v, 8), memcpy(&b, hp->host, 8);
            memcpy(&c, ve - 8, 8), memcpy(&d, hp->host + n - 8, 8);
            if (a == b && c == d)
                return true;
        } else if (http_same(v, hp->host, n)) {
            return true;
        }
    }
    if (!authority_valid(v, ve, false, false))
        return false;
    if (n <= sizeof(hp->host)) {
        memcpy(hp->host, v, n);
        hp->host_len = (unsigned char)n;
    }
    return true;
}

/* What field_kind tells a name: one of the fields the parser interprets, F_KNOWN for another
 * field clients commonly send, F_OTHER for the rest. */
enum { F_OTHER, F_KNOWN, F_HOST, F_EXPECT, F_CONNECTION, F_CONTENT_LENGTH, F_TRANSFER_ENCODING };

/* Which field a name is, by its length and then a word compare or two (h2o tells its known
 * field names apart the same way, by a table). A match proves the name a token, as these names
 * are made of letters and "-", and token_eq's fold maps no byte outside 0x00..0x1F (which the
 * fast path has excluded) onto a letter or "-" but the letters themselves: so the fast path
 * skips the token check for any kind but F_OTHER. */
static ALWAYS_INLINE int field_kind(cptr name, size_t name_n)
{
#define IS(lit) TOKEN_EQ(name, name_n, lit)
    switch (name_n) {
    case 4:
        return IS("host") ? F_HOST : F_OTHER;
    case 6:
        if (IS("accept") || IS("cookie") || IS("origin") || IS("pragma"))
            return F_KNOWN;
        return IS("expect") ? F_EXPECT : F_OTHER;
    case 7:
        return IS("referer") ? F_KNOWN : F_OTHER;
    case 9:
        return IS("sec-ch-ua") ? F_KNOWN : F_OTHER;
    case 10:
        if (IS("user-agent"))
            return F_KNOWN;
        return IS("connection") ? F_CONNECTION : F_OTHER;
    case 12:
        return IS("content-type") ? F_KNOWN : F_OTHER;
    case 13:
        return IS("cache-control") || IS("authorization") || IS("if-none-match") ? F_KNOWN
                                                                                 : F_OTHER;
    case 14:
        if (IS("content-length"))
            return F_CONTENT_LENGTH;
        return IS("sec-fetch-dest") || IS("sec-fetch-mode") || IS("sec-fetch-site") ||
                       IS("sec-fetch-user")
                   ? F_KNOWN
                   : F_OTHER;
    case 15:
        return IS("accept-encoding") || IS("accept-language") ? F_KNOWN : F_OTHER;
    case 16:
        return IS("sec-ch-ua-mobile") ? F_KNOWN : F_OTHER;
    case 17:
        if (IS("if-modified-since"))
            return F_KNOWN;
        return IS("transfer-encoding") ? F_TRANSFER_ENCODING : F_OTHER;
    case 18:
        return IS("sec-ch-ua-platform") ? F_KNOWN : F_OTHER;
    case 25:
        return IS("upgrade-insecure-requests") ? F_KNOWN : F_OTHER;
    default:
        return F_OTHER;
    }
#undef IS
}

/* A complete field line, name and value (OWS trimmed) delimited, of the given field_kind:
 * recorded in req->headers, then interpreted if it is one of the fields the parser acts on.
 * 0 or -STATUS. */
static ALWAYS_INLINE int field(int kind, cptr name, size_t name_n, cptr v, cptr ve,
                               const struct roost_http_limits *lim, struct roost_http_request *req,
                               head_state_t *st, struct http_head_progress *hp)
{
    struct roost_http_header *h = &req->headers[req->header_count++];
    h->name = (struct roost_http_str){(const char *)name, name_n};
    h->value = (struct roost_http_str){(const char *)v, (size_t)(ve - v)};
    if (kind == F_HOST) {
        /* RFC 9112 §3.2: 400 for more than one Host or an invalid one. An empty value is only
         * for a target URI without an authority, which an http URI always has: in HTTP/1.1,
         * where Host is required, empty is as good as missing. */
        if (st->host_seen || !host_valid(v, ve, hp) || (v == ve && req->version_minor == 1))
            return -400;
        st->host_seen = true;
        req->host = (struct roost_http_str){(const char *)v, (size_t)(ve - v)};
        return 0;
    }
    switch (kind) {
    case F_EXPECT:
        return expect(v, ve, st);
    case F_CONNECTION:
        return connection(v, ve, st);
    case F_CONTENT_LENGTH:
        /* RFC 9112 §6.3: CL with TE is a smuggling signature; we reject, as §6.1 allows */
        if (req->has_content_length || st->te_seen)
            return -400;
        return content_length(v, ve, lim, req);
    case F_TRANSFER_ENCODING:
        /* RFC 9112 §6.1: TE in HTTP/1.0 means faulty framing */
        if (req->version_minor == 0 || req->has_content_length)
            return -400;
        st->te_seen = true;
        return transfer_encoding(v, ve, st);
    default:
        return 0;
    }
}

/* The verdicts that need the whole head, given at the end of its blank line (head_len bytes
 * from the start of the buffer); the rest of the request's summary is filled in. */
static ALWAYS_INLINE int head_done(struct roost_http_request *req, const head_state_t *st,
                                   struct roost_http_str authority, size_t head_len)
{
    if (req->version_minor == 1 && !st->host_seen) /* RFC 9112 §3.2 */
        return -400;
    req->chunked = false;
    if (st->te_seen) {
        if (!st->te_chunked) /* §6.3: chunked not final, length undeterminable */
            return -400;
        if (st->te_unknown) /* §6.1: a coding we do not implement */
            return -501;
        req->chunked = true;
    }
    if (authority.p) /* §3.2.2: absolute-form overrides Host */
        req->host = authority;
    req->keep_alive =
        req->version_minor == 1 ? !st->conn_close : st->conn_keep_alive && !st->conn_close;
    /* RFC 9110 §10.1.1: a 100-continue in an HTTP/1.0 request MUST be ignored */
    req->expect_continue = req->version_minor == 1 && st->expect;
    req->head_len = head_len;
    return (int)head_len;
}

static size_t max_head_of(const struct roost_http_limits *lim)
{
    return lim->max_head_bytes < INT_MAX ? lim->max_head_bytes : INT_MAX;
}

/*
 * The head parser. hp says where a previous call on a prefix of the same head stopped: the
 * leading empty lines already skipped (hp->lead), or, once the request-line is done, the
 * first field line not parsed yet (hp->line, with hp->fields and hp->authority, and req
 * holding what was parsed before). Parsing resumes there, and stopping for more bytes records
 * the same again, so each complete line is parsed once.
 */
static int parse_head(const char *buf, size_t len, const struct roost_http_limits *lim,
                      struct roost_http_request *req, struct http_head_progress *hp)
{
    size_t max_head = max_head_of(lim);
    unsigned max_headers =
        lim->max_headers < ROOST_HTTP_MAX_HEADERS ? lim->max_headers : ROOST_HTTP_MAX_HEADERS;
    cptr const start = (cptr)buf;
    /* Never look past max_head_bytes: running out of bytes there means the head is too big,
     * and that is known now, without waiting for the rest. */
    cptr const end = start + (len < max_head ? len : max_head);
    cptr p = start;
    cptr line = NULL; /* the field line being parsed: where to resume */
    int too_big = -431;
    head_state_t st = {0};
    struct roost_http_str authority = {NULL, 0};
    int r;

    if (hp->line) {
        p = start + hp->line;
        st = hp->fields;
        authority = hp->authority;
        goto fields;
    }
    req->header_count = 0;
    req->host = (struct roost_http_str){NULL, 0};
    req->has_content_length = false;
    req->content_length = 0;

    /* RFC 9112 §2.2: ignore empty lines before the request-line (a client may send a CRLF
     * after a POST body). They count towards the head. */
    for (p += hp->lead;; p += 2) {
        hp->lead = (size_t)(p - start);
        if (p == end)
            goto more;
        if (*p != '\r')
            break;
        if (p + 1 == end)
            goto more;
        if (p[1] != '\n')
            return -400;
    }

    /* request-line = method SP request-target SP HTTP-version, RFC 9112 §3: exactly one SP
     * each; any other whitespace makes the line invalid (400, not a guess at the split). */
    cptr m = p;
    cptr m_end = end - p > ROOST_HTTP_MAX_METHOD ? p + ROOST_HTTP_MAX_METHOD + 1 : end;
    p = skip_common(p, m_end, false);
    while (p < m_end && (cls[*p] & C_TOKEN))
        p++;
    /* RFC 9110 §9.1: a method the server does not know is 501. One longer than any registered
     * method (the longest is 17 bytes) is unknown whatever follows: answer now, not 431. */
    if (p - m > ROOST_HTTP_MAX_METHOD)
        return -501;
    if (p == end)
        goto more;
    if (*p != ' ' || p == m)
        return -400;
    req->method = (struct roost_http_str){(const char *)m, (size_t)(p - m)};
    size_t mn = (size_t)(p - m);
    bool is_connect = mn == 7 && memcmp(m, "CONNECT", 7) == 0;
    bool is_options = mn == 7 && memcmp(m, "OPTIONS", 7) == 0;
    p++;

    /* request-target, RFC 9112 §3.2. Out of room here is 414 (URI Too Long), not 431. */
    too_big = -414;
    cptr t = p;
    if (p == end)
        goto more;
    if (is_connect) {
        /* §3.2.3: CONNECT takes authority-form and nothing else; checked when delimited */
        while (p < end && (cls[*p] & C_URI))
            p++;
        if (p == end)
            goto more;
        if (*p != ' ' || !authority_valid(t, p, true, true))
            return -400;
        req->target_form = ROOST_HTTP_TARGET_AUTHORITY;
        req->path = (struct roost_http_str){NULL, 0};
        req->query = (struct roost_http_str){NULL, 0};
    } else if (*p == '/') {
        if ((r = origin_form(p, &p, end, req)) <= 0) {
            if (r < 0)
                return r;
            goto more;
        }
    } else if (*p == '*') {
        /* §3.2.4: asterisk-form only for a server-wide OPTIONS */
        if (!is_options)
            return -400;
        if (++p == end)
            goto more;
        if (*p != ' ')
            return -400;
        req->target_form = ROOST_HTTP_TARGET_ASTERISK;
        req->path = (struct roost_http_str){"*", 1};
        req->query = (struct roost_http_str){NULL, 0};
    } else {
        /* §3.2.2 absolute-form; a scheme starts with ALPHA, which rejects "GET  /" early */
        if (!IS_ALPHA(*p))
            return -400;
        while (p < end && (cls[*p] & C_URI))
            p++;
        if (p == end)
            goto more;
        if (*p != ' ' || !absolute_form(t, p, req, &authority))
            return -400;
        req->target_form = ROOST_HTTP_TARGET_ABSOLUTE;
    }
    req->target = (struct roost_http_str){(const char *)t, (size_t)(p - t)};
    p++;
    too_big = -431;

    /* HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 §2.3), then CRLF. A
     * well-formed version with a major other than 1 is 505; anything else malformed is 400. */
    if (end - p >= 10 && memcmp(p, "HTTP/1.1\r\n", 10) == 0) {
        req->version_minor = 1;
        p += 10;
    } else {
        static const char proto[] = "HTTP/";
        for (int i = 0; i < 5; i++, p++) {
            if (p == end)
                goto more;
            if (*p != (unsigned char)proto[i])
                return -400;
        }
        unsigned char v[5]; /* DIGIT "." DIGIT CR LF */
        for (int i = 0; i < 5; i++, p++) {
            if (p == end)
                goto more;
            v[i] = *p;
            bool ok = i == 1   ? v[i] == '.'
                      : i == 3 ? v[i] == '\r'
                      : i == 4 ? v[i] == '\n'
                               : IS_DIGIT(v[i]);
            if (!ok)
                return -400;
        }
        if (v[0] != '1')
            return -505;
        /* RFC 9110 §2.5: a higher minor version is processed as the highest one we implement */
        req->version_minor = v[2] == '0' ? 0 : 1;
    }

fields:
    /* field-line = field-name ":" OWS field-value OWS, RFC 9112 §5 */
    for (;;) {
        line = p;
        if (p == end)
            goto more;
        unsigned char c = *p;
        if (c == '\r') {
            if (p + 1 == end)
                goto more;
            if (p[1] != '\n')
                return -400;
            p += 2;
            break;
        }
        /* A line starting with SP/HTAB is obs-fold (§5.2) or, first, whitespace after the
         * request-line (§2.2): both rejected. So is a bare LF and an empty name. */
        if (!(cls[c] & C_TOKEN))
            return -400;
        if (req->header_count == max_headers)
            return -431;
        cptr name = p++;
        p = skip_common(p, end, false);
        while (p < end && (cls[*p] & C_TOKEN))
            p++;
        if (p == end)
            goto more;
        if (*p != ':') /* §5.1: no whitespace between field name and colon, MUST reject */
            return -400;
        size_t name_n = (size_t)(p - name);
        p++;
        while (p < end && is_ows(*p))
            p++;
        cptr v = p;
        p = scan_field_value(p, end);
        if (p == end)
            goto more;
        /* NUL, bare CR, bare LF and other CTLs (§2.2, RFC 9110 §5.5) all land here */
        if (*p != '\r')
            return -400;
        if (p + 1 == end)
            goto more;
        if (p[1] != '\n')
            return -400;
        cptr ve = p;
        while (ve > v && is_ows(ve[-1]))
            ve--;
        p += 2;
        if ((r = field(field_kind(name, name_n), name, name_n, v, ve, lim, req, &st, hp)) != 0)
            return r;
    }

    return head_done(req, &st, authority, (size_t)(p - start));

more:
    if (line) { /* the request-line is done: resume at this field line */
        hp->line = (size_t)(line - start);
        hp->fields = st;
        hp->authority = authority;
    }
    return len >= max_head ? too_big : 0;
}

/*
 * The fast path, for a head looked at for the first time and whole: the common case, since a
 * client writes its head at once, and at pipelining depth one read holds many heads. It is
 * parse_head for the heads it knows, with the same helpers, minus what only an incomplete or
 * invalid head needs: no record of where to resume, no search for the first byte that proves
 * an error, and 16 bytes at a time where parse_head goes byte by byte. It knows a head that
 * starts with a method other than CONNECT, has an origin-form target and HTTP/1.1 or HTTP/1.0,
 * and whose field values are printable ASCII, after at most one SP following the colon and
 * without OWS at their end. Anything else (bytes still to come, leading empty lines, an error,
 * HTAB or obs-text, more fields than max_headers) makes it decline with 0, and parse_head
 * decides from the first byte. So it never gives a verdict parse_head would not:
 * tests/unit/test_http_parser.c and the parser's fuzz target compare the two on every input.
 */
#if defined(__SSE2__)
/* The 16 bytes from p + off, or, fewer than 16 being left before end, the last 16 before end:
 * *shift is what to shift a byte mask of the block right by for bit 0 to be p + off's (bits past
 * end then read as 0). Needs p < end and end - 16 >= the start of the buffer. */
static ALWAYS_INLINE __m128i block_at(cptr p, size_t off, cptr end, unsigned *shift)
{
    size_t left = (size_t)(end - p); /* > 0 */
    if (left >= off + 16) {
        *shift = 0;
        return _mm_loadu_si128((const __m128i *)(const void *)(p + off));
    }
    *shift = (unsigned)(off + 16 - left); /* 16 or more when p + off is not before end */
    return _mm_loadu_si128((const __m128i *)(const void *)(end - 16));
}

/* Byte mask: the bytes outside 0x20..0x7E (controls, DEL, obs-text), by one signed compare. */
static ALWAYS_INLINE unsigned not_printable(__m128i v)
{
    __m128i ok = _mm_cmpgt_epi8(_mm_add_epi8(v, _mm_set1_epi8(1)), _mm_set1_epi8(0x20));
    return ~(unsigned)_mm_movemask_epi8(ok) & 0xffffu;
}

static ALWAYS_INLINE unsigned byte_mask(__m128i v, char c)
{
    return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(c)));
}

static ALWAYS_INLINE int parse_fresh(const char *buf, size_t len,
                                     const struct roost_http_limits *lim,
                                     struct roost_http_request *req, struct http_head_progress *hp)
{
    size_t max_head = max_head_of(lim);
    cptr const start = (cptr)buf;
    cptr const end = start + (len < max_head ? len : max_head);
    cptr p = start;
    head_state_t st = {0};
    unsigned sh, sh1, m;

    if (end - p < 16) /* "GET / HTTP/1.1\r\n", the shortest request-line worth trying */
        goto decline;
    /* the method: GET by one compare, any other token but CONNECT byte by byte */
    if (memcmp(p, "GET ", 4) == 0) {
        p += 3;
    } else {
        cptr m_end = end - p > ROOST_HTTP_MAX_METHOD ? p + ROOST_HTTP_MAX_METHOD : end - 1;
        p = skip_common(p, m_end, false);
        while (p < m_end && (cls[*p] & C_TOKEN))
            p++;
        if (p == m_end || *p != ' ' || p == start ||
            (p - start == 7 && memcmp(start, "CONNECT", 7) == 0))
            goto decline;
    }
    req->method = (struct roost_http_str){(const char *)start, (size_t)(p - start)};
    cptr t = ++p;
    if (*p != '/')
        goto decline;
    /* A target of common bytes, up to 16 of them in the path and 16 in the query, is told by a
     * block of each; any other by origin_form, from where the blocks stopped. */
    __m128i vt = block_at(p, 0, end, &sh);
    m = uncommon(vt, COMMON_PATH) >> sh;
    cptr q = p + (m ? __builtin_ctz(m) : 0), qs = q + 1;
    unsigned mq = 0;
    if (m && *q == '?' && qs < end) {
        vt = block_at(qs, 0, end, &sh);
        mq = uncommon(vt, COMMON_QUERY) >> sh;
    }
    if (mq && qs[__builtin_ctz(mq)] == ' ') {
        p = qs + __builtin_ctz(mq);
        req->path = (struct roost_http_str){(const char *)t, (size_t)(q - t)};
        req->query = (struct roost_http_str){(const char *)qs, (size_t)(p - qs)};
        req->target_form = ROOST_HTTP_TARGET_ORIGIN;
    } else if (m && *q == ' ') {
        p = q;
        req->path = (struct roost_http_str){(const char *)t, (size_t)(p - t)};
        req->query = (struct roost_http_str){NULL, 0};
        req->target_form = ROOST_HTTP_TARGET_ORIGIN;
    } else {
        p = q;
        if (origin_form(t, &p, end, req) <= 0)
            goto decline;
    }
    req->target = (struct roost_http_str){(const char *)t, (size_t)(p - t)};
    p++;
    if (end - p < 10 || memcmp(p + 8, "\r\n", 2) != 0)
        goto decline;
    if (memcmp(p, "HTTP/1.1", 8) == 0)
        req->version_minor = 1;
    else if (memcmp(p, "HTTP/1.0", 8) == 0)
        req->version_minor = 0;
    else
        goto decline;
    p += 10;

    unsigned max_headers =
        lim->max_headers < ROOST_HTTP_MAX_HEADERS ? lim->max_headers : ROOST_HTTP_MAX_HEADERS;
    req->header_count = 0;
    req->host = (struct roost_http_str){NULL, 0};
    req->has_content_length = false;
    req->content_length = 0;
    for (;;) {
        if (p == end)
            goto decline;
        if (*p == '\r') {
            if (end - p < 2 || p[1] != '\n')
                goto decline;
            p += 2;
            break;
        }
        if (req->header_count == max_headers)
            goto decline;
        cptr name = p, cr = NULL, scan;
        size_t name_n;
        int kind;
        if (req->header_count == 0 && end - p >= 32 && TOKEN_EQ(p, 4, "host") && p[4] == ':') {
            /* Host, in every HTTP/1.1 request and mostly first: no need to look for the colon
             * nor to tell the name */
            name_n = 4;
            kind = F_HOST;
            p += 5;
            scan = NULL; /* from the value on */
            goto value;
        }
        /* The line's first 32 bytes at once: where its first byte outside 0x20..0x7E is (its
         * CR, if it is valid) and its first colon; most lines end within them. */
        __m128i v0, v1;
        uint32_t ctl, colon;
        if (__builtin_expect(end - p >= 32, 1)) {
            v0 = _mm_loadu_si128((const __m128i *)(const void *)p);
            v1 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
            sh = sh1 = 0;
            ctl = not_printable(v0) | not_printable(v1) << 16;
            colon = byte_mask(v0, ':') | byte_mask(v1, ':') << 16;
        } else { /* the last bytes of the buffer */
            v0 = block_at(p, 0, end, &sh), v1 = block_at(p, 16, end, &sh1);
            ctl = not_printable(v0) >> sh | not_printable(v1) >> sh1 << 16;
            colon = byte_mask(v0, ':') >> sh | byte_mask(v1, ':') >> sh1 << 16;
        }
        if (ctl) {
            cr = p + __builtin_ctz(ctl);
            colon &= ctl ^ (ctl - 1); /* before the control byte (or on it: never a colon) */
        }
        if (!colon) /* no colon in the line, or a name of 32 bytes or more */
            goto decline;
        scan = p + 32; /* may be past end */
        name_n = (size_t)__builtin_ctz(colon);
        kind = field_kind(name, name_n);
        if (kind == F_OTHER) { /* is the name a token? */
            if (name_n == 0)
                goto decline;
            /* tchars other than letters, digits and "-" are looked up byte by byte */
            uint32_t other = uncommon(v0, COMMON_NAME) >> sh;
            if (name_n > 16)
                other |= uncommon(v1, COMMON_NAME) >> sh1 << 16;
            if (other & ((1u << name_n) - 1))
                for (cptr q = name; q < name + name_n; q++)
                    if (!(cls[*q] & C_TOKEN))
                        goto decline;
        }
        p += name_n + 1;
    value:
        if (p < end && *p == ' ')
            p++;
        cptr val = p;
        if (!cr) { /* printable bytes from scan (or the value) on, up to CR LF */
            for (p = scan ? scan : val;; p += 16) {
                if (p >= end) /* scan may be past it */
                    goto decline;
                __m128i v = block_at(p, 0, end, &sh);
                if ((m = not_printable(v) >> sh) != 0)
                    break;
                if (end - p <= 16)
                    goto decline;
            }
            cr = p + __builtin_ctz(m);
        }
        p = cr;
        if (end - p < 2 || memcmp(p, "\r\n", 2) != 0 || (p != val && (*val == ' ' || p[-1] == ' ')))
            goto decline;
        if (kind <= F_KNOWN) { /* recorded only */
            struct roost_http_header *h = &req->headers[req->header_count++];
            h->name = (struct roost_http_str){(const char *)name, name_n};
            h->value = (struct roost_http_str){(const char *)val, (size_t)(p - val)};
        } else if (field(kind, name, name_n, val, p, lim, req, &st, hp) != 0) {
            goto decline;
        }
        p += 2;
    }
    int r = head_done(req, &st, (struct roost_http_str){NULL, 0}, (size_t)(p - start));
    if (r > 0)
        return r;
decline:
    hp->scanned += (size_t)(p - start); /* looked at, if not judged */
    return 0;
}
#else
static ALWAYS_INLINE int parse_fresh(const char *buf, size_t len,
                                     const struct roost_http_limits *lim,
                                     struct roost_http_request *req, struct http_head_progress *hp)
{
    (void)buf, (void)len, (void)lim, (void)req, (void)hp;
    return 0; /* without SSE2, parse_head is as fast */
}
#endif

int http_parse_head(const char *buf, size_t len, const struct roost_http_limits *lim,
                    struct roost_http_request *req)
{
    struct http_head_progress hp = {0};
    if (!lim)
        lim = &default_limits;
    int rc = parse_fresh(buf, len, lim, req, &hp);
    return rc > 0 ? rc : parse_head(buf, len, lim, req, &hp);
}

int http_parse_head_general(const char *buf, size_t len, const struct roost_http_limits *lim,
                            struct roost_http_request *req)
{
    struct http_head_progress hp = {0};
    return parse_head(buf, len, lim ? lim : &default_limits, req, &hp);
}

/* Moves a span that points into the old buffer's first n bytes (its end included) to the same
 * offset of buf. A NULL span, or a static one ("/", "*"), stays: its offset from old wraps
 * past n. No branch: a repeated head moves every span of its request this way. */
static ALWAYS_INLINE void rebase(struct roost_http_str *s, uintptr_t old, size_t n, const char *buf)
{
    uintptr_t off = (uintptr_t)s->p - old;
    s->p = off <= n ? buf + off : s->p;
}

/* Moves every span of req that pointed into the old buffer's first n bytes. */
static ALWAYS_INLINE void rebase_request(struct roost_http_request *req, uintptr_t old, size_t n,
                                         const char *buf)
{
    rebase(&req->method, old, n, buf);
    rebase(&req->target, old, n, buf);
    rebase(&req->path, old, n, buf);
    rebase(&req->query, old, n, buf);
    rebase(&req->host, old, n, buf);
    for (unsigned i = 0; i < req->header_count; i++) {
        rebase(&req->headers[i].name, old, n, buf);
        rebase(&req->headers[i].value, old, n, buf);
    }
}

/* Are a[0..n) and b[0..n) the same bytes? (n >= 16: whole blocks, the last one overlapping)
 * Not bytes.h's http_same, which is for short keys in words of 8: on bench_parser's 214-byte
 * head a repeat takes 19 ns this way, 24 to 30 ns that way. */
static ALWAYS_INLINE bool same_long(const char *a, const char *b, size_t n)
{
#if defined(__SSE2__)
    for (size_t i = 0;; i += 16) {
        size_t at = i + 16 <= n ? i : n - 16;
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(a + at));
        __m128i y = _mm_loadu_si128((const __m128i *)(const void *)(b + at));
        if (_mm_movemask_epi8(_mm_cmpeq_epi8(x, y)) != 0xffff)
            return false;
        if (at + 16 >= n)
            return true;
    }
#else
    return memcmp(a, b, n) == 0;
#endif
}

int http_parse_head_repeat(const char *buf, size_t len, size_t last_len,
                           struct roost_http_request *req, struct http_head_progress *hp)
{
    const char *last = buf - last_len;
    /* A valid head is 16 bytes at least ("A / HTTP/1.0", CRLF, CRLF): whole blocks compare. */
    if (last_len < 16 || len < last_len || hp->seen || !same_long(buf, last, last_len))
        return 0;
    rebase_request(req, (uintptr_t)last, last_len, buf);
    hp->scanned += last_len;
    return (int)last_len;
}

/* A byte that can change a parse stopped for more input: a line end, or a control character,
 * which a head only holds as an error (NUL, bare CR/LF, DEL...). HTAB is field whitespace. */
static bool wakes_parser(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

int http_parse_head_more(const char *buf, size_t len, const struct roost_http_limits *lim,
                         struct roost_http_request *req, struct http_head_progress *hp)
{
    if (!lim)
        lim = &default_limits;
    if (!hp->seen) { /* nothing of this head seen yet: try the fast path */
        int rc = parse_fresh(buf, len, lim, req, hp);
        if (rc > 0) {
            hp->scanned += (size_t)rc;
            hp->base = NULL; /* in case an empty buffer came first; all else is still reset */
            return rc;
        }
    }
    size_t max_head = max_head_of(lim);
    size_t avail = len < max_head ? len : max_head;
    if (hp->base && hp->base != buf) {
        /* The caller moved the bytes (compacted or grew its buffer): move the spans. */
        rebase_request(req, (uintptr_t)hp->base, hp->seen, buf);
        rebase(&hp->authority, (uintptr_t)hp->base, hp->seen, buf);
    }
    hp->base = buf;
    if (hp->seen && avail < max_head) {
        /*
         * The bytes up to hp->seen got "need more" already. Printable bytes alone cannot
         * complete the line being parsed: only a control byte (its CR LF, or an error) can
         * change the answer now. So look at the new bytes only, and parse when one of them
         * is a control byte. An error printable bytes prove (a bad token byte, say) is then
         * reported at that line's end, or at max_head_bytes: later, never differently.
         */
        size_t i = hp->seen;
        while (i < avail && !wakes_parser((unsigned char)buf[i]))
            i++;
        hp->scanned += i - hp->seen;
        if (i == avail) {
            hp->seen = avail;
            return 0;
        }
    }
    size_t from = hp->line ? hp->line : hp->lead;
    int rc = parse_head(buf, len, lim, req, hp);
    size_t to = rc > 0 ? (size_t)rc : avail;
    hp->scanned += to > from ? to - from : 0;
    if (rc != 0) { /* the next head starts afresh; scanned and host stay */
        hp->base = NULL;
        hp->seen = hp->lead = hp->line = 0;
        hp->fields = (struct http_fields_seen){0};
        hp->authority = (struct roost_http_str){NULL, 0};
    } else {
        hp->seen = avail;
    }
    return rc;
}

/* Chunked decoder states, RFC 9112 §7.1:
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
 */
enum {
    CH_SIZE_FIRST,  /* first HEXDIG of chunk-size */
    CH_SIZE,        /* more HEXDIG, or what follows the size */
    CH_EXT_SEMI,    /* BWS before ";" */
    CH_EXT_NAME0,   /* BWS after ";", then the first tchar of chunk-ext-name */
    CH_EXT_NAME,    /* chunk-ext-name */
    CH_EXT_NAME_WS, /* BWS after the name: "=" or ";" must follow */
    CH_EXT_VAL0,    /* BWS after "=", then token or quoted-string */
    CH_EXT_VAL,     /* token value */
    CH_EXT_QSTR,    /* inside quoted-string */
    CH_EXT_QPAIR,   /* after a backslash */
    CH_EXT_QEND,    /* after the closing DQUOTE */
    CH_SIZE_LF,     /* LF ending the chunk-size line */
    CH_DATA,        /* chunk-data */
    CH_DATA_CR,     /* CRLF after chunk-data */
    CH_DATA_LF,
    CH_TRAILER0,     /* start of a trailer field line or of the final CRLF */
    CH_TRAILER_NAME, /* field-name */
    CH_TRAILER_VAL,  /* field-value up to CR */
    CH_TRAILER_LF,
    CH_FINAL_LF,
    CH_DONE,
};

void http_chunked_init(struct roost_http_chunked *c, const struct roost_http_limits *lim)
{
    if (!lim)
        lim = &default_limits;
    *c = (struct roost_http_chunked){
        .max_body = lim->max_body_bytes,
        .max_meta = lim->max_head_bytes,
        .max_trailers = lim->max_headers,
        .state = CH_SIZE_FIRST,
    };
}

int http_chunked_feed(struct roost_http_chunked *c, const char *buf, size_t len, size_t *consumed,
                      struct roost_http_str *data, bool *done)
{
    cptr const start = (cptr)buf;
    cptr p = start, end = start + len;
    int err;

    *data = (struct roost_http_str){NULL, 0};
    if (c->error) {
        *consumed = 0;
        *done = false;
        return c->error;
    }
    while (p < end && c->state != CH_DONE) {
        unsigned char ch = *p;
        unsigned st = c->state;
        if (st == CH_DATA) {
            if (data->p) /* one span per call */
                break;
            size_t avail = (size_t)(end - p);
            size_t take = c->remaining < avail ? (size_t)c->remaining : avail;
            *data = (struct roost_http_str){(const char *)p, take};
            p += take;
            c->remaining -= take;
            if (c->remaining == 0)
                c->state = CH_DATA_CR;
            continue;
        }
        /* Extensions are ignored but not free: their bytes across the body count against
         * max_head_bytes, or a peer could stream an endless "chunk-size line". */
        if (st >= CH_EXT_SEMI && st <= CH_EXT_QEND && ch != '\r' && ++c->ext_bytes > c->max_meta)
            goto bad; /* 400: extensions are framing, not content, so 413 would mislead */
        /* Same for the trailer section (its final CRLF aside), like a second head: 431. */
        if (st >= CH_TRAILER0 && st <= CH_TRAILER_LF && !(st == CH_TRAILER0 && ch == '\r') &&
            ++c->trailer_bytes > c->max_meta)
            goto trailers_too_large;
        switch (st) {
        case CH_SIZE_FIRST:
            /* §7.1 chunk-size = 1*HEXDIG: no sign, no "0x", no leading whitespace */
            if (!(cls[ch] & C_HEX))
                goto bad;
            c->size = hex_value(ch);
            c->digits = 1;
            c->state = CH_SIZE;
            break;
        case CH_SIZE:
            if (cls[ch] & C_HEX) {
                /* 16 digits hold any 64-bit size; a 17th is overflow (or absurd zero padding) */
                if (c->digits == 16)
                    goto bad;
                c->digits++;
                c->size = c->size << 4 | hex_value(ch);
            } else if (ch == ';') {
                c->state = CH_EXT_NAME0;
            } else if (is_ows(ch)) {
                c->state = CH_EXT_SEMI;
            } else if (ch == '\r') {
                c->state = CH_SIZE_LF;
            } else {
                goto bad;
            }
            /* §7.1.3 decodes into a bounded body: refuse the chunk as soon as its size is
             * complete. Not digit by digit: a size that overflows 64 bits is malformed (400),
             * and must not be reported as a large body (413) before its 17th digit arrives. */
            if (!(cls[ch] & C_HEX) && c->size > c->max_body - c->total)
                goto too_large;
            if (ch == ';' || is_ows(ch)) /* this byte starts the extension */
                if (++c->ext_bytes > c->max_meta)
                    goto bad;
            break;
        case CH_EXT_SEMI: /* BWS may only precede ";" here: "1A \r\n" and "1 A" are invalid */
            if (ch == ';')
                c->state = CH_EXT_NAME0;
            else if (!is_ows(ch))
                goto bad;
            break;
        case CH_EXT_NAME0:
            if (cls[ch] & C_TOKEN)
                c->state = CH_EXT_NAME;
            else if (!is_ows(ch))
                goto bad;
            break;
        case CH_EXT_NAME:
            if (ch == '=')
                c->state = CH_EXT_VAL0;
            else if (ch == ';')
                c->state = CH_EXT_NAME0;
            else if (is_ows(ch))
                c->state = CH_EXT_NAME_WS;
            else if (ch == '\r')
                c->state = CH_SIZE_LF;
            else if (!(cls[ch] & C_TOKEN))
                goto bad;
            break;
        case CH_EXT_NAME_WS:
            if (ch == '=')
                c->state = CH_EXT_VAL0;
            else if (ch == ';')
                c->state = CH_EXT_NAME0;
            else if (!is_ows(ch))
                goto bad;
            break;
        case CH_EXT_VAL0:
            if (ch == '"')
                c->state = CH_EXT_QSTR;
            else if (cls[ch] & C_TOKEN)
                c->state = CH_EXT_VAL;
            else if (!is_ows(ch))
                goto bad;
            break;
        case CH_EXT_VAL:
            if (ch == ';')
                c->state = CH_EXT_NAME0;
            else if (is_ows(ch))
                c->state = CH_EXT_SEMI;
            else if (ch == '\r')
                c->state = CH_SIZE_LF;
            else if (!(cls[ch] & C_TOKEN))
                goto bad;
            break;
        case CH_EXT_QSTR: /* qdtext = HTAB / SP / VCHAR except DQUOTE and "\" / obs-text */
            if (ch == '"')
                c->state = CH_EXT_QEND;
            else if (ch == '\\')
                c->state = CH_EXT_QPAIR;
            else if (!(cls[ch] & C_FIELD))
                goto bad;
            break;
        case CH_EXT_QPAIR:
            if (!(cls[ch] & C_FIELD))
                goto bad;
            c->state = CH_EXT_QSTR;
            break;
        case CH_EXT_QEND:
            if (ch == ';')
                c->state = CH_EXT_NAME0;
            else if (is_ows(ch))
                c->state = CH_EXT_SEMI;
            else if (ch == '\r')
                c->state = CH_SIZE_LF;
            else
                goto bad;
            break;
        case CH_SIZE_LF: /* §2.2: no bare CR; bare LF is not accepted as a line end either */
            if (ch != '\n')
                goto bad;
            if (c->size == 0) {
                c->state = CH_TRAILER0; /* last-chunk */
            } else {
                c->total += c->size;
                c->remaining = c->size;
                c->state = CH_DATA;
            }
            break;
        case CH_DATA_CR:
            if (ch != '\r')
                goto bad;
            c->state = CH_DATA_LF;
            break;
        case CH_DATA_LF:
            if (ch != '\n')
                goto bad;
            c->state = CH_SIZE_FIRST;
            break;
        case CH_TRAILER0:
            /* §7.1.2 trailer-section = *( field-line CRLF ), checked like header fields (§5):
             * no obs-fold, no empty name; then discarded, never merged into the head. */
            if (ch == '\r') {
                c->state = CH_FINAL_LF;
            } else if (cls[ch] & C_TOKEN) {
                if (c->trailer_count++ == c->max_trailers)
                    goto trailers_too_large;
                c->state = CH_TRAILER_NAME;
            } else {
                goto bad;
            }
            break;
        case CH_TRAILER_NAME:
            if (ch == ':')
                c->state = CH_TRAILER_VAL;
            else if (!(cls[ch] & C_TOKEN)) /* includes whitespace before the colon, §5.1 */
                goto bad;
            break;
        case CH_TRAILER_VAL:
            if (ch == '\r')
                c->state = CH_TRAILER_LF;
            else if (!(cls[ch] & C_FIELD))
                goto bad;
            break;
        case CH_TRAILER_LF:
            if (ch != '\n')
                goto bad;
            c->state = CH_TRAILER0;
            break;
        case CH_FINAL_LF:
            if (ch != '\n')
                goto bad;
            c->state = CH_DONE;
            break;
        }
        p++;
    }
    *consumed = (size_t)(p - start);
    *done = c->state == CH_DONE;
    return 0;

bad:
    err = -400;
    goto fail;
too_large:
    err = -413;
    goto fail;
trailers_too_large:
    err = -431;
fail:
    *consumed = (size_t)(p - start);
    *done = false;
    c->error = err;
    return err;
}

/* Every byte is looked up, with no exit at the first bad one: the loop then has no branch
 * per byte, and the strings checked are short and almost always valid. */
static bool all_in_class(const char *s, size_t n, unsigned char c)
{
    unsigned char all = c;
    for (size_t i = 0; i < n; i++)
        all &= cls[(unsigned char)s[i]];
    return all == c;
}

bool http_token_valid(const char *s, size_t n)
{
    return n > 0 && all_in_class(s, n, C_TOKEN);
}

bool http_field_value_valid(const char *s, size_t n)
{
    return all_in_class(s, n, C_FIELD);
}

/* ---- responses -------------------------------------------------------------------------- */

/* Content-Length of a response: 1*DIGIT, no list, no repeat (as content_length for requests). */
static int response_content_length(cptr p, cptr end, const struct roost_http_limits *lim,
                                   struct roost_http_response_head *res)
{
    uint64_t v = 0;
    if (p == end || res->has_content_length)
        return -400;
    for (; p < end; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return -400;
        v = v * 10 + d;
    }
    res->has_content_length = true;
    res->content_length = v;
    return v > lim->max_body_bytes ? -413 : 0;
}

/* The fields a response's framing depends on; the rest are only collected. */
static int response_field(cptr name, size_t name_n, cptr v, cptr ve,
                          const struct roost_http_limits *lim, struct roost_http_response_head *res,
                          head_state_t *st)
{
    if (TOKEN_EQ(name, name_n, "connection"))
        return connection(v, ve, st);
    if (TOKEN_EQ(name, name_n, "content-length"))
        return st->te_seen ? -400 : response_content_length(v, ve, lim, res);
    if (TOKEN_EQ(name, name_n, "transfer-encoding")) {
        /* RFC 9112 §6.1: TE in HTTP/1.0 is faulty framing; with CL, a smuggling signature */
        if (res->version_minor == 0 || res->has_content_length)
            return -400;
        st->te_seen = true;
        return transfer_encoding(v, ve, st);
    }
    return 0;
}

int http_parse_response_head(const char *buf, size_t len, const struct roost_http_limits *lim,
                             struct roost_http_response_head *res)
{
    if (!lim)
        lim = &default_limits;
    size_t max_head = lim->max_head_bytes < INT_MAX ? lim->max_head_bytes : INT_MAX;
    unsigned max_headers =
        lim->max_headers < ROOST_HTTP_MAX_HEADERS ? lim->max_headers : ROOST_HTTP_MAX_HEADERS;
    cptr const start = (cptr)buf;
    cptr const end = start + (len < max_head ? len : max_head);
    cptr p = start;
    head_state_t st = {0};
    int r;

    res->header_count = 0;
    res->has_content_length = false;
    res->content_length = 0;

    /* status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF (RFC 9112 §4): the
     * fixed-width prefix "HTTP/d.d ddd " is checked byte by byte so that a prefix gets the
     * same verdict as the whole line. */
    static const char shape[] = "HTTP/9.9 999 ";
    for (int i = 0; i < 13; i++, p++) {
        if (p == end)
            goto more;
        bool ok = shape[i] == '9' ? IS_DIGIT(*p) : *p == (unsigned char)shape[i];
        if (!ok)
            return -400;
    }
    if (start[5] != '1')
        return -505;
    res->version_minor = start[7] == '0' ? 0 : 1;
    res->status = (start[9] - '0') * 100 + (start[10] - '0') * 10 + (start[11] - '0');
    if (res->status < 100)
        return -400;
    cptr reason = p;
    p = scan_field_value(p, end); /* reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ) */
    if (p == end)
        goto more;
    if (*p != '\r')
        return -400;
    if (p + 1 == end)
        goto more;
    if (p[1] != '\n')
        return -400;
    res->reason = (struct roost_http_str){(const char *)reason, (size_t)(p - reason)};
    p += 2;

    /* field-line = field-name ":" OWS field-value OWS, RFC 9112 §5, exactly as in requests */
    for (;;) {
        if (p == end)
            goto more;
        if (*p == '\r') {
            if (p + 1 == end)
                goto more;
            if (p[1] != '\n')
                return -400;
            p += 2;
            break;
        }
        if (!(cls[*p] & C_TOKEN)) /* obs-fold, bare LF, empty name */
            return -400;
        if (res->header_count == max_headers)
            return -431;
        cptr name = p;
        p = skip_token(p, end);
        if (p == end)
            goto more;
        if (*p != ':')
            return -400;
        size_t name_n = (size_t)(p - name);
        cptr v = skip_ows(p + 1, end);
        p = scan_field_value(v, end);
        if (p == end)
            goto more;
        if (*p != '\r') /* NUL, bare LF, other CTLs */
            return -400;
        if (p + 1 == end)
            goto more;
        if (p[1] != '\n')
            return -400;
        cptr ve = p;
        while (ve > v && is_ows(ve[-1]))
            ve--;
        p += 2;
        res->headers[res->header_count++] = (struct roost_http_header){
            {(const char *)name, name_n}, {(const char *)v, (size_t)(ve - v)}};
        if ((r = response_field(name, name_n, v, ve, lim, res, &st)) != 0)
            return r;
    }

    res->chunked = false;
    if (st.te_seen) {
        /* §6.3 would read a body whose last coding is not chunked until close; a client
         * that cannot decode the codings has no use for it, and strictness wins here. */
        if (!st.te_chunked)
            return -400;
        if (st.te_unknown)
            return -501;
        res->chunked = true;
    }
    res->keep_alive =
        res->version_minor == 1 ? !st.conn_close : st.conn_keep_alive && !st.conn_close;
    res->head_len = (size_t)(p - start);
    return (int)res->head_len;

more:
    return len >= max_head ? -431 : 0;
}
