/*
 * A small JSON (and HTML) writer for the serve endpoints: appends to a growable buffer that
 * is kept between requests, escaping every string. Chosen over cJSON after measuring
 * (bench/bench_json.c, README): cJSON builds a tree of heap nodes per document, which costs
 * an allocation per value on every request; this writes the bytes directly.
 */
#ifndef ROOST_CLI_JSON_H
#define ROOST_CLI_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jw {
    char *buf;
    size_t len, cap;
    bool failed; /* an allocation failed: the document is incomplete */
    bool comma;  /* the next value needs a separating comma */
};

/* Empties w, keeping its buffer. */
void jw_reset(struct jw *w);
/* Frees w's buffer. */
void jw_free(struct jw *w);

/* Structure: objects and arrays; keys precede their values. */
void jw_obj_open(struct jw *w);
void jw_obj_close(struct jw *w);
void jw_arr_open(struct jw *w);
void jw_arr_close(struct jw *w);
void jw_key(struct jw *w, const char *key);

/* Values (strings escaped per RFC 8259). */
void jw_int(struct jw *w, int64_t v);
void jw_bool(struct jw *w, bool v);
void jw_str(struct jw *w, const char *s, size_t n);

/* Raw bytes, and text with HTML's five special characters escaped. */
void jw_raw(struct jw *w, const char *s, size_t n);
void jw_html(struct jw *w, const char *s, size_t n);

/* One row of /async-db's items, and its JSON object (with the nested rating). */
struct jw_item {
    int64_t id, price, quantity, rating_score, rating_count;
    const char *name, *category;
    size_t name_len, category_len;
    bool active;
};
void jw_item(struct jw *w, const struct jw_item *it);

#endif
