/* roost — static files: a handler that serves a directory's files over the HTTP server. */
#ifndef ROOST_HTTP_STATIC_H
#define ROOST_HTTP_STATIC_H

#include <stdbool.h>

#include <roost/common.h>
#include <roost/http.h>

ROOST_BEGIN_DECLS

/* A directory served by roost_http_static_handler: long-lived, read-only once serving. */
typedef struct roost_http_static roost_http_static;

struct roost_http_static_opts {
    bool precompressed;        /* serve file.br / file.gz when present and accepted (default on) */
    const char *cache_control; /* a Cache-Control value for every file response; NULL: none */
};

void roost_http_static_opts_init(struct roost_http_static_opts *o);

/*
 * Opens dir for serving (o NULL: the defaults). Returns 0 and *out, -ENOTDIR, -EINVAL for a
 * Cache-Control value that is not a valid field value, or -errno from opening dir.
 * Free with roost_http_static_close after the server that uses it.
 */
int roost_http_static_open(const char *dir, const struct roost_http_static_opts *o,
                           roost_http_static **out);

void roost_http_static_close(roost_http_static *s);

/*
 * The handler; arg is the roost_http_static. It serves the file named by the route's
 * `file` parameter, relative to the directory: route it as "/static/" + "*file" (any depth)
 * or "/static/:file" (one level). GET and HEAD; other methods get 405.
 *
 * Nothing outside the directory is served: the file is opened with openat2 and
 * RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS (a symlink or ".." leading out fails), empty and
 * dot segments and NUL are refused, and directories and non-regular files are 404 (no
 * listings). Responses carry Content-Type from the extension, a strong ETag (size, mtime in
 * ns, inode), Last-Modified and Accept-Ranges; If-None-Match (which wins) and
 * If-Modified-Since give 304; one byte range gives 206 with Content-Range, an unsatisfiable
 * one 416 with a Content-Range that gives only the size, several ranges the whole file, If-Range a
 * matching validator's range only. With precompressed on, file.br or file.gz is served
 * when it exists, is a regular file and Accept-Encoding accepts it (q-values, q=0 refuses;
 * br first on a tie), with Content-Encoding, and Vary: Accept-Encoding on every response
 * for a file that has such a sibling. The body goes out with roost_http_res_file: opened
 * and read without blocking the reactor on a cold disk. Requests a reactor answers in the
 * same tick share the file's open and stat; nothing is kept past the tick, so a file changed
 * on disk is seen by the next request.
 */
int roost_http_static_handler(roost_http_req *req, roost_http_res *res, void *arg);

ROOST_END_DECLS

#endif
