/*
 * bench_parser: the HTTP/1.1 request-head parser's throughput on one typical GET head,
 * parsed again and again from memory (no I/O). Moved here from the parser's unit tests:
 * tests assert behaviour, benchmarks report figures.
 *
 *   bench_parser [ITERATIONS]      (default 1000000)
 *
 * Prints ns per parse and parses per second (and per repeated head, which is compared rather
 * than parsed); exits 1 if any parse fails.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "http/parser.h"

int main(int argc, char **argv)
{
    uint64_t iterations = 1000000;
    if (argc > 1 && parse_u64(argv[1], 1, UINT64_C(1) << 40, &iterations) < 0) {
        fprintf(stderr, "usage: bench_parser [ITERATIONS]\n");
        return 2;
    }
    static const char head[] = "GET /api/v1/users/12345?fields=name,email HTTP/1.1\r\n"
                               "Host: api.example.com\r\n"
                               "User-Agent: Mozilla/5.0 (X11; Linux x86_64) roost/0.1\r\n"
                               "Accept: application/json\r\n"
                               "Accept-Encoding: gzip, deflate\r\n"
                               "Connection: keep-alive\r\n\r\n";
    const size_t n = sizeof(head) - 1;
    struct roost_http_request req;
    long long sum = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t i = 0; i < iterations; i++)
        sum += http_parse_head(head, n, NULL, &req);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) /
                (double)iterations;
    printf("parse_head: %zu-byte GET, %llu parses, %.1f ns/parse, %.2f M parses/s\n", n,
           (unsigned long long)iterations, ns, 1e3 / ns);
    /* As a connection parses: the incremental entry point with its per-connection state
     * (the Host value it validated on the previous request is compared, not re-parsed). */
    struct http_head_progress hp = {0};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t i = 0; i < iterations; i++)
        sum += http_parse_head_more(head, n, NULL, &req, &hp);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ns_conn = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) /
                     (double)iterations;
    printf("parse_head_more: the same head on one connection, %.1f ns/parse, %.2f M parses/s\n",
           ns_conn, 1e3 / ns_conn);
    /* A pipelined repeat of the head just parsed: compared with it, not parsed again. */
    static char twice[2 * (sizeof(head) - 1)];
    memcpy(twice, head, n);
    memcpy(twice + n, head, n);
    struct http_head_progress hp2 = {0};
    sum += http_parse_head_more(twice, n, NULL, &req, &hp2) - (long long)n;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t i = 0; i < iterations; i++)
        sum += http_parse_head_repeat(twice + n, n, n, &req, &hp2);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ns_rep = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) /
                    (double)iterations;
    printf("parse_head_repeat: the same head again, pipelined, %.1f ns/head, %.2f M heads/s\n",
           ns_rep, 1e3 / ns_rep);
    if (sum != 3 * (long long)n * (long long)iterations) {
        fprintf(stderr, "bench_parser: a parse failed\n");
        return 1;
    }
    return 0;
}
