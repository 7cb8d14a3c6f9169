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

#include "cs/api.h"
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
 * Listens on addr:port and serves requests on loop. addr is a numeric IPv4 or IPv6 address
 * ("0.0.0.0": every IPv4 address; "::": every IPv6 address, IPv6 only; NULL means "0.0.0.0");
 * port 0 takes an ephemeral port (see cs_http_port). The endpoint stays reachable under slow and
 * many clients: each request must arrive whole within 5 s of the connection's accept or of its
 * previous request, and at most 32 connections are kept (one more closes the one that has waited
 * longest for its request); the numbers are fixed in http.c. Returns NULL and sets err on
 * failure (FATAL with field "metrics-addr": addr is not a numeric address; field "metrics-port":
 * the port is out of range, taken, or not allowed, or addr is not local); then the handler is
 * never called. addr is borrowed for the call only.
 */
CS_API cs_http_t *cs_http_new(struct ev_loop *loop, const char *addr, int port,
                              cs_http_handler_fn fn, void *ud, cs_err_t *err);

/* The port actually bound. */
CS_API int cs_http_port(const cs_http_t *h);

/* Stops the server, closes its connections and its watchers. Accepts NULL. */
CS_API void cs_http_destroy(cs_http_t *h);

#ifdef __cplusplus
}
#endif

#endif /* CS_HTTP_H */
