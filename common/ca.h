/*
 * The uPKI CA client: one ZeroMQ REQ socket, one JSON request and one JSON
 * reply at a time (docs/CA-PROTOCOL.md).  A REQ socket whose reply timed out is
 * stuck in the "waiting for reply" state for good, so after a timeout the
 * socket is closed with linger 0 and a fresh one is made for the next call.
 * Read-only tasks are retried once on a timeout, unless the last exchange
 * already had no answer; tasks that change state at the CA (sign above all)
 * are never retried here: sending `sign` twice could issue two certificates.
 * The client logs when the CA stops answering and when it answers again,
 * once each per outage.
 */
#ifndef UPKI_CA_H
#define UPKI_CA_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

enum ca_result {
	CA_OK = 0,
	CA_ERR_REFUSED,     /* the CA answered UPKI ERROR; see the message */
	CA_ERR_NOT_FOUND,   /* typed tasks only: the CA knows no such name or profile */
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
 * for CA_ERR_REFUSED.  A read_only task is sent again once after a timeout.
 * The RA calls the typed tasks below; this is their transport.
 */
enum ca_result ca_call(struct ca_client *ca, const char *task, json_object *params,
    bool read_only, json_object **data, char *msg, size_t msglen);

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

/*
 * The typed tasks: one function per CA task, each sending its parameters
 * and checking the shape of its answer, so that no caller builds a request
 * or trusts a field it did not check.  All return CA_OK or an error with a
 * one-line reason in msg; the tasks that only read are retried once after
 * a timeout, the others never (see above).  A name the CA does not file
 * ("Node not found", "Profile not found") is CA_ERR_NOT_FOUND.
 */

/* The CA's record of what it files under a name (`view`). */
struct ca_view {
	char serial[80];        /* hex: the certificate's (upper case), else the CA's own
	                           serial field as sent; "" when neither is given */
	char profile[64];       /* "" when not given */
	bool revoked;
	char *pem;              /* the certificate, malloc'd; NULL when not given */
};
void ca_view_free(struct ca_view *v);

/* `sign`: *pem is the certificate the CA made (malloc'd). */
enum ca_result ca_sign(struct ca_client *ca, const char *csr_pem, const char *profile,
    char **pem, char *msg, size_t msglen);
/* `renew` of the certificate filed under cn, same key: *pem malloc'd. */
enum ca_result ca_renew(struct ca_client *ca, const char *cn, char **pem, char *msg,
    size_t msglen);
enum ca_result ca_view(struct ca_client *ca, const char *cn, struct ca_view *out, char *msg,
    size_t msglen);
/* reason is one of the CA's names (revoke.h lists them). */
enum ca_result ca_revoke(struct ca_client *ca, const char *cn, const char *reason, char *msg,
    size_t msglen);
enum ca_result ca_unrevoke(struct ca_client *ca, const char *cn, char *msg, size_t msglen);
/* `delete`: the CA revokes with cessationOfOperation and forgets the name. */
enum ca_result ca_delete(struct ca_client *ca, const char *cn, char *msg, size_t msglen);
/* `ocsp_check`: status is "good", "revoked" or "expired". */
enum ca_result ca_ocsp_check(struct ca_client *ca, const char *pem, char *status,
    size_t statuslen, char *msg, size_t msglen);
/* *names: a JSON array of strings (a new reference). */
enum ca_result ca_list_profiles(struct ca_client *ca, json_object **names, char *msg,
    size_t msglen);
/* *profile: a JSON object (a new reference). */
enum ca_result ca_get_profile(struct ca_client *ca, const char *name, json_object **profile,
    char *msg, size_t msglen);
/* *dns: a JSON array of strings (a new reference). */
enum ca_result ca_list_admins(struct ca_client *ca, json_object **dns, char *msg,
    size_t msglen);
enum ca_result ca_add_admin(struct ca_client *ca, const char *dn, char *msg, size_t msglen);
enum ca_result ca_remove_admin(struct ca_client *ca, const char *dn, char *msg,
    size_t msglen);

/* What `register` (registration port) gives the RA; strings malloc'd. */
struct ca_registration {
	char *certificate;
	char *private_key;      /* cleansed by ca_registration_free */
	char *ca_certificate;
};
void ca_registration_free(struct ca_registration *r);
/* sans: a JSON array of {"type","value"} (borrowed). */
enum ca_result ca_register(struct ca_client *ca, const char *seed, const char *cn,
    const char *profile, json_object *sans, struct ca_registration *out, char *msg,
    size_t msglen);

/* `get_ca`: the CA certificate, PEM, malloc'd. */
enum ca_result ca_get_ca_pem(struct ca_client *ca, char **out, char *msg, size_t msglen);
/* The same, sent once and never again after a timeout: whether the CA
 * answers, said within the timeout (health, start). */
enum ca_result ca_probe(struct ca_client *ca, char **out, char *msg, size_t msglen);
/* The CRL as PEM (the CA sends base64 DER), malloc'd: the current one
 * (`get_crl`), or a fresh one (`generate_crl`) when fresh is true. */
enum ca_result ca_get_crl_pem(struct ca_client *ca, bool fresh, char **out, char *msg,
    size_t msglen);

#endif
