#include "ca.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "b64.h"
#include "cert.h"
#include "jsonx.h"
#include "log.h"

/* A CA reply carries at most a few certificates or a CRL. */
#define CA_REPLY_MAX (4 * 1024 * 1024)

struct ca_client {
	void *zctx;
	void *sock;
	char endpoint[300];
	int timeout_ms;
	void (*on_wait)(void *);
	void *on_wait_arg;
};

/* Tasks that only read: safe to send again after a lost reply. */
static const char *const ca_idempotent[] = {
	"get_ca", "get_crl", "list_profiles", "get_profile", "view", "ocsp_check",
	"list_admins", "status", "list_nodes", "get_node",
};

static bool
ca_is_idempotent(const char *task)
{
	for (size_t i = 0; i < sizeof(ca_idempotent) / sizeof(ca_idempotent[0]); i++)
		if (strcmp(task, ca_idempotent[i]) == 0)
			return true;
	return false;
}

const char *
ca_result_str(enum ca_result r)
{
	switch (r) {
	case CA_OK:
		return "ok";
	case CA_ERR_REFUSED:
		return "refused by the CA";
	case CA_ERR_UNSUPPORTED:
		return "not supported by the CA";
	case CA_ERR_UNREACHABLE:
		return "CA unreachable";
	case CA_ERR_PROTOCOL:
		return "invalid answer from the CA";
	}
	return "unknown";
}

struct ca_client *
ca_client_new(const char *host, int port, int timeout_ms)
{
	struct ca_client *ca = calloc(1, sizeof(*ca));

	if (ca == NULL)
		return NULL;
	snprintf(ca->endpoint, sizeof(ca->endpoint), "tcp://%s:%d", host, port);
	ca->timeout_ms = timeout_ms;
	if ((ca->zctx = zmq_ctx_new()) == NULL) {
		free(ca);
		return NULL;
	}
	return ca;
}

static void
ca_disconnect(struct ca_client *ca)
{
	if (ca->sock == NULL)
		return;
	zmq_close(ca->sock);
	ca->sock = NULL;
}

void
ca_client_free(struct ca_client *ca)
{
	if (ca == NULL)
		return;
	ca_disconnect(ca);
	zmq_ctx_term(ca->zctx);
	free(ca);
}

void
ca_client_on_wait(struct ca_client *ca, void (*fn)(void *), void *arg)
{
	ca->on_wait = fn;
	ca->on_wait_arg = arg;
}

