/*
 * libcore/include/cs/http.h
 *      A tiny HTTP endpoint for operations (/healthz, /readyz, /metrics) on the worker's loop.
 *
 * Built on libmicrohttpd in its "external event loop" mode: MHD's epoll descriptor is watched by
 * a libev io watcher on the caller's loop and MHD's own timeout drives a libev timer, so requests
 * are served on the loop thread, between batches, and handlers can read the worker's state without
 * locks. Only GET and HEAD are served; the body is produced by one caller-supplied function.
 */
#ifndef CS_HTTP_H
#define CS_HTTP_H

#include <ev.h>

#include "cs/buf.h"
#include "cs/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cs_http cs_http_t;

/*
 * Produces the response to GET path: appends the body to body, may set *content_type (static
 * string; default "text/plain; charset=utf-8") and returns the HTTP status code.
 */
typedef int (*cs_http_handler_fn)(void *ud, const char *path, cs_buf_t *body,
                                  const char **content_type);

/*
 * Listens on port (0: an ephemeral port, see cs_http_port) on all addresses and serves requests
 * on loop. Returns NULL and sets err (FATAL: the port is taken or not allowed) on failure; then
 * the handler is never called.
 */
cs_http_t *cs_http_new(struct ev_loop *loop, int port, cs_http_handler_fn fn, void *ud,
                       cs_err_t *err);

/* The port actually bound. */
int cs_http_port(const cs_http_t *h);

/* Stops the server, closes its connections and its watchers. Accepts NULL. */
void cs_http_destroy(cs_http_t *h);

#ifdef __cplusplus
}
#endif

#endif /* CS_HTTP_H */
