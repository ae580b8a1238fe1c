/* roost — PostgreSQL: a pooled client on the reactors, libpq driven by ring polls. */
#ifndef ROOST_PG_H
#define ROOST_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <roost/runtime.h>
#include <roost/common.h>

ROOST_BEGIN_DECLS


/*
 * A database: long-lived, one per server URL. It holds a pool of connections per reactor,
 * each used only by its reactor's thread, in libpq's non-blocking pipeline mode: queries of
 * several tasks on one connection share its round trips. Created by roost_pg_create, freed
 * by roost_pg_destroy.
 */
typedef struct roost_pg roost_pg;

/* A query's result (libpq's PGresult underneath): owned by the caller, freed with
 * roost_pg_result_free. */
typedef struct roost_pg_result roost_pg_result;

struct roost_pg_opts {
    /*
     * libpq connection string or URL (postgresql://...). Host names are resolved on the
     * worker pool, never on a reactor; IP literals and unix socket directories need no
     * resolving. A list of several hosts is passed to libpq as is and must then be numeric.
     */
    const char *url;
    unsigned pool_size;          /* connections in all, spread over the reactors (>= 1 each) */
    unsigned pipeline_depth;     /* queries in flight per connection (default 128) */
    uint64_t acquire_timeout_ms; /* a query waits this long for a connection (default 5000) */
    uint64_t connect_timeout_ms; /* per connection attempt (default 5000) */
};

/*
 * Defaults: url from DATABASE_URL, pool_size from DATABASE_MAX_CONN (else 2 per reactor
 * when 0 is left), the rest as documented above.
 */
void roost_pg_opts_init(struct roost_pg_opts *o);

/*
 * Makes a database for rt. Connections are opened on each reactor when it first queries,
 * and reopened (with back-off) when they break. Any thread. Returns 0 and *out, -EINVAL
 * for a missing or unparsable url, or -ENOMEM.
 */
int roost_pg_create(roost_runtime *rt, const struct roost_pg_opts *o, roost_pg **out);

/*
 * Closes every connection (queries still waiting fail with -ESHUTDOWN), waits for their
 * driver tasks and for cancel requests still out to end, and frees pg. Call it from a
 * plain thread (not a reactor or pool thread) while the runtime still runs, i.e. before
 * roost_runtime_stop.
 */
void roost_pg_destroy(roost_pg *pg);

/*
 * Registers a prepared statement: sql with $1..$nparams, under name. Each connection
 * prepares it once, in the same round trip as its first use there. Call before the
 * statement's first use, from any thread (registration is not synchronised with queries
 * in flight: register everything at start). Returns the statement's id (>= 0), -EEXIST for
 * a name already registered, -ENOSPC beyond 64 statements, -ENOMEM.
 */
int roost_pg_prepare(roost_pg *pg, const char *name, const char *sql, int nparams);

/* Result format flags for the query calls. */
enum {
    ROOST_PG_BINARY = 1u << 0, /* results in binary format (see roost_pg_get_raw) */
};

/*
 * From a task: runs prepared statement stmt with nparams text parameters (NULL entries
 * are SQL NULL; they must stay valid until the call returns) and waits for its result. The
 * task resumes on its own reactor (a task on the pool is carried to a reactor for the query
 * and back to the pool afterwards).
 * Returns 0 and *out; on a server error a -errno mapped from the SQLSTATE (-ECANCELED for
 * 57014, -EEXIST for 23505, -EINVAL for other 22/23/42 classes, -EAGAIN for 40001/40P01,
 * -EIO for the rest) with *out holding the error (roost_pg_result_sqlstate, _message);
 * -ETIMEDOUT when no connection was free within acquire_timeout_ms, -ECONNRESET when the
 * connection broke under the query (*out NULL), -ECANCELED when the task was cancelled (a
 * query already running on the server is cancelled there too, from the worker pool; its
 * connection then takes no new query until that request is done and its pipeline empty,
 * and a query queued behind the cancelled one may fail with -ECANCELED as well),
 * -ESHUTDOWN when pg or the reactor is stopping, -EPERM outside a task, -EINVAL for a bad
 * stmt. Whenever *out is set the caller frees it.
 */
int roost_pg_exec_prepared(roost_pg *pg, int stmt, int nparams, const char *const *params,
                           unsigned flags, roost_pg_result **out);

/*
 * As roost_pg_exec_prepared, count times: execution i takes params[i * nparams ...]. The
 * queries go out together on one connection (in groups of up to 32), so they share round
 * trips, and run in order. out has count entries. Returns 0 when all succeeded, else the
 * first failure's -errno; out[i] is set for every query that got an answer (the caller
 * frees every non-NULL entry). On a cancel the remaining queries are abandoned.
 */
int roost_pg_exec_prepared_many(roost_pg *pg, int stmt, unsigned count, int nparams,
                                const char *const *params, unsigned flags, roost_pg_result **out);

/* As roost_pg_exec_prepared for one SQL statement with $n parameters (unnamed statement). */
int roost_pg_exec(roost_pg *pg, const char *sql, int nparams, const char *const *params,
                  unsigned flags, roost_pg_result **out);

/* Frees r (NULL: nothing). */
void roost_pg_result_free(roost_pg_result *r);

/* Rows and columns of a result. */
int roost_pg_result_rows(const roost_pg_result *r);
int roost_pg_result_cols(const roost_pg_result *r);

/* Rows affected by an INSERT/UPDATE/DELETE, 0 otherwise. */
uint64_t roost_pg_result_affected(const roost_pg_result *r);

/* The SQLSTATE ("" when none) and the server's message ("" when none) of an error result. */
const char *roost_pg_result_sqlstate(const roost_pg_result *r);
const char *roost_pg_result_message(const roost_pg_result *r);

/* True if the value at row, col is SQL NULL (or out of range). */
bool roost_pg_is_null(const roost_pg_result *r, int row, int col);

/*
 * Typed accessors. Each returns 0 and the value, -ENOENT when row or col is out of range,
 * -ENODATA for SQL NULL, -EINVAL when the value is not of that type (text: not a decimal
 * integer or not t/f; binary: not 1/2/4/8 bytes), -ERANGE for an integer overflow.
 */
int roost_pg_get_int(const roost_pg_result *r, int row, int col, int64_t *out);
int roost_pg_get_bool(const roost_pg_result *r, int row, int col, bool *out);
/* The value as text (NUL-terminated, borrowed from r) and its length. */
int roost_pg_get_text(const roost_pg_result *r, int row, int col, const char **s, size_t *len);
/* The value's bytes as the server sent them (binary format with ROOST_PG_BINARY). */
int roost_pg_get_raw(const roost_pg_result *r, int row, int col, const void **p, size_t *len);


ROOST_END_DECLS

#endif
