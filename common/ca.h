/*
 * The uPKI CA client: one ZeroMQ REQ socket, one JSON request and one JSON
 * reply at a time (ca-protocol.md).  A REQ socket whose reply timed out is
 * stuck in the "waiting for reply" state for good, so after a timeout the
 * socket is closed with linger 0 and a fresh one is made for the next call.
 * Read-only tasks are retried once on a timeout; tasks that change state at
 * the CA (sign above all) are never retried here: sending `sign` twice could
 * issue two certificates.
 */
#ifndef UPKI_CA_H
#define UPKI_CA_H

#include <stddef.h>

#include <json-c/json.h>

enum ca_result {
	CA_OK = 0,
	CA_ERR_REFUSED,     /* the CA answered UPKI ERROR; see the message */
	CA_ERR_UNSUPPORTED, /* "[700] Unknown task": an optional task is absent */
	CA_ERR_UNREACHABLE, /* no answer within the timeout, or transport error */
	CA_ERR_PROTOCOL,    /* the answer was not a valid protocol message */
};

struct ca_client;

/* endpoint: "tcp://host:port".  Returns NULL only when out of memory. */
struct ca_client *ca_client_new(const char *host, int port, int timeout_ms);
void ca_client_free(struct ca_client *ca);

/*
 * fn(arg) runs before every exchange with the CA, which may take the whole
 * timeout: a FastCGI worker hands its other connections back to nginx there
 * (fcgi/worker.c), so that nothing waits behind the call.
 */
void ca_client_on_wait(struct ca_client *ca, void (*fn)(void *), void *arg);

/*
 * Sends {"TASK": task, "params": params} (params borrowed, NULL for {}).
 * On CA_OK *data is the reply's DATA (a new reference: json_object_put it).
 * Otherwise msg gets a one-line reason fit for an operator: the CA's own MSG
 * for CA_ERR_REFUSED.
 */
enum ca_result ca_call(struct ca_client *ca, const char *task, json_object *params,
    json_object **data, char *msg, size_t msglen);

const char *ca_result_str(enum ca_result r);

/*
 * Decodes one CA reply (the text of the frame, len bytes, not necessarily
 * NUL-terminated) as ca_call does: {"EVENT":"ANSWER","DATA":...} gives CA_OK
 * and *data (a new reference), {"EVENT":"UPKI ERROR","MSG":...} gives
 * CA_ERR_REFUSED or CA_ERR_UNSUPPORTED with the CA's message in msg,
 * anything else CA_ERR_PROTOCOL.  task only names the request in msg.
 * Exposed for tests/fuzz/fuzz_ca_reply.c.
 */
enum ca_result ca_reply_decode(const char *task, const char *reply, size_t len,
    json_object **data, char *msg, size_t msglen);

/* Conveniences for the tasks whose DATA is a string (get_ca) or needs
 * decoding (get_crl, generate_crl: base64 DER -> PEM).  *out is malloc'd. */
enum ca_result ca_get_ca_pem(struct ca_client *ca, char **out, char *msg, size_t msglen);
enum ca_result ca_get_crl_pem(struct ca_client *ca, const char *task, char **out,
    char *msg, size_t msglen);

#endif
