/*
 * The baseline for the pump benchmark: a plain blocking hiredis loop per thread, the way a
 * consumer is written without a runtime — XREADGROUP (COUNT, BLOCK), then per message the
 * handler and an XACK, each a blocking round trip.
 *
 *   peer_hiredis_pump PORT STREAM GROUP THREADS COUNT SLEEP_MS IN_FLIGHT
 *
 * Exits once COUNT messages were acked over all threads; prints the same summary line as
 * `roost pump` (messages/s, CPU microseconds per message of this process).
 */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static int port;
static const char *stream, *group;
static long want;
static unsigned sleep_ms, in_flight;
static _Atomic long acked;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *consumer(void *arg)
{
    unsigned i = (unsigned)(uintptr_t)arg;
    redisContext *c = redisConnect("127.0.0.1", port);
    if (!c || c->err) {
        fprintf(stderr, "peer: connect failed\n");
        exit(1);
    }
    char name[32];
    snprintf(name, sizeof(name), "peer-%u", i);
    while (atomic_load(&acked) < want) {
        redisReply *r = redisCommand(c, "XREADGROUP GROUP %s %s COUNT %u BLOCK 100 STREAMS %s >",
                                     group, name, in_flight, stream);
        if (!r) {
            fprintf(stderr, "peer: connection lost\n");
            exit(1);
        }
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
            redisReply *entries = r->element[0]->element[1];
            for (size_t j = 0; j < entries->elements; j++) {
                if (sleep_ms) {
                    struct timespec ts = {0, (long)sleep_ms * 1000000L};
                    nanosleep(&ts, NULL);
                }
                redisReply *a = redisCommand(c, "XACK %s %s %s", stream, group,
                                             entries->element[j]->element[0]->str);
                freeReplyObject(a);
                atomic_fetch_add(&acked, 1);
            }
        }
        freeReplyObject(r);
    }
    redisFree(c);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr,
                "usage: peer_hiredis_pump PORT STREAM GROUP THREADS COUNT SLEEP_MS IN_FLIGHT\n");
        return 2;
    }
    port = atoi(argv[1]);
    stream = argv[2];
    group = argv[3];
    unsigned threads = (unsigned)atoi(argv[4]);
    want = atol(argv[5]);
    sleep_ms = (unsigned)atoi(argv[6]);
    in_flight = (unsigned)atoi(argv[7]);
    redisContext *c = redisConnect("127.0.0.1", port);
    if (!c || c->err)
        return 1;
    freeReplyObject(redisCommand(c, "XGROUP CREATE %s %s 0 MKSTREAM", stream, group));
    redisFree(c);
    double t0 = now_s();
    pthread_t t[256];
    if (threads < 1 || threads > 256)
        return 2;
    for (unsigned i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, consumer, (void *)(uintptr_t)i);
    for (unsigned i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    double secs = now_s() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    long n = atomic_load(&acked);
    printf("peer: done: acked %ld in %.1f s, %.0f msg/s, %.1f us CPU/msg\n", n, secs, n / secs,
           cpu * 1e6 / (double)n);
    return 0;
}
