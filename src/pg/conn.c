/*
 * A connection's driver: one task per connection on its reactor. It connects
 * (PQconnectStartParams, then PQconnectPoll whenever roost_fd_poll says the socket is
 * ready), enters pipeline mode, and from then on sits in one poll of the socket for
 * reading (and writing while libpq holds unsent bytes). Tasks that query append to the
 * connection's pipeline themselves (client.c) and flush without blocking; the driver reads
 * what comes back and hands each result to the task waiting for it, in pipeline order. When
 * the connection breaks, every waiting task gets -ECONNRESET and the driver reconnects with
 * a doubling back-off.
 *
 * libpq is never asked to block: the socket is non-blocking, PQconsumeInput reads only
 * what is there, and PQgetResult is called only while PQisBusy says a whole result is
 * buffered. The one libpq call that could block on the network is name resolution inside
 * PQconnectStart; host names are therefore resolved on the worker pool first (getaddrinfo
 * there) and passed to libpq as hostaddr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <roost/net.h>
#include <roost/pool.h>

#include "pg/pg.h"

void pg_reactor_wake_one(struct pg_reactor *pr)
{
    struct pg_call *call = pr->wait_head;
    if (!call)
        return;
    pr->wait_head = call->next;
    if (!pr->wait_head)
        pr->wait_tail = NULL;
    call->queued = false;
    roost_timer_cancel(&call->timer);
    roost_complete(&call->w, 0);
}

static void wake_all(struct pg_reactor *pr)
{
    while (pr->wait_head)
        pg_reactor_wake_one(pr);
}

void pg_conn_unfence(struct pg_conn *pc)
{
    if (!pc->fenced || pc->cancels > 0 || pc->count > 0)
        return;
    pc->fenced = false;
    wake_all(pc->pr); /* a whole connection is free again */
}

/* ---- connecting ------------------------------------------------------------------------- */

struct resolve {
    const char *host;
    char addr[INET6_ADDRSTRLEN];
};

