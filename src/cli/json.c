/* The serve endpoints' JSON and HTML writer (see json.h for why not cJSON). */
#include <stdlib.h>
#include <string.h>

#include "cli/json.h"

static bool reserve(struct jw *w, size_t n)
{
    if (w->failed)
        return false;
    if (w->len + n <= w->cap)
        return true;
    size_t cap = w->cap ? w->cap : 4096;
    while (cap < w->len + n)
        cap *= 2;
    char *b = realloc(w->buf, cap);
    if (!b) {
        w->failed = true;
        return false;
    }
    w->buf = b;
    w->cap = cap;
    return true;
}

void jw_raw(struct jw *w, const char *s, size_t n)
{
    if (!reserve(w, n))
        return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void put(struct jw *w, char c)
{
    if (reserve(w, 1))
        w->buf[w->len++] = c;
}

void jw_reset(struct jw *w)
{
    w->len = 0;
    w->failed = false;
    w->comma = false;
}

void jw_free(struct jw *w)
{
    free(w->buf);
    w->buf = NULL;
    w->len = w->cap = 0;
}

static void sep(struct jw *w)
{
    if (w->comma)
        put(w, ',');
    w->comma = true;
}

void jw_obj_open(struct jw *w)
{
    sep(w);
    put(w, '{');
    w->comma = false;
}

void jw_obj_close(struct jw *w)
{
    put(w, '}');
    w->comma = true;
}

void jw_arr_open(struct jw *w)
{
    sep(w);
    put(w, '[');
    w->comma = false;
}

void jw_arr_close(struct jw *w)
{
    put(w, ']');
    w->comma = true;
}

static void quoted(struct jw *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    put(w, '"');
    size_t run = 0; /* bytes that need no escape, copied in one go */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        jw_raw(w, s + run, i - run);
        run = i + 1;
        char e[6] = {'\\', 0};
        size_t len = 2;
        switch (c) {
        case '"':
            e[1] = '"';
            break;
        case '\\':
            e[1] = '\\';
            break;
        case '\n':
            e[1] = 'n';
            break;
        case '\r':
            e[1] = 'r';
            break;
        case '\t':
            e[1] = 't';
            break;
        case '\b':
            e[1] = 'b';
            break;
        case '\f':
            e[1] = 'f';
            break;
        default:
            e[1] = 'u';
            e[2] = '0';
            e[3] = '0';
            e[4] = hex[c >> 4];
            e[5] = hex[c & 15];
            len = 6;
        }
        jw_raw(w, e, len);
    }
    jw_raw(w, s + run, n - run);
    put(w, '"');
}

void jw_key(struct jw *w, const char *key)
{
    sep(w);
    quoted(w, key, strlen(key));
    put(w, ':');
    w->comma = false;
}

void jw_int(struct jw *w, int64_t v)
{
    sep(w);
    /* By hand: snprintf's format parsing cost more than the rest of a value. */
    char b[24], *p = b + sizeof(b);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    jw_raw(w, p, (size_t)(b + sizeof(b) - p));
}

void jw_bool(struct jw *w, bool v)
{
    sep(w);
    if (v)
        jw_raw(w, "true", 4);
    else
        jw_raw(w, "false", 5);
}

void jw_str(struct jw *w, const char *s, size_t n)
{
    sep(w);
    quoted(w, s, n);
}

void jw_html(struct jw *w, const char *s, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        const char *e;
        switch (s[i]) {
        case '&':
            e = "&amp;";
            break;
        case '<':
            e = "&lt;";
            break;
        case '>':
            e = "&gt;";
            break;
        case '"':
            e = "&quot;";
            break;
        case '\'':
            e = "&#39;";
            break;
        default:
            continue;
        }
        jw_raw(w, s + run, i - run);
        jw_raw(w, e, strlen(e));
        run = i + 1;
    }
    jw_raw(w, s + run, n - run);
}

void jw_item(struct jw *w, const struct jw_item *it)
{
    jw_obj_open(w);
    jw_key(w, "id");
    jw_int(w, it->id);
    jw_key(w, "name");
    jw_str(w, it->name, it->name_len);
    jw_key(w, "category");
    jw_str(w, it->category, it->category_len);
    jw_key(w, "price");
    jw_int(w, it->price);
    jw_key(w, "quantity");
    jw_int(w, it->quantity);
    jw_key(w, "active");
    jw_bool(w, it->active);
    jw_key(w, "rating");
    jw_obj_open(w);
    jw_key(w, "score");
    jw_int(w, it->rating_score);
    jw_key(w, "count");
    jw_int(w, it->rating_count);
    jw_obj_close(w);
    jw_obj_close(w);
}
