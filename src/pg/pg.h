/*
 * Internal: the PostgreSQL client. A roost_pg holds one pg_reactor per reactor; each holds
 * its connections (pg_conn), each run by a driver task on that reactor. Everything in a
 * pg_reactor is touched only on its reactor's thread: tasks elsewhere hop there first.
 */
#ifndef ROOST_PG_PG_H
#define ROOST_PG_PG_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <roost/pg.h>
#include <roost/reactor.h>
#include <roost/task.h>
#include <roost/timer.h>
#include <roost/waiter.h>

#define PG_MAX_STMTS 64

/* Connection options a URL may set (libpq knows about 40). */
#define PG_MAX_OPTIONS 62

/* Reconnect back-off: first wait, and the cap it doubles up to. */
#define PG_BACKOFF_MIN_MS 50u
#define PG_BACKOFF_MAX_MS 1000u

struct pg_stmt {
    char *name;
    char *sql;
    int nparams;
};

/* One query of a task, on the task's stack while it waits. */
struct pg_call {
    struct roost_waiter w;
    struct pg_reactor *pr;
    struct pg_conn *pc;       /* the connection it was queued on; NULL while acquiring */
    struct pg_call *next;     /* the acquire queue */
    struct roost_timer timer; /* acquire timeout */
    bool queued;              /* on the acquire queue */
    unsigned item;            /* its position in pc's item ring (absolute count) */
    PGresult *res;            /* set by the driver before it completes w */
};

enum pg_item_kind { PG_ITEM_PREPARE, PG_ITEM_QUERY, PG_ITEM_SYNC };

/* What a connection expects back from the server, in order. */
struct pg_item {
    uint8_t kind;
    int stmt;             /* PREPARE: the statement's id */
    struct pg_call *call; /* QUERY: the waiting call; NULL once abandoned (cancel) */
    PGresult *res;        /* QUERY/PREPARE: the first result, until the NULL that ends it */
};

enum pg_conn_state { PG_DOWN, PG_CONNECTING, PG_READY };

struct pg_conn {
    struct pg_reactor *pr;
    unsigned index;
    PGconn *conn;
    int fd;
    enum pg_conn_state state;
    roost_task *driver;
    bool polling_out;   /* the driver's poll includes POLLOUT */
    bool in_poll;       /* the driver waits in its steady-state poll (a kick may cancel it) */
    bool broken;        /* a send failed: the driver must reset the connection */
    uint64_t prepared;  /* statements prepared on this connection (bit = id) */
    unsigned gen;       /* connections closed so far: which server session a request names */
    unsigned cancels;   /* cancel requests for this session still out (worker pool) */
    bool fenced;        /* a cancel request went out: no new query yet (client.c, Cancel) */
    PGresult *prep_err; /* a failed prepare, for the query it was made for */
    struct pg_item *items;
    unsigned cap;
    unsigned head, count; /* head: absolute count of items popped */
    unsigned queries;     /* QUERY items in the ring */
};

struct pg_reactor {
    struct roost_pg *pg;
    roost_reactor *r;
    struct pg_conn *conns;
    unsigned nconns;
    bool started;
    bool stopping;
    unsigned rr;
    struct pg_call *wait_head, *wait_tail; /* calls waiting for a connection */
};

struct roost_pg {
    roost_runtime *rt;
    char **keys, **vals; /* the parsed connection options, NULL-terminated */
    size_t nkeys;
    int host_at;     /* index of "host" in keys, or -1 */
    int hostaddr_at; /* index of "hostaddr" in keys */
    bool resolve;    /* host is a name: resolve it on the pool before each connect */
    unsigned pipeline_depth;
    uint64_t acquire_timeout_ms, connect_timeout_ms;

    struct pg_stmt stmts[PG_MAX_STMTS];
    _Atomic int nstmts;
    pthread_mutex_t stmt_lock;

    struct pg_reactor *reactors;
    unsigned nreactors;
    _Atomic unsigned rr; /* pool tasks pick a reactor round-robin */

    pthread_mutex_t jobs_lock; /* cancel requests still out, for destroy */
    pthread_cond_t jobs_cond;
    unsigned jobs;
};

/* conn.c: the driver task of pc (runs until its pg_reactor stops). */
int pg_conn_driver(void *arg);
/* conn.c: a connection became usable or a slot freed: wake a waiting call. */
void pg_reactor_wake_one(struct pg_reactor *pr);
/* conn.c: lifts pc's fence once its cancel requests are done and its pipeline is empty. */
void pg_conn_unfence(struct pg_conn *pc);

/* client.c: server error -> -errno. */
int pg_result_errno(const PGresult *res);

#endif