/* On the worker pool: getaddrinfo may block on DNS for seconds. */
static int resolve_job(void *arg)
{
    struct resolve *rs = arg;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    int rc = getaddrinfo(rs->host, NULL, &hints, &ai);
    if (rc != 0)
        return rc == EAI_MEMORY ? -ENOMEM : -EHOSTUNREACH;
    const void *a = ai->ai_family == AF_INET6
                        ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
                        : (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
    rc = inet_ntop(ai->ai_family, a, rs->addr, sizeof(rs->addr)) ? 0 : -EAFNOSUPPORT;
    freeaddrinfo(ai);
    return rc;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int conn_open(struct pg_conn *pc)
{
    struct roost_pg *pg = pc->pr->pg;
    /* A copy of the options per connect: drivers of several reactors connect at once. */
    const char *vals[PG_MAX_OPTIONS + 1];
    memcpy(vals, pg->vals, (pg->nkeys + 1) * sizeof(vals[0]));
    struct resolve rs = {.host = NULL};
    if (pg->resolve) {
        rs.host = pg->vals[pg->host_at];
        int rc = roost_offload(resolve_job, &rs);
        if (rc < 0)
            return rc;
        vals[pg->hostaddr_at] = rs.addr;
    }
    pc->state = PG_CONNECTING;
    pc->conn = PQconnectStartParams((const char *const *)pg->keys, vals, 0);
    if (!pc->conn)
        return -ENOMEM;
    if (PQstatus(pc->conn) == CONNECTION_BAD || PQsetnonblocking(pc->conn, 1) != 0)
        return -ECONNREFUSED;
    uint64_t deadline = now_ms() + pg->connect_timeout_ms;
    /* libpq's protocol: behave as if the last poll said "writing" before the first call. */
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK) {
        if (st == PGRES_POLLING_FAILED)
            return -ECONNREFUSED;
        uint64_t now = now_ms();
        if (now >= deadline)
            return -ETIMEDOUT;
        /* The socket may change between attempts (several addresses): ask each time. */
        int rc = roost_fd_poll(PQsocket(pc->conn), st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
                               deadline - now);
        if (rc < 0)
            return rc;
        st = PQconnectPoll(pc->conn);
    }
    if (!PQenterPipelineMode(pc->conn))
        return -EPROTO;
    pc->fd = PQsocket(pc->conn);
    pc->prepared = 0;
    return 0;
}

/* ---- serving ------------------------------------------------------------------------------ */

static void deliver(struct pg_call *call, PGresult *res)
{
    if (!call) {
        PQclear(res); /* its task was cancelled and has gone */
        return;
    }
    int rc = -ECONNRESET;
    if (res) {
        ExecStatusType st = PQresultStatus(res);
        rc = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK || st == PGRES_EMPTY_QUERY
                 ? 0
                 : pg_result_errno(res);
    }
    call->res = res;
    roost_complete(&call->w, rc);
}

static void pop(struct pg_conn *pc)
{
    pc->head++;
    pc->count--;
}

/* Hands out every result libpq has complete. -EPROTO if the server is out of step. */
static int conn_drain(struct pg_conn *pc)
{
    while (pc->count > 0 && !PQisBusy(pc->conn)) {
        struct pg_item *it = &pc->items[pc->head % pc->cap];
        PGresult *res = PQgetResult(pc->conn);
        if (it->kind == PG_ITEM_SYNC) {
            if (!res)
                break;
            ExecStatusType st = PQresultStatus(res);
            PQclear(res);
            if (st != PGRES_PIPELINE_SYNC)
                return -EPROTO;
            /* A failed prepare concerns only its own sync segment. */
            PQclear(pc->prep_err);
            pc->prep_err = NULL;
            pop(pc);
            continue;
        }
        if (res) {
            if (!it->res)
                it->res = res;
            else
                PQclear(res);
            continue;
        }
        /* NULL: the item's results are complete. */
        PGresult *r = it->res;
        it->res = NULL;
        if (it->kind == PG_ITEM_PREPARE) {
            if (r && PQresultStatus(r) != PGRES_COMMAND_OK) {
                /* The query it was made for gets this error instead of "aborted". */
                PQclear(pc->prep_err);
                pc->prep_err = r;
                pc->prepared &= ~(1ull << it->stmt);
            } else {
                PQclear(r);
            }
            pop(pc);
            continue;
        }
        if (r && PQresultStatus(r) == PGRES_PIPELINE_ABORTED && pc->prep_err) {
            PQclear(r);
            r = pc->prep_err;
            pc->prep_err = NULL;
        }
        struct pg_call *call = it->call;
        it->call = NULL;
        pop(pc);
        pc->queries--;
        deliver(call, r);
        pg_reactor_wake_one(pc->pr); /* a slot is free */
    }
    pg_conn_unfence(pc);
    return 0;
}

static int conn_serve(struct pg_conn *pc)
{
    for (;;) {
        if (pc->pr->stopping)
            return -ESHUTDOWN;
        if (pc->broken)
            return -ECONNRESET;
        int f = PQflush(pc->conn);
        if (f < 0)
            return -ECONNRESET;
        pc->polling_out = f == 1;
        pc->in_poll = true;
        int rc = roost_fd_poll(pc->fd, POLLIN | (f == 1 ? POLLOUT : 0), 0);
        pc->in_poll = false;
        if (rc == -ECANCELED)
            continue; /* kicked: a query needs POLLOUT, the connection broke, or a stop */
        if (rc < 0)
            return rc;
        if (rc & (POLLIN | POLLERR | POLLHUP)) {
            if (!PQconsumeInput(pc->conn))
                return -ECONNRESET;
            rc = conn_drain(pc);
            if (rc < 0)
                return rc;
        }
        if (PQstatus(pc->conn) == CONNECTION_BAD)
            return -ECONNRESET;
    }
}

/* Fails whatever the connection still owes and closes it. */
static void conn_close(struct pg_conn *pc, int err)
{
    while (pc->count > 0) {
        struct pg_item *it = &pc->items[pc->head % pc->cap];
        PQclear(it->res);
        it->res = NULL;
        if (it->kind == PG_ITEM_QUERY) {
            pc->queries--;
            if (it->call)
                roost_complete(&it->call->w, err);
            it->call = NULL;
        }
        pop(pc);
    }
    PQclear(pc->prep_err);
    pc->prep_err = NULL;
    if (pc->conn)
        PQfinish(pc->conn); /* non-blocking: the Terminate message is sent only if it fits */
    pc->conn = NULL;
    pc->fd = -1;
    pc->state = PG_DOWN;
    pc->broken = false;
    pc->prepared = 0;
    /* The next session is another server process: requests still out cannot reach it. */
    pc->gen++;
    pc->cancels = 0;
    pc->fenced = false;
}

int pg_conn_driver(void *arg)
{
    struct pg_conn *pc = arg;
    struct pg_reactor *pr = pc->pr;
    unsigned backoff = PG_BACKOFF_MIN_MS;
    bool reported = false;
    while (!pr->stopping) {
        int rc = conn_open(pc);
        if (rc == 0) {
            backoff = PG_BACKOFF_MIN_MS;
            reported = false;
            pc->state = PG_READY;
            wake_all(pr);
            rc = conn_serve(pc);
        }
        char why[256];
        snprintf(why, sizeof(why), "%s", pc->conn ? PQerrorMessage(pc->conn) : "");
        why[strcspn(why, "\n")] = 0;
        bool was_cancel = rc == -ECANCELED;
        conn_close(pc, pr->stopping || rc == -ESHUTDOWN ? -ESHUTDOWN : -ECONNRESET);
        if (pr->stopping || rc == -ESHUTDOWN)
            break;
        if (!reported && !was_cancel) {
            /* Once per outage: a server that is down must not flood the log. */
            fprintf(stderr, "roost: pg: reactor %u connection %u: %s (%s); retrying\n",
                    roost_reactor_id(pr->r), pc->index, strerror(-rc), why);
            reported = true;
        }
        rc = roost_sleep(backoff);
        if (rc == -ESHUTDOWN)
            break;
        backoff = backoff * 2 > PG_BACKOFF_MAX_MS ? PG_BACKOFF_MAX_MS : backoff * 2;
    }
    return 0;
}
