/*
 * bench_json: roost serve's JSON writer (src/cli/json.c) against cJSON (Debian libcjson-dev)
 * on the /async-db document: 50 items, each with six fields and a nested rating object.
 * Both build the document from the same values and produce the same bytes (checked); the
 * figure is CPU ns per document (the thread's CPU clock, so a busy machine does not inflate
 * it), median of ROUNDS rounds alternating the two.
 *
 *   build/bench_json [--docs N (20000)] [--rounds N (5)]
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "cli/json.h"

enum { ITEMS = 50 };

static char names[ITEMS][16];

static void item_values(int i, int *price, int *qty, int *score, int *count, bool *active)
{
    *price = 1 + (i * 37) % 1000;
    *qty = (i * 13) % 100;
    *score = 1 + i % 5;
    *count = (i * 11) % 500;
    *active = i % 7 != 0;
}

static size_t with_jw(struct jw *w)
{
    jw_reset(w);
    jw_obj_open(w);
    jw_key(w, "items");
    jw_arr_open(w);
    for (int i = 0; i < ITEMS; i++) {
        int price, qty, score, count;
        bool active;
        item_values(i, &price, &qty, &score, &count, &active);
        struct jw_item it = {i + 1, price, qty, score, count, names[i], "tools", strlen(names[i]),
                             5,     active};
        jw_item(w, &it);
    }
    jw_arr_close(w);
    jw_key(w, "count");
    jw_int(w, ITEMS);
    jw_obj_close(w);
    return w->len;
}

static char *with_cjson(void)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *items = cJSON_AddArrayToObject(doc, "items");
    for (int i = 0; i < ITEMS; i++) {
        int price, qty, score, count;
        bool active;
        item_values(i, &price, &qty, &score, &count, &active);
        cJSON *it = cJSON_CreateObject();
        cJSON_AddNumberToObject(it, "id", i + 1);
        cJSON_AddStringToObject(it, "name", names[i]);
        cJSON_AddStringToObject(it, "category", "tools");
        cJSON_AddNumberToObject(it, "price", price);
        cJSON_AddNumberToObject(it, "quantity", qty);
        cJSON_AddBoolToObject(it, "active", active);
        cJSON *rating = cJSON_AddObjectToObject(it, "rating");
        cJSON_AddNumberToObject(rating, "score", score);
        cJSON_AddNumberToObject(rating, "count", count);
        cJSON_AddItemToArray(items, it);
    }
    cJSON_AddNumberToObject(doc, "count", ITEMS);
    char *s = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    return s;
}

int main(int argc, char **argv)
{
    uint64_t docs = 20000, rounds = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--docs") && parse_u64(argv[i + 1], 1, 100000000, &docs) == 0)
            continue;
        if (!strcmp(argv[i], "--rounds") && parse_u64(argv[i + 1], 1, 1000, &rounds) == 0)
            continue;
        fprintf(stderr, "usage: bench_json [--docs N] [--rounds N]\n");
        return 2;
    }
    for (int i = 0; i < ITEMS; i++)
        snprintf(names[i], sizeof(names[i]), "item \"%d\"", i + 1);
    struct jw w = {0};
    with_jw(&w);
    char *c = with_cjson();
    if (strlen(c) != w.len || memcmp(c, w.buf, w.len)) {
        fprintf(stderr, "bench_json: the two documents differ:\n%.*s\n%s\n", (int)w.len, w.buf, c);
        return 1;
    }
    free(c);
    uint64_t *tw = calloc(rounds, sizeof(*tw)), *tc = calloc(rounds, sizeof(*tc));
    size_t sink = 0;
    for (uint64_t r = 0; r < rounds; r++) {
        uint64_t t0 = thread_cpu_ns();
        for (uint64_t d = 0; d < docs; d++)
            sink += with_jw(&w);
        tw[r] = (thread_cpu_ns() - t0) / docs;
        t0 = thread_cpu_ns();
        for (uint64_t d = 0; d < docs; d++) {
            char *s = with_cjson();
            sink += strlen(s);
            free(s);
        }
        tc[r] = (thread_cpu_ns() - t0) / docs;
    }
    qsort(tw, rounds, sizeof(*tw), cmp_u64);
    qsort(tc, rounds, sizeof(*tc), cmp_u64);
    printf("# %zu bytes per document, %llu documents x %llu rounds (sink %zu)\n", w.len,
           (unsigned long long)docs, (unsigned long long)rounds, sink);
    printf("json_writer_ns_per_doc %llu\n", (unsigned long long)tw[rounds / 2]);
    printf("cjson_ns_per_doc %llu\n", (unsigned long long)tc[rounds / 2]);
    printf("cjson_over_writer %.2f\n", (double)tc[rounds / 2] / (double)tw[rounds / 2]);
    jw_free(&w);
    free(tw);
    free(tc);
    return 0;
}
