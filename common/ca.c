#include "ca.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
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
	bool down;              /* the last exchange had no answer */
};

const char *
ca_result_str(enum ca_result r)
{
	switch (r) {
	case CA_OK:
		return "ok";
	case CA_ERR_REFUSED:
		return "refused by the CA";
	case CA_ERR_NOT_FOUND:
		return "not found at the CA";
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

/* The operator hears of an outage once per process, when it starts and
 * when it ends, not once per request. */
static void
ca_note_outage(struct ca_client *ca, enum ca_result r, const char *msg)
{
	if (r == CA_ERR_UNREACHABLE && !ca->down)
		log_warn("the CA at %s does not answer (%s); what needs it fails until it does",
		    ca->endpoint, msg);
	else if (r != CA_ERR_UNREACHABLE && ca->down)
		log_info("the CA at %s answers again", ca->endpoint);
	ca->down = r == CA_ERR_UNREACHABLE;
}

enum ca_result
ca_call(struct ca_client *ca, const char *task, json_object *params, bool read_only,
    json_object **data, char *msg, size_t msglen)
{
	json_object *req;
	char *reply = NULL;
	size_t replylen = 0;
	enum ca_result r;
	/* Not again when the CA is known to be away: the caller would wait
	 * twice the timeout for the same silence. */
	int tries = read_only && !ca->down ? 2 : 1;

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
	ca_note_outage(ca, r, msg);
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


/* -- the typed tasks ---------------------------------------------------------- */

/* params: NULL-terminated key/value pairs of strings, all borrowed. */
static json_object *
ca_params(const char *key, ...)
{
	json_object *p = json_object_new_object();
	va_list ap;

	va_start(ap, key);
	for (const char *k = key; k != NULL; k = va_arg(ap, const char *))
		json_object_object_add(p, k, json_object_new_string(va_arg(ap, const char *)));
	va_end(ap);
	return p;
}

/* The CA says "Node not found: x" or "Profile not found: x"; the RA must
 * tell that apart from other refusals (a node deleted at the CA, an unknown
 * profile in a request). */
static enum ca_result
ca_task(struct ca_client *ca, const char *task, json_object *params, bool read_only,
    json_object **data, char *msg, size_t msglen)
{
	enum ca_result r = ca_call(ca, task, params, read_only, data, msg, msglen);

	json_object_put(params);
	if (r == CA_ERR_REFUSED && strcasestr(msg, "not found") != NULL)
		return CA_ERR_NOT_FOUND;
	return r;
}

/* DATA of the wrong shape: a protocol error that names the task. */
static enum ca_result
ca_bad_answer(const char *task, const char *want, json_object **data, char *msg,
    size_t msglen)
{
	json_object_put(*data);
	*data = NULL;
	snprintf(msg, msglen, "CA answer to %s is not %s", task, want);
	log_warn("%s", msg);
	return CA_ERR_PROTOCOL;
}

/* Tasks whose DATA is true. */
static enum ca_result
ca_task_true(struct ca_client *ca, const char *task, json_object *params, char *msg,
    size_t msglen)
{
	json_object *data = NULL;
	enum ca_result r = ca_task(ca, task, params, false, &data, msg, msglen);

	if (r == CA_OK && !(json_object_is_type(data, json_type_boolean) &&
	    json_object_get_boolean(data)))
		r = ca_bad_answer(task, "true", &data, msg, msglen);
	json_object_put(data);
	return r;
}

/* Tasks whose DATA is a JSON type; *out a new reference. */
static enum ca_result
ca_task_typed(struct ca_client *ca, const char *task, json_object *params, bool read_only,
    json_type want, json_object **out, char *msg, size_t msglen)
{
	enum ca_result r = ca_task(ca, task, params, read_only, out, msg, msglen);

	if (r == CA_OK && !json_object_is_type(*out, want))
		r = ca_bad_answer(task, json_type_to_name(want), out, msg, msglen);
	return r;
}

/* A string member of DATA, copied. */
static enum ca_result
ca_member(const char *task, json_object *data, const char *key, char **out, char *msg,
    size_t msglen)
{
	const char *v = jsonx_get_string(data, key);

	*out = NULL;
	if (v == NULL || (*out = strdup(v)) == NULL) {
		snprintf(msg, msglen, "CA answer to %s has no %s", task, key);
		log_warn("%s", msg);
		return CA_ERR_PROTOCOL;
	}
	return CA_OK;
}

/* Tasks whose DATA holds a certificate: sign, renew. */
static enum ca_result
ca_task_certificate(struct ca_client *ca, const char *task, json_object *params, char **pem,
    char *msg, size_t msglen)
{
	json_object *data = NULL;
	enum ca_result r;

	*pem = NULL;
	r = ca_task_typed(ca, task, params, false, json_type_object, &data, msg, msglen);
	if (r == CA_OK)
		r = ca_member(task, data, "certificate", pem, msg, msglen);
	json_object_put(data);
	return r;
}

enum ca_result
ca_sign(struct ca_client *ca, const char *csr_pem, const char *profile, char **pem,
    char *msg, size_t msglen)
{
	return ca_task_certificate(ca, "sign", ca_params("csr", csr_pem, "profile", profile,
	    NULL), pem, msg, msglen);
}

enum ca_result
ca_renew(struct ca_client *ca, const char *cn, char **pem, char *msg, size_t msglen)
{
	return ca_task_certificate(ca, "renew", ca_params("dn", cn, NULL), pem, msg, msglen);
}

void
ca_view_free(struct ca_view *v)
{
	free(v->pem);
	v->pem = NULL;
}

/* The serial is read from the certificate when the CA sends one (the
 * reference CA's own serial field is an integer too wide for JSON readers),
 * else from a hex string field. */
static int
ca_view_fill(json_object *data, struct ca_view *out)
{
	const char *pem = jsonx_get_string(data, "certificate");
	const char *serial = jsonx_get_string(data, "serial");
	const char *profile = jsonx_get_string(data, "profile");
	json_object *v;
	X509 *crt;

	/* A field of the wrong type is a bad record, not one the CA left out:
	 * a view that names no serial is trusted (revoke.c). */
	if ((json_object_object_get_ex(data, "certificate", &v) && v != NULL && pem == NULL) ||
	    (json_object_object_get_ex(data, "profile", &v) && v != NULL && profile == NULL))
		return -1;
	if (pem != NULL) {
		if ((crt = cert_from_pem_bare(pem)) == NULL)
			return -1;
		if (cert_serial_hex(crt, out->serial, sizeof(out->serial)) != 0 ||
		    (out->pem = strdup(pem)) == NULL) {
			X509_free(crt);
			return -1;
		}
		X509_free(crt);
	} else if (serial != NULL) {
		snprintf(out->serial, sizeof(out->serial), "%s", serial);
	}
	if (profile != NULL)
		snprintf(out->profile, sizeof(out->profile), "%s", profile);
	return jsonx_get_bool(data, "revoked", &out->revoked) || !json_object_object_get_ex(data,
	    "revoked", NULL) ? 0 : -1;
}

enum ca_result
ca_view(struct ca_client *ca, const char *cn, struct ca_view *out, char *msg, size_t msglen)
{
	json_object *data = NULL;
	enum ca_result r;

	memset(out, 0, sizeof(*out));
	r = ca_task_typed(ca, "view", ca_params("dn", cn, NULL), true, json_type_object, &data,
	    msg, msglen);
	if (r == CA_OK && ca_view_fill(data, out) != 0) {
		ca_view_free(out);
		memset(out, 0, sizeof(*out));
		r = ca_bad_answer("view", "a certificate record", &data, msg, msglen);
	}
	json_object_put(data);
	return r;
}

enum ca_result
ca_revoke(struct ca_client *ca, const char *cn, const char *reason, char *msg, size_t msglen)
{
	return ca_task_true(ca, "revoke", ca_params("dn", cn, "reason", reason, NULL), msg,
	    msglen);
}

enum ca_result
ca_unrevoke(struct ca_client *ca, const char *cn, char *msg, size_t msglen)
{
	return ca_task_true(ca, "unrevoke", ca_params("dn", cn, NULL), msg, msglen);
}

enum ca_result
ca_delete(struct ca_client *ca, const char *cn, char *msg, size_t msglen)
{
	return ca_task_true(ca, "delete", ca_params("dn", cn, NULL), msg, msglen);
}

enum ca_result
ca_ocsp_check(struct ca_client *ca, const char *pem, char *status, size_t statuslen,
    char *msg, size_t msglen)
{
	json_object *data = NULL;
	const char *s;
	enum ca_result r;

	r = ca_task_typed(ca, "ocsp_check", ca_params("cert", pem, NULL), true, json_type_object,
	    &data, msg, msglen);
	if (r == CA_OK && ((s = jsonx_get_string(data, "status")) == NULL ||
	    (strcmp(s, "good") != 0 && strcmp(s, "revoked") != 0 && strcmp(s, "expired") != 0)))
		r = ca_bad_answer("ocsp_check", "a status", &data, msg, msglen);
	else if (r == CA_OK)
		snprintf(status, statuslen, "%s", s);
	json_object_put(data);
	return r;
}

/* Arrays whose members must all be strings. */
static enum ca_result
ca_task_strings(struct ca_client *ca, const char *task, json_object **out, char *msg,
    size_t msglen)
{
	enum ca_result r = ca_task_typed(ca, task, NULL, true, json_type_array, out, msg, msglen);

	for (size_t i = 0; r == CA_OK && i < json_object_array_length(*out); i++)
		if (!json_object_is_type(json_object_array_get_idx(*out, i), json_type_string))
			r = ca_bad_answer(task, "a list of strings", out, msg, msglen);
	return r;
}

enum ca_result
ca_list_profiles(struct ca_client *ca, json_object **names, char *msg, size_t msglen)
{
	return ca_task_strings(ca, "list_profiles", names, msg, msglen);
}

enum ca_result
ca_get_profile(struct ca_client *ca, const char *name, json_object **profile, char *msg,
    size_t msglen)
{
	return ca_task_typed(ca, "get_profile", ca_params("profile", name, NULL), true,
	    json_type_object, profile, msg, msglen);
}

enum ca_result
ca_list_admins(struct ca_client *ca, json_object **dns, char *msg, size_t msglen)
{
	return ca_task_strings(ca, "list_admins", dns, msg, msglen);
}

enum ca_result
ca_add_admin(struct ca_client *ca, const char *dn, char *msg, size_t msglen)
{
	return ca_task_true(ca, "add_admin", ca_params("dn", dn, NULL), msg, msglen);
}

enum ca_result
ca_remove_admin(struct ca_client *ca, const char *dn, char *msg, size_t msglen)
{
	return ca_task_true(ca, "remove_admin", ca_params("dn", dn, NULL), msg, msglen);
}

void
ca_registration_free(struct ca_registration *r)
{
	if (r->private_key != NULL)
		OPENSSL_cleanse(r->private_key, strlen(r->private_key));
	free(r->certificate);
	free(r->private_key);
	free(r->ca_certificate);
	memset(r, 0, sizeof(*r));
}

enum ca_result
ca_register(struct ca_client *ca, const char *seed, const char *cn, const char *profile,
    json_object *sans, struct ca_registration *out, char *msg, size_t msglen)
{
	json_object *params = ca_params("seed", seed, "cn", cn, "profile", profile, NULL);
	json_object *data = NULL;
	const char *key;
	enum ca_result r;

	memset(out, 0, sizeof(*out));
	json_object_object_add(params, "sans", json_object_get(sans));
	r = ca_task_typed(ca, "register", params, false, json_type_object, &data, msg, msglen);
	if (r == CA_OK && (ca_member("register", data, "certificate", &out->certificate, msg,
	    msglen) != CA_OK || ca_member("register", data, "private_key", &out->private_key,
	    msg, msglen) != CA_OK || ca_member("register", data, "ca_certificate",
	    &out->ca_certificate, msg, msglen) != CA_OK)) {
		ca_registration_free(out);
		r = CA_ERR_PROTOCOL;
	}
	if (data != NULL && (key = jsonx_get_string(data, "private_key")) != NULL)
		OPENSSL_cleanse((char *)key, strlen(key));
	json_object_put(data);
	return r;
}

static enum ca_result
ca_task_string(struct ca_client *ca, const char *task, bool read_only, char **out, char *msg,
    size_t msglen)
{
	json_object *data = NULL;
	enum ca_result r;

	*out = NULL;
	r = ca_task_typed(ca, task, NULL, read_only, json_type_string, &data, msg, msglen);
	if (r == CA_OK && (*out = strdup(json_object_get_string(data))) == NULL)
		r = ca_bad_answer(task, "a string", &data, msg, msglen);
	json_object_put(data);
	return r;
}

/* retry: sent again once after a timeout, as every read-only task. */
static enum ca_result
ca_get_ca(struct ca_client *ca, bool retry, char **out, char *msg, size_t msglen)
{
	enum ca_result r = ca_task_string(ca, "get_ca", retry, out, msg, msglen);

	if (r == CA_OK && strstr(*out, "-----BEGIN CERTIFICATE-----") == NULL) {
		snprintf(msg, msglen, "CA certificate from get_ca is not PEM");
		free(*out);
		*out = NULL;
		return CA_ERR_PROTOCOL;
	}
	return r;
}

enum ca_result
ca_get_ca_pem(struct ca_client *ca, char **out, char *msg, size_t msglen)
{
	return ca_get_ca(ca, true, out, msg, msglen);
}

enum ca_result
ca_probe(struct ca_client *ca, char **out, char *msg, size_t msglen)
{
	return ca_get_ca(ca, false, out, msg, msglen);
}

enum ca_result
ca_get_crl_pem(struct ca_client *ca, bool fresh, char **out, char *msg, size_t msglen)
{
	const char *task = fresh ? "generate_crl" : "get_crl";
	unsigned char *der;
	size_t derlen;
	char *b64;
	enum ca_result r;

	*out = NULL;
	if ((r = ca_task_string(ca, task, !fresh, &b64, msg, msglen)) != CA_OK)
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
