/*
 * Typed access to a result. A roost_pg_result is libpq's PGresult under another name, so a
 * result costs no allocation beyond libpq's own. Text-format values are parsed; binary ones
 * (ROOST_PG_BINARY) are decoded from network byte order by their length.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pg/pg.h"

static const PGresult *pgr(const roost_pg_result *r)
{
    return (const PGresult *)r;
}

void roost_pg_result_free(roost_pg_result *r)
{
    PQclear((PGresult *)r);
}

int roost_pg_result_rows(const roost_pg_result *r)
{
    return r ? PQntuples(pgr(r)) : 0;
}

int roost_pg_result_cols(const roost_pg_result *r)
{
    return r ? PQnfields(pgr(r)) : 0;
}

uint64_t roost_pg_result_affected(const roost_pg_result *r)
{
    const char *s = r ? PQcmdTuples((PGresult *)r) : "";
    return *s ? strtoull(s, NULL, 10) : 0;
}

const char *roost_pg_result_sqlstate(const roost_pg_result *r)
{
    const char *s = r ? PQresultErrorField(pgr(r), PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}

const char *roost_pg_result_message(const roost_pg_result *r)
{
    const char *s = r ? PQresultErrorField(pgr(r), PG_DIAG_MESSAGE_PRIMARY) : NULL;
    return s ? s : "";
}

/* 0, -ENOENT (out of range) or -ENODATA (NULL). */
static int check(const roost_pg_result *r, int row, int col)
{
    if (!r || row < 0 || col < 0 || row >= PQntuples(pgr(r)) || col >= PQnfields(pgr(r)))
        return -ENOENT;
    return PQgetisnull(pgr(r), row, col) ? -ENODATA : 0;
}

bool roost_pg_is_null(const roost_pg_result *r, int row, int col)
{
    return check(r, row, col) != 0;
}

int roost_pg_get_raw(const roost_pg_result *r, int row, int col, const void **p, size_t *len)
{
    int rc = check(r, row, col);
    if (rc < 0)
        return rc;
    *p = PQgetvalue(pgr(r), row, col);
    *len = (size_t)PQgetlength(pgr(r), row, col);
    return 0;
}

int roost_pg_get_text(const roost_pg_result *r, int row, int col, const char **s, size_t *len)
{
    const void *p;
    int rc = roost_pg_get_raw(r, row, col, &p, len);
    if (rc == 0)
        *s = p;
    return rc;
}

int roost_pg_get_int(const roost_pg_result *r, int row, int col, int64_t *out)
{
    const void *p;
    size_t len;
    int rc = roost_pg_get_raw(r, row, col, &p, &len);
    if (rc < 0)
        return rc;
    if (PQfformat(pgr(r), col) == 1) {
        const unsigned char *b = p;
        if (len == 2)
            *out = (int16_t)(((uint16_t)b[0] << 8) | b[1]);
        else if (len == 4) {
            uint32_t v;
            memcpy(&v, b, 4);
            *out = (int32_t)be32toh(v);
        } else if (len == 8) {
            uint64_t v;
            memcpy(&v, b, 8);
            *out = (int64_t)be64toh(v);
        } else
            return -EINVAL;
        return 0;
    }
    const char *s = p;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end)
        return -EINVAL;
    if (errno == ERANGE)
        return -ERANGE;
    *out = v;
    return 0;
}

int roost_pg_get_bool(const roost_pg_result *r, int row, int col, bool *out)
{
    const void *p;
    size_t len;
    int rc = roost_pg_get_raw(r, row, col, &p, &len);
    if (rc < 0)
        return rc;
    const char *s = p;
    if (PQfformat(pgr(r), col) == 1) {
        if (len != 1)
            return -EINVAL;
        *out = s[0] != 0;
        return 0;
    }
    if (len != 1 || (s[0] != 't' && s[0] != 'f'))
        return -EINVAL;
    *out = s[0] == 't';
    return 0;
}