static int
ca_connect(struct ca_client *ca)
{
	int linger = 0;
	int64_t maxsize = CA_REPLY_MAX;

	if (ca->sock != NULL)
		return 0;
	if ((ca->sock = zmq_socket(ca->zctx, ZMQ_REQ)) == NULL)
		return -1;
	/* linger 0: a request to a dead CA must not keep the process from
	 * exiting; the timeouts make a silent CA an error, not a hang. */
	if (zmq_setsockopt(ca->sock, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
	    zmq_setsockopt(ca->sock, ZMQ_RCVTIMEO, &ca->timeout_ms, sizeof(int)) != 0 ||
	    zmq_setsockopt(ca->sock, ZMQ_SNDTIMEO, &ca->timeout_ms, sizeof(int)) != 0 ||
	    zmq_setsockopt(ca->sock, ZMQ_MAXMSGSIZE, &maxsize, sizeof(maxsize)) != 0 ||
	    zmq_connect(ca->sock, ca->endpoint) != 0) {
		ca_disconnect(ca);
		return -1;
	}
	return 0;
}

/* One request and its reply; the reply text is malloc'd into *reply. */
static enum ca_result
ca_exchange(struct ca_client *ca, const char *req, char **reply, size_t *replylen,
    char *msg, size_t msglen)
{
	zmq_msg_t zm;
	int n;

	if (ca->on_wait != NULL)
		ca->on_wait(ca->on_wait_arg);
	if (ca_connect(ca) != 0) {
		snprintf(msg, msglen, "cannot connect to %s: %s", ca->endpoint,
		    zmq_strerror(errno));
		return CA_ERR_UNREACHABLE;
	}
	if (zmq_send(ca->sock, req, strlen(req), 0) < 0) {
		snprintf(msg, msglen, "cannot send to %s: %s", ca->endpoint,
		    zmq_strerror(errno));
		ca_disconnect(ca);
		return CA_ERR_UNREACHABLE;
	}
	zmq_msg_init(&zm);
	if ((n = zmq_msg_recv(&zm, ca->sock, 0)) < 0) {
		snprintf(msg, msglen, "no answer from %s within %d ms", ca->endpoint,
		    ca->timeout_ms);
		zmq_msg_close(&zm);
		/* The REQ socket now waits for a reply that may never come. */
		ca_disconnect(ca);
		return CA_ERR_UNREACHABLE;
	}
	if ((*reply = malloc((size_t)n + 1)) == NULL) {
		zmq_msg_close(&zm);
		snprintf(msg, msglen, "out of memory");
		return CA_ERR_PROTOCOL;
	}
	memcpy(*reply, zmq_msg_data(&zm), (size_t)n);
	(*reply)[n] = '\0';
	*replylen = (size_t)n;
	zmq_msg_close(&zm);
	return CA_OK;
}

enum ca_result
ca_reply_decode(const char *task, const char *reply, size_t len, json_object **data,
    char *msg, size_t msglen)
{
	json_object *root, *d;
	const char *event, *err;
	char why[128];
	enum ca_result r = CA_ERR_PROTOCOL;

	if ((root = jsonx_parse(reply, len, CA_REPLY_MAX, why, sizeof(why))) == NULL) {
		snprintf(msg, msglen, "CA answer to %s is not JSON: %s", task, why);
		return CA_ERR_PROTOCOL;
	}
	event = jsonx_get_string(root, "EVENT");
	if (event != NULL && strcmp(event, "ANSWER") == 0 &&
	    json_object_object_get_ex(root, "DATA", &d)) {
		*data = json_object_get(d);
		r = CA_OK;
	} else if (event != NULL && strcmp(event, "UPKI ERROR") == 0) {
		err = jsonx_get_string(root, "MSG");
		snprintf(msg, msglen, "%s", err != NULL ? err : "(no message)");
		r = strstr(msg, "Unknown task") != NULL ? CA_ERR_UNSUPPORTED :
		    CA_ERR_REFUSED;
	} else {
		snprintf(msg, msglen, "CA answer to %s has no EVENT/DATA", task);
	}
	json_object_put(root);
	return r;
}

enum ca_result
ca_call(struct ca_client *ca, const char *task, json_object *params,
    json_object **data, char *msg, size_t msglen)
{
	json_object *req;
	char *reply = NULL;
	size_t replylen = 0;
	enum ca_result r;
	int tries = ca_is_idempotent(task) ? 2 : 1;

	*data = NULL;
	msg[0] = '\0';
	req = json_object_new_object();
	json_object_object_add(req, "TASK", json_object_new_string(task));
	json_object_object_add(req, "params",
	    params != NULL ? json_object_get(params) : json_object_new_object());
	do {
		r = ca_exchange(ca, jsonx_print(req), &reply, &replylen, msg, msglen);
	} while (r == CA_ERR_UNREACHABLE && --tries > 0);
	json_object_put(req);
	if (r != CA_OK) {
		log_debug("CA task %s: %s", task, msg);
		return r;
	}
	r = ca_reply_decode(task, reply, replylen, data, msg, msglen);
	free(reply);
	if (r != CA_OK && r != CA_ERR_UNSUPPORTED)
		log_debug("CA task %s: %s", task, msg);
	return r;
}

static enum ca_result
ca_call_string(struct ca_client *ca, const char *task, char **out, char *msg,
    size_t msglen)
{
	json_object *data;
	enum ca_result r;

	*out = NULL;
	if ((r = ca_call(ca, task, NULL, &data, msg, msglen)) != CA_OK)
		return r;
	if (!json_object_is_type(data, json_type_string)) {
		snprintf(msg, msglen, "CA answer to %s is not a string", task);
		json_object_put(data);
		return CA_ERR_PROTOCOL;
	}
	*out = strdup(json_object_get_string(data));
	json_object_put(data);
	return *out != NULL ? CA_OK : CA_ERR_PROTOCOL;
}

enum ca_result
ca_get_ca_pem(struct ca_client *ca, char **out, char *msg, size_t msglen)
{
	enum ca_result r = ca_call_string(ca, "get_ca", out, msg, msglen);

	if (r == CA_OK && strstr(*out, "-----BEGIN CERTIFICATE-----") == NULL) {
		snprintf(msg, msglen, "CA certificate from get_ca is not PEM");
		free(*out);
		*out = NULL;
		return CA_ERR_PROTOCOL;
	}
	return r;
}

enum ca_result
ca_get_crl_pem(struct ca_client *ca, const char *task, char **out, char *msg,
    size_t msglen)
{
	unsigned char *der;
	size_t derlen;
	char *b64;
	enum ca_result r;

	*out = NULL;
	if ((r = ca_call_string(ca, task, &b64, msg, msglen)) != CA_OK)
		return r;
	der = b64_decode(b64, strlen(b64), &derlen);
	free(b64);
	if (der == NULL || (*out = cert_crl_der_to_pem(der, derlen)) == NULL) {
		snprintf(msg, msglen, "CRL from %s is not base64 of a DER CRL", task);
		free(der);
		return CA_ERR_PROTOCOL;
	}
	free(der);
	return CA_OK;
}
