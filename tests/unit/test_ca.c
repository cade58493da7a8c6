/*
 * Unit tests for common/ca.c, the uPKI CA client.
 *
 * Two groups:
 *  - "ca_client_fake": the client against a small ZeroMQ ROUTER run in a
 *    thread of this test, which answers what the test tells it to (garbage,
 *    protocol errors, nothing at all) and counts and keeps the requests it
 *    gets, so that retries and the request format can be checked exactly.
 *  - "ca_client_devca": the client against the development CA
 *    ($UPKI_TEST_BUILD/upki-devca) on free loopback ports.
 *
 * Every process and thread a test starts is stopped by its teardown, and
 * the group teardown stops any dev CA that is left, even after a failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <zmq.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ca.h"
#include "cert.h"
#include "jsonx.h"
#include "testutil.h"

#define TIMEOUT_MS 300

/* ------------------------------------------------------------------ */
/* The fake CA: a ROUTER socket served by a thread.                    */
/* ------------------------------------------------------------------ */

enum fake_mode { FAKE_SILENT, FAKE_REPLY };

struct fake {
	void *ctx;
	void *sock;
	int port;
	pthread_t thread;
	bool running;
	atomic_int stop;
	atomic_int mode;
	atomic_int nreq;
	pthread_mutex_t lock;   /* guards reply and last */
	char *reply;            /* what FAKE_REPLY answers (fake_answer changes it) */
	size_t replylen;
	char last[4096];        /* the last request body, NUL-terminated */
};

static void
fake_send_reply(struct fake *f, zmq_msg_t *identity)
{
	pthread_mutex_lock(&f->lock);
	zmq_msg_send(identity, f->sock, ZMQ_SNDMORE);
	zmq_send(f->sock, "", 0, ZMQ_SNDMORE);
	zmq_send(f->sock, f->reply, f->replylen, 0);
	pthread_mutex_unlock(&f->lock);
}

static void *
fake_main(void *arg)
{
	struct fake *f = arg;

	while (!atomic_load(&f->stop)) {
		zmq_pollitem_t it = { f->sock, 0, ZMQ_POLLIN, 0 };
		zmq_msg_t parts[3];
		int n = 0, more = 1;

		if (zmq_poll(&it, 1, 20) <= 0 || !(it.revents & ZMQ_POLLIN))
			continue;
		/* [identity, empty delimiter, body] from a REQ peer */
		while (more) {
			zmq_msg_t extra, *m = n < 3 ? &parts[n] : &extra;

			zmq_msg_init(m);
			if (zmq_msg_recv(m, f->sock, 0) < 0) {
				zmq_msg_close(m);
				break;
			}
			more = zmq_msg_more(m);
			if (m == &extra)
				zmq_msg_close(m);
			else
				n++;
		}
		if (n == 3) {
			size_t len = zmq_msg_size(&parts[2]);

			pthread_mutex_lock(&f->lock);
			if (len >= sizeof(f->last))
				len = sizeof(f->last) - 1;
			memcpy(f->last, zmq_msg_data(&parts[2]), len);
			f->last[len] = '\0';
			pthread_mutex_unlock(&f->lock);
			/* counted before the answer goes out: a client that got
			 * its answer sees its request counted */
			atomic_fetch_add(&f->nreq, 1);
			if (atomic_load(&f->mode) == FAKE_REPLY)
				fake_send_reply(f, &parts[0]);
		}
		for (int i = 0; i < n; i++)
			zmq_msg_close(&parts[i]);
	}
	return NULL;
}

static void
fake_stop(struct fake *f)
{
	if (f == NULL)
		return;
	if (f->running) {
		atomic_store(&f->stop, 1);
		pthread_join(f->thread, NULL);
	}
	if (f->sock != NULL)
		zmq_close(f->sock);
	if (f->ctx != NULL)
		zmq_ctx_term(f->ctx);
	pthread_mutex_destroy(&f->lock);
	free(f->reply);
	free(f);
}

/* Starts a fake CA on a free loopback port that answers reply (when mode
 * is FAKE_REPLY) to every request. */
static struct fake *
fake_start(enum fake_mode mode, const char *reply, size_t replylen)
{
	struct fake *f = calloc(1, sizeof(*f));
	char endpoint[128];
	size_t elen = sizeof(endpoint);
	const char *colon;
	int linger = 0;

	assert_non_null(f);
	pthread_mutex_init(&f->lock, NULL);
	atomic_init(&f->stop, 0);
	atomic_init(&f->mode, mode);
	atomic_init(&f->nreq, 0);
	f->reply = malloc(replylen + 1);
	assert_non_null(f->reply);
	memcpy(f->reply, reply, replylen);
	f->replylen = replylen;
	f->ctx = zmq_ctx_new();
	assert_non_null(f->ctx);
	f->sock = zmq_socket(f->ctx, ZMQ_ROUTER);
	assert_non_null(f->sock);
	assert_int_equal(zmq_setsockopt(f->sock, ZMQ_LINGER, &linger, sizeof(linger)), 0);
	assert_int_equal(zmq_bind(f->sock, "tcp://127.0.0.1:*"), 0);
	assert_int_equal(zmq_getsockopt(f->sock, ZMQ_LAST_ENDPOINT, endpoint, &elen), 0);
	colon = strrchr(endpoint, ':');
	assert_non_null(colon);
	f->port = atoi(colon + 1);
	assert_true(f->port > 0);
	assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
	f->running = true;
	return f;
}

/* From the next request on, the fake answers reply: one fake serves a
 * whole table of answers. */
static void
fake_answer(struct fake *f, const char *reply)
{
	char *copy = strdup(reply);

	assert_non_null(copy);
	pthread_mutex_lock(&f->lock);
	free(f->reply);
	f->reply = copy;
	f->replylen = strlen(copy);
	pthread_mutex_unlock(&f->lock);
	atomic_store(&f->mode, FAKE_REPLY);
}

/* The last request the fake got, parsed; json_object_put it. */
static json_object *
fake_last_request(struct fake *f)
{
	char copy[sizeof(f->last)], err[128] = "";
	json_object *o;

	pthread_mutex_lock(&f->lock);
	memcpy(copy, f->last, sizeof(copy));
	pthread_mutex_unlock(&f->lock);
	o = jsonx_parse(copy, strlen(copy), sizeof(copy), err, sizeof(err));
	if (o == NULL)
		fail_msg("the client sent something that is not JSON (%s): %s", err, copy);
	return o;
}

/* The fake's last request is {"TASK": task, "params": params} and nothing
 * else; params is JSON text, compared as JSON (key order is free). */
static void
assert_last_request(struct fake *f, const char *task, const char *params)
{
	json_object *req = fake_last_request(f), *want = json_tokener_parse(params), *got;
	const char *sent = jsonx_get_string(req, "TASK");

	assert_non_null(want);
	if (sent == NULL || strcmp(sent, task) != 0 ||
	    !json_object_object_get_ex(req, "params", &got) || !json_object_equal(got, want) ||
	    json_object_object_length(req) != 2)
		fail_msg("sent %s, want {\"TASK\":\"%s\",\"params\":%s}", jsonx_print(req), task,
		    params);
	json_object_put(want);
	json_object_put(req);
}

/* What the current test started, for its teardown. */
static struct fake *cur_fake;
static struct ca_client *cur_client;

static int
fake_test_teardown(void **state)
{
	(void)state;
	ca_client_free(cur_client);
	cur_client = NULL;
	fake_stop(cur_fake);
	cur_fake = NULL;
	return 0;
}

/* A fake answering reply, and a client for it. */
static struct ca_client *
client_for_reply(const char *reply)
{
	cur_fake = fake_start(FAKE_REPLY, reply, strlen(reply));
	cur_client = ca_client_new("127.0.0.1", cur_fake->port, 2000);
	assert_non_null(cur_client);
	return cur_client;
}

/* A fake answering {"EVENT":"ANSWER","DATA": data} (data is taken). */
static struct ca_client *
client_for_data(json_object *data)
{
	json_object *reply = json_object_new_object();
	struct ca_client *ca;

	json_object_object_add(reply, "EVENT", json_object_new_string("ANSWER"));
	json_object_object_add(reply, "DATA", data);
	ca = client_for_reply(jsonx_print(reply));
	json_object_put(reply);
	return ca;
}

/* A fake that never answers, and a client that waits TIMEOUT_MS for it. */
static struct ca_client *
client_for_silence(void)
{
	cur_fake = fake_start(FAKE_SILENT, "", 0);
	cur_client = ca_client_new("127.0.0.1", cur_fake->port, TIMEOUT_MS);
	assert_non_null(cur_client);
	return cur_client;
}

/* A new client for the same fake: one that has not yet seen the CA silent. */
static void
client_again(void)
{
	ca_client_free(cur_client);
	cur_client = ca_client_new("127.0.0.1", cur_fake->port, TIMEOUT_MS);
	assert_non_null(cur_client);
}

/* A call that must fail with want and leave *data NULL; returns msg. */
static const char *
call_fails(struct ca_client *ca, const char *task, bool read_only, enum ca_result want)
{
	static char msg[512];
	json_object *data = (json_object *)&data;       /* must be reset */
	enum ca_result r;

	memset(msg, 0, sizeof(msg));
	r = ca_call(ca, task, NULL, read_only, &data, msg, sizeof(msg));
	if (r != want)
		fail_msg("task %s: got %s (%s), want %s", task, ca_result_str(r), msg,
		    ca_result_str(want));
	assert_null(data);
	if (msg[0] == '\0')
		fail_msg("task %s failed with %s without a message", task,
		    ca_result_str(r));
	return msg;
}

static double
elapsed_since(long long start)
{
	return (double)(tu_now_ms() - start);
}

/* The text a memory BIO holds (free() it); frees the BIO. */
static char *
bio_text(BIO *bio)
{
	char *data, *text;
	long len = BIO_get_mem_data(bio, &data);

	text = strndup(data, (size_t)len);
	assert_non_null(text);
	BIO_free(bio);
	return text;
}

/* A CSR for cn with a fresh P-256 key, as PEM (free() it). */
static char *
make_csr(const char *cn)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	BIO *bio = BIO_new(BIO_s_mem());

	assert_non_null(key);
	assert_non_null(req);
	assert_non_null(name);
	assert_non_null(bio);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0), 1);
	assert_int_equal(X509_REQ_set_subject_name(req, name), 1);
	assert_int_equal(X509_REQ_set_pubkey(req, key), 1);
	assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_bio_X509_REQ(bio, req), 1);
	X509_NAME_free(name);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return bio_text(bio);
}

/* A self-signed certificate for cn with a serial given in hex, as PEM
 * (free() it): a certificate no CA here issued. */
static char *
make_cert(const char *cn, const char *serial)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *crt = X509_new();
	BIO *bio = BIO_new(BIO_s_mem());
	BIGNUM *bn = NULL;
	X509_NAME *name;

	assert_non_null(key);
	assert_non_null(crt);
	assert_non_null(bio);
	assert_true(BN_hex2bn(&bn, serial) > 0);
	assert_non_null(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(crt)));
	BN_free(bn);
	assert_int_equal(X509_set_version(crt, 2), 1);
	name = X509_get_subject_name(crt);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(crt, name), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(crt), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(crt), 86400));
	assert_int_equal(X509_set_pubkey(crt, key), 1);
	assert_true(X509_sign(crt, key, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_bio_X509(bio, crt), 1);
	X509_free(crt);
	EVP_PKEY_free(key);
	return bio_text(bio);
}

/* The certificate's serial (BN_free it). */
static BIGNUM *
pem_serial(const char *pem)
{
	X509 *crt = cert_from_pem(pem);
	BIGNUM *bn;

	assert_non_null(crt);
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(crt), NULL);
	assert_non_null(bn);
	X509_free(crt);
	return bn;
}

/* hex is the certificate's serial, spelt in upper-case hex (as the RA
 * files serials), read back as a number so that no spelling is assumed. */
static void
assert_serial_of(const char *hex, const char *pem)
{
	BIGNUM *want = pem_serial(pem), *got = NULL;

	if (hex[0] == '\0' || strspn(hex, "0123456789ABCDEF") != strlen(hex))
		fail_msg("serial \"%s\" is not upper-case hex", hex);
	assert_int_equal(BN_hex2bn(&got, hex), (int)strlen(hex));
	if (BN_cmp(got, want) != 0)
		fail_msg("serial %s is not the certificate's", hex);
	BN_free(got);
	BN_free(want);
}

/* ------------------------------------------------------------------ */
/* The typed tasks, each called with fixed arguments                   */
/* ------------------------------------------------------------------ */

#define T_CN     "www.example.test"
#define T_CSR    "csr-pem"
#define T_PEM    "certificate-pem"
#define T_ADMIN  "CN=admin.example.test,O=uPKI"
#define T_SEED   "s3cret"
#define T_RA     "ra.example.test"
#define T_SANS   "[{\"type\":\"DNS\",\"value\":\"" T_RA "\"}]"

/*
 * Every caller below sets its outputs to `unset` first and checks them
 * after: a failed call must leave nothing behind (NULL), a successful one
 * must give something, which the caller frees.  ASan's leak check catches
 * what a failed call allocated and lost on the way.
 */
static char unset[1];

static void
check_str(enum ca_result r, char *out)
{
	if (r != CA_OK) {
		assert_null(out);
		return;
	}
	assert_ptr_not_equal(out, unset);
	assert_non_null(out);
	free(out);
}

static void
check_json(enum ca_result r, json_object *out)
{
	if (r != CA_OK) {
		assert_null(out);
		return;
	}
	assert_ptr_not_equal(out, (json_object *)unset);
	assert_non_null(out);
	json_object_put(out);
}

static enum ca_result
call_sign(struct ca_client *ca, char *msg, size_t msglen)
{
	char *pem = unset;
	enum ca_result r = ca_sign(ca, T_CSR, "server", &pem, msg, msglen);

	check_str(r, pem);
	return r;
}

static enum ca_result
call_renew(struct ca_client *ca, char *msg, size_t msglen)
{
	char *pem = unset;
	enum ca_result r = ca_renew(ca, T_CN, &pem, msg, msglen);

	check_str(r, pem);
	return r;
}

static enum ca_result
call_view(struct ca_client *ca, char *msg, size_t msglen)
{
	struct ca_view v = { .serial = "X", .profile = "X", .revoked = true, .pem = unset };
	enum ca_result r = ca_view(ca, T_CN, &v, msg, msglen);

	if (r != CA_OK) {
		assert_null(v.pem);
		assert_string_equal(v.serial, "");
		assert_false(v.revoked);
	}
	assert_ptr_not_equal(v.pem, unset);
	ca_view_free(&v);
	return r;
}

static enum ca_result
call_revoke(struct ca_client *ca, char *msg, size_t msglen)
{
	return ca_revoke(ca, T_CN, "keyCompromise", msg, msglen);
}

static enum ca_result
call_unrevoke(struct ca_client *ca, char *msg, size_t msglen)
{
	return ca_unrevoke(ca, T_CN, msg, msglen);
}

static enum ca_result
call_delete(struct ca_client *ca, char *msg, size_t msglen)
{
	return ca_delete(ca, T_CN, msg, msglen);
}

static enum ca_result
call_ocsp_check(struct ca_client *ca, char *msg, size_t msglen)
{
	char status[16] = "";
	enum ca_result r = ca_ocsp_check(ca, T_PEM, status, sizeof(status), msg, msglen);

	if (r == CA_OK)
		assert_true(status[0] != '\0');
	return r;
}

static enum ca_result
call_list_profiles(struct ca_client *ca, char *msg, size_t msglen)
{
	json_object *names = (json_object *)unset;
	enum ca_result r = ca_list_profiles(ca, &names, msg, msglen);

	check_json(r, names);
	return r;
}

static enum ca_result
call_get_profile(struct ca_client *ca, char *msg, size_t msglen)
{
	json_object *profile = (json_object *)unset;
	enum ca_result r = ca_get_profile(ca, "server", &profile, msg, msglen);

	check_json(r, profile);
	return r;
}

static enum ca_result
call_list_admins(struct ca_client *ca, char *msg, size_t msglen)
{
	json_object *dns = (json_object *)unset;
	enum ca_result r = ca_list_admins(ca, &dns, msg, msglen);

	check_json(r, dns);
	return r;
}

static enum ca_result
call_add_admin(struct ca_client *ca, char *msg, size_t msglen)
{
	return ca_add_admin(ca, T_ADMIN, msg, msglen);
}

static enum ca_result
call_remove_admin(struct ca_client *ca, char *msg, size_t msglen)
{
	return ca_remove_admin(ca, T_ADMIN, msg, msglen);
}

static enum ca_result
call_register(struct ca_client *ca, char *msg, size_t msglen)
{
	struct ca_registration reg = { unset, unset, unset };
	json_object *sans = json_tokener_parse(T_SANS);
	enum ca_result r;

	assert_non_null(sans);
	r = ca_register(ca, T_SEED, T_RA, "ra", sans, &reg, msg, msglen);
	/* sans is borrowed: still ours, still intact */
	assert_int_equal(json_object_array_length(sans), 1);
	json_object_put(sans);
	if (r != CA_OK) {
		assert_null(reg.certificate);
		assert_null(reg.private_key);
		assert_null(reg.ca_certificate);
		return r;
	}
	assert_true(reg.certificate != NULL && reg.certificate != unset);
	assert_true(reg.private_key != NULL && reg.private_key != unset);
	assert_true(reg.ca_certificate != NULL && reg.ca_certificate != unset);
	ca_registration_free(&reg);
	return r;
}

static enum ca_result
call_get_ca_pem(struct ca_client *ca, char *msg, size_t msglen)
{
	char *pem = unset;
	enum ca_result r = ca_get_ca_pem(ca, &pem, msg, msglen);

	check_str(r, pem);
	return r;
}

static enum ca_result
call_get_crl(struct ca_client *ca, char *msg, size_t msglen)
{
	char *pem = unset;
	enum ca_result r = ca_get_crl_pem(ca, false, &pem, msg, msglen);

	check_str(r, pem);
	return r;
}

static enum ca_result
call_generate_crl(struct ca_client *ca, char *msg, size_t msglen)
{
	char *pem = unset;
	enum ca_result r = ca_get_crl_pem(ca, true, &pem, msg, msglen);

	check_str(r, pem);
	return r;
}

/* DATA of the wrong shape, per kind of answer. */
static const char *const bad_certificate[] = {
	"\"" T_PEM "\"", "{}", "{\"certificate\":42}", "{\"pem\":\"x\"}", "[\"x\"]", "true",
	"null", NULL,
};
static const char *const bad_view[] = {
	"[1,2]", "\"x\"", "{\"certificate\":\"not a PEM\"}", "{\"revoked\":\"yes\"}",
	"{\"revoked\":null}", "{\"certificate\":42}", "{\"profile\":42}", "true", "null",
	NULL,
};
static const char *const bad_true[] = {
	"false", "\"true\"", "1", "{}", "[true]", "null", NULL,
};
static const char *const bad_ocsp[] = {
	"\"good\"", "{}", "{\"status\":\"unknown\"}", "{\"status\":1}", "[\"good\"]", "null",
	NULL,
};
static const char *const bad_strings[] = {
	"[1,2]", "{}", "\"server\"", "[\"a\",null]", "[\"a\",[\"b\"]]", "[\"a\",{}]", "null",
	NULL,
};
static const char *const bad_object[] = {
	"[]", "\"server\"", "true", "42", "null", NULL,
};
static const char *const bad_registration[] = {
	"\"x\"", "{}",
	"{\"certificate\":\"c\",\"private_key\":\"k\"}",
	"{\"certificate\":\"c\",\"ca_certificate\":\"a\"}",
	"{\"private_key\":\"k\",\"ca_certificate\":\"a\"}",
	"{\"certificate\":\"c\",\"private_key\":42,\"ca_certificate\":\"a\"}",
	"[\"c\",\"k\",\"a\"]", "null", NULL,
};
static const char *const bad_ca_pem[] = {
	"{\"pem\":\"x\"}", "\"not a certificate\"", "42", "[]", "null", NULL,
};
static const char *const bad_crl[] = {
	"\"Zm9vYmFy\"",         /* valid base64, but not of a DER CRL */
	"\"not base64!\"", "\"\"", "{}", "[]", "null", NULL,
};

/* A typed task called with fixed arguments, what it must send, and
 * answers it must refuse. */
struct typed {
	const char *task;
	const char *params;     /* the params it must send, JSON */
	bool read_only;         /* so sent again once after a timeout */
	enum ca_result (*call)(struct ca_client *ca, char *msg, size_t msglen);
	const char *const *bad; /* DATA of the wrong shape for it */
};

static const struct typed typed_tasks[] = {
	{ "sign", "{\"csr\":\"" T_CSR "\",\"profile\":\"server\"}", false, call_sign,
	    bad_certificate },
	{ "renew", "{\"dn\":\"" T_CN "\"}", false, call_renew, bad_certificate },
	{ "view", "{\"dn\":\"" T_CN "\"}", true, call_view, bad_view },
	{ "revoke", "{\"dn\":\"" T_CN "\",\"reason\":\"keyCompromise\"}", false, call_revoke,
	    bad_true },
	{ "unrevoke", "{\"dn\":\"" T_CN "\"}", false, call_unrevoke, bad_true },
	{ "delete", "{\"dn\":\"" T_CN "\"}", false, call_delete, bad_true },
	{ "ocsp_check", "{\"cert\":\"" T_PEM "\"}", true, call_ocsp_check, bad_ocsp },
	{ "list_profiles", "{}", true, call_list_profiles, bad_strings },
	{ "get_profile", "{\"profile\":\"server\"}", true, call_get_profile, bad_object },
	{ "list_admins", "{}", true, call_list_admins, bad_strings },
	{ "add_admin", "{\"dn\":\"" T_ADMIN "\"}", false, call_add_admin, bad_true },
	{ "remove_admin", "{\"dn\":\"" T_ADMIN "\"}", false, call_remove_admin, bad_true },
	{ "register", "{\"seed\":\"" T_SEED "\",\"cn\":\"" T_RA "\",\"profile\":\"ra\","
	    "\"sans\":" T_SANS "}", false, call_register, bad_registration },
	{ "get_ca", "{}", true, call_get_ca_pem, bad_ca_pem },
	{ "get_crl", "{}", true, call_get_crl, bad_crl },
	{ "generate_crl", "{}", false, call_generate_crl, bad_crl },
};

#define N_TYPED (sizeof(typed_tasks) / sizeof(typed_tasks[0]))

/* t must fail with want, say why in msg, and have been sent once (an
 * answer, even a bad one, is never retried); returns msg. */
static const char *
typed_fails(const struct typed *t, enum ca_result want, const char *answer)
{
	static char msg[512];
	int before = atomic_load(&cur_fake->nreq);
	enum ca_result r;

	memset(msg, 0, sizeof(msg));
	r = t->call(cur_client, msg, sizeof(msg));
	if (r != want)
		fail_msg("%s answered %s: got %s (%s), want %s", t->task, answer,
		    ca_result_str(r), msg, ca_result_str(want));
	if (msg[0] == '\0')
		fail_msg("%s answered %s: %s without a message", t->task, answer,
		    ca_result_str(r));
	if (atomic_load(&cur_fake->nreq) != before + 1)
		fail_msg("%s answered %s: sent %d times, must be once", t->task, answer,
		    atomic_load(&cur_fake->nreq) - before);
	assert_last_request(cur_fake, t->task, t->params);
	return msg;
}

/* On a CA that never answers, t fails at its timeout(s) with
 * CA_ERR_UNREACHABLE, sent once, or twice when it only reads. */
static void
typed_on_silence(const struct typed *t)
{
	int before = atomic_load(&cur_fake->nreq), want = t->read_only ? 2 : 1;
	char msg[512] = "";
	enum ca_result r;
	long long t0;

	t0 = tu_now_ms();
	r = t->call(cur_client, msg, sizeof(msg));
	if (r != CA_ERR_UNREACHABLE)
		fail_msg("%s on a silent CA: got %s (%s)", t->task, ca_result_str(r), msg);
	if (msg[0] == '\0')
		fail_msg("%s on a silent CA: no message", t->task);
	if (elapsed_since(t0) < want * TIMEOUT_MS - 50)
		fail_msg("%s gave up after %.0f ms, before %d timeout(s)", t->task,
		    elapsed_since(t0), want);
	tu_sleep_ms(100);       /* a further try would have arrived by now */
	if (atomic_load(&cur_fake->nreq) != before + want)
		fail_msg("%s was sent %d times, must be %d", t->task,
		    atomic_load(&cur_fake->nreq) - before, want);
	assert_last_request(cur_fake, t->task, t->params);
}

/* ------------------------------------------------------------------ */
/* Tests against the fake CA                                           */
/* ------------------------------------------------------------------ */

static void
test_request_format(void **state)
{
	struct ca_client *ca;
	json_object *params, *data = NULL, *req, *p;
	char msg[256];

	(void)state;
	ca = client_for_reply("{\"EVENT\":\"ANSWER\",\"DATA\":true}");
	params = json_object_new_object();
	json_object_object_add(params, "dn", json_object_new_string("www.example.test"));
	json_object_object_add(params, "reason", json_object_new_string("superseded"));
	assert_int_equal(ca_call(ca, "revoke", params, false, &data, msg, sizeof(msg)), CA_OK);
	json_object_put(data);
	/* params is borrowed: still ours, still intact */
	assert_string_equal(jsonx_get_string(params, "dn"), "www.example.test");
	json_object_put(params);

	req = fake_last_request(cur_fake);
	assert_string_equal(jsonx_get_string(req, "TASK"), "revoke");
	p = jsonx_get_object(req, "params");
	assert_non_null(p);
	assert_string_equal(jsonx_get_string(p, "dn"), "www.example.test");
	assert_string_equal(jsonx_get_string(p, "reason"), "superseded");
	assert_int_equal(json_object_object_length(req), 2);
	json_object_put(req);

	/* no params: an empty object, not null */
	data = NULL;
	assert_int_equal(ca_call(ca, "list_profiles", NULL, true, &data, msg, sizeof(msg)),
	    CA_OK);
	json_object_put(data);
	req = fake_last_request(cur_fake);
	assert_string_equal(jsonx_get_string(req, "TASK"), "list_profiles");
	p = jsonx_get_object(req, "params");
	assert_non_null(p);
	assert_int_equal(json_object_object_length(p), 0);
	json_object_put(req);
	assert_int_equal(atomic_load(&cur_fake->nreq), 2);
}

static void
test_answer_data(void **state)
{
	struct ca_client *ca;
	json_object *data = NULL, *list;
	char msg[256];

	(void)state;
	ca = client_for_reply("{\"EVENT\":\"ANSWER\",\"DATA\":{\"certificate\":\"PEM\","
	    "\"serial\":1234567890123456789012345678901234567890,\"list\":[1,2,3]}}");
	assert_int_equal(ca_call(ca, "sign", NULL, false, &data, msg, sizeof(msg)), CA_OK);
	assert_non_null(data);
	assert_string_equal(jsonx_get_string(data, "certificate"), "PEM");
	list = jsonx_get_array(data, "list");
	assert_non_null(list);
	assert_int_equal(json_object_array_length(list), 3);
	json_object_put(data);  /* a reference of our own: no leak, no double free */

	/* the same client, again and again */
	for (int i = 0; i < 5; i++) {
		data = NULL;
		assert_int_equal(ca_call(ca, "view", NULL, true, &data, msg, sizeof(msg)),
		    CA_OK);
		assert_non_null(data);
		json_object_put(data);
	}
	assert_int_equal(atomic_load(&cur_fake->nreq), 6);
}

static void
test_reply_not_json(void **state)
{
	struct ca_client *ca;
	const char *msg;

	(void)state;
	ca = client_for_reply("this is not JSON at all");
	/* read-only, so retried after a timeout: but a bad answer is not a
	 * lost answer, and is not asked again */
	msg = call_fails(ca, "get_ca", true, CA_ERR_PROTOCOL);
	assert_non_null(strstr(msg, "get_ca"));
	assert_int_equal(atomic_load(&cur_fake->nreq), 1);
	/* and the client keeps working after it */
	call_fails(ca, "list_profiles", true, CA_ERR_PROTOCOL);
	assert_int_equal(atomic_load(&cur_fake->nreq), 2);
}

static void
test_reply_truncated_json(void **state)
{
	(void)state;
	call_fails(client_for_reply("{\"EVENT\":\"ANSWER\",\"DATA\":"), "get_ca", true,
	    CA_ERR_PROTOCOL);
}

static void
test_reply_with_nul(void **state)
{
	static const char reply[] = "{\"EVENT\":\"ANSWER\",\"DATA\":\"a\0b\"}";

	(void)state;
	cur_fake = fake_start(FAKE_REPLY, reply, sizeof(reply) - 1);
	cur_client = ca_client_new("127.0.0.1", cur_fake->port, 2000);
	assert_non_null(cur_client);
	call_fails(cur_client, "get_ca", true, CA_ERR_PROTOCOL);
}

static void
test_reply_not_protocol(void **state)
{
	static const char *const replies[] = {
		"{\"EVENT\":\"ANSWER\"}",                       /* no DATA */
		"{\"DATA\":\"x\"}",                              /* no EVENT */
		"{\"EVENT\":\"SOMETHING\",\"DATA\":\"x\"}",
		"{\"EVENT\":42,\"DATA\":\"x\"}",
		"[\"ANSWER\"]",
		"\"ANSWER\"",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		client_for_reply(replies[i]);
		call_fails(cur_client, "get_ca", true, CA_ERR_PROTOCOL);
		fake_test_teardown(NULL);
	}
}

static void
test_reply_unknown_task(void **state)
{
	struct ca_client *ca;
	const char *msg;

	(void)state;
	ca = client_for_reply("{\"EVENT\":\"UPKI ERROR\",\"MSG\":\"[700] Unknown task: x\"}");
	msg = call_fails(ca, "x", true, CA_ERR_UNSUPPORTED);
	assert_string_equal(msg, "[700] Unknown task: x");
	assert_int_equal(atomic_load(&cur_fake->nreq), 1);
}

/* ca_call is the transport: "not found" is for the typed tasks to read. */
static void
test_reply_refused(void **state)
{
	struct ca_client *ca;
	const char *msg;

	(void)state;
	ca = client_for_reply("{\"EVENT\":\"UPKI ERROR\",\"MSG\":\"[500] Profile not found: x\"}");
	msg = call_fails(ca, "get_profile", true, CA_ERR_REFUSED);
	assert_string_equal(msg, "[500] Profile not found: x");
	fake_test_teardown(NULL);

	/* an error without a MSG is still a refusal, with some message */
	ca = client_for_reply("{\"EVENT\":\"UPKI ERROR\"}");
	call_fails(ca, "sign", false, CA_ERR_REFUSED);
}

/* Every state-changing typed task is sent once: a lost answer is not
 * retried (a second sign could issue a second certificate). */
static void
test_silent_ca_no_retry_for_writes(void **state)
{
	int n = 0;

	(void)state;
	client_for_silence();
	for (size_t i = 0; i < N_TYPED; i++) {
		if (typed_tasks[i].read_only)
			continue;
		typed_on_silence(&typed_tasks[i]);
		n++;
	}
	/* sign renew revoke unrevoke delete add_admin remove_admin register
	 * generate_crl */
	assert_int_equal(n, 9);
}

/* Every read-only typed task is retried once, on a fresh socket. */
static void
test_silent_ca_retries_reads_once(void **state)
{
	int n = 0;

	(void)state;
	client_for_silence();
	for (size_t i = 0; i < N_TYPED; i++) {
		if (!typed_tasks[i].read_only)
			continue;
		client_again();
		typed_on_silence(&typed_tasks[i]);
		n++;
	}
	/* view ocsp_check list_profiles get_profile list_admins get_ca get_crl */
	assert_int_equal(n, 7);
}

/* For ca_call itself, the flag decides, whatever the task's name. */
static void
test_silent_ca_call_flag(void **state)
{
	(void)state;
	client_for_silence();
	call_fails(cur_client, "get_ca", false, CA_ERR_UNREACHABLE);
	tu_sleep_ms(100);
	assert_int_equal(atomic_load(&cur_fake->nreq), 1);
	client_again();
	call_fails(cur_client, "sign", true, CA_ERR_UNREACHABLE);
	tu_sleep_ms(100);
	assert_int_equal(atomic_load(&cur_fake->nreq), 3);
}

/* Once a client had no answer, a read is not sent again after its timeout:
 * during an outage every caller waits one timeout, not two. */
static void
test_silent_ca_known_down_no_retry(void **state)
{
	long long t0;

	(void)state;
	client_for_silence();
	call_fails(cur_client, "get_ca", true, CA_ERR_UNREACHABLE);
	tu_sleep_ms(100);
	assert_int_equal(atomic_load(&cur_fake->nreq), 2);
	t0 = tu_now_ms();
	call_fails(cur_client, "get_crl", true, CA_ERR_UNREACHABLE);
	assert_true(elapsed_since(t0) < 2 * TIMEOUT_MS - 50);
	tu_sleep_ms(100);
	assert_int_equal(atomic_load(&cur_fake->nreq), 3);
}

/* A name the CA does not file is CA_ERR_NOT_FOUND for every typed task,
 * with the CA's message. */
static void
test_typed_not_found(void **state)
{
	static const struct {
		const char *reply, *msg;
	} errors[] = {
		{ "{\"EVENT\":\"UPKI ERROR\",\"MSG\":\"[404] Node not found: x\"}",
		    "[404] Node not found: x" },
		{ "{\"EVENT\":\"UPKI ERROR\",\"MSG\":\"[500] Profile not found: x\"}",
		    "[500] Profile not found: x" },
	};

	(void)state;
	client_for_reply(errors[0].reply);
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
		fake_answer(cur_fake, errors[i].reply);
		for (size_t j = 0; j < N_TYPED; j++)
			assert_string_equal(typed_fails(&typed_tasks[j], CA_ERR_NOT_FOUND,
			    errors[i].reply), errors[i].msg);
	}
}

/* Any other CA error is a refusal, with the CA's message. */
static void
test_typed_refused(void **state)
{
	static const char reply[] = "{\"EVENT\":\"UPKI ERROR\",\"MSG\":\"[900] something\"}";

	(void)state;
	client_for_reply(reply);
	for (size_t i = 0; i < N_TYPED; i++)
		assert_string_equal(typed_fails(&typed_tasks[i], CA_ERR_REFUSED, reply),
		    "[900] something");
}

/* A CA without the task: unsupported, not a refusal nor "not found". */
static void
test_typed_unsupported(void **state)
{
	static const char reply[] =
	    "{\"EVENT\":\"UPKI ERROR\",\"MSG\":\"[700] Unknown task: x\"}";

	(void)state;
	client_for_reply(reply);
	for (size_t i = 0; i < N_TYPED; i++)
		assert_string_equal(typed_fails(&typed_tasks[i], CA_ERR_UNSUPPORTED, reply),
		    "[700] Unknown task: x");
}

/* DATA of the wrong shape is a protocol error that names the task, and
 * leaves no output (typed_fails' callers check). */
static void
test_typed_wrong_shape(void **state)
{
	char reply[512];
	int n = 0;

	(void)state;
	client_for_reply("");   /* each answer below is set with fake_answer */
	for (size_t i = 0; i < N_TYPED; i++) {
		const struct typed *t = &typed_tasks[i];

		for (const char *const *bad = t->bad; *bad != NULL; bad++, n++) {
			snprintf(reply, sizeof(reply), "{\"EVENT\":\"ANSWER\",\"DATA\":%s}", *bad);
			fake_answer(cur_fake, reply);
			if (strstr(typed_fails(t, CA_ERR_PROTOCOL, reply), t->task) == NULL)
				fail_msg("%s answered %s: the message does not name the task",
				    t->task, reply);
		}
	}
	assert_true(n >= 2 * (int)N_TYPED);
}

/* view reads the serial from the certificate: the reference CA's serial
 * field is an integer too wide for JSON readers. */
static void
test_view_serial_from_certificate(void **state)
{
	char *pem = make_cert("view.example.test", "ABCDEF0123456789ABCDEF");
	json_object *data = json_object_new_object();
	struct ca_view v;
	char msg[256] = "";

	(void)state;
	json_object_object_add(data, "certificate", json_object_new_string(pem));
	json_object_object_add(data, "serial", json_object_new_double_s(1.2e39,
	    "1234567890123456789012345678901234567890"));
	json_object_object_add(data, "profile", json_object_new_string("server"));
	json_object_object_add(data, "revoked", json_object_new_boolean(1));
	client_for_data(data);
	if (ca_view(cur_client, "view.example.test", &v, msg, sizeof(msg)) != CA_OK)
		fail_msg("view: %s", msg);
	assert_string_equal(v.serial, "ABCDEF0123456789ABCDEF");
	assert_string_equal(v.profile, "server");
	assert_true(v.revoked);
	assert_non_null(v.pem);
	assert_string_equal(v.pem, pem);
	ca_view_free(&v);
	assert_null(v.pem);
	free(pem);
}

/* Without a certificate, view gives the serial field as sent, no PEM. */
static void
test_view_without_certificate(void **state)
{
	struct ca_view v;
	char msg[256] = "";

	(void)state;
	client_for_reply("{\"EVENT\":\"ANSWER\",\"DATA\":{\"serial\":\"0A1B\","
	    "\"revoked\":false}}");
	if (ca_view(cur_client, T_CN, &v, msg, sizeof(msg)) != CA_OK)
		fail_msg("view: %s", msg);
	assert_string_equal(v.serial, "0A1B");
	assert_string_equal(v.profile, "");
	assert_false(v.revoked);
	assert_null(v.pem);
	ca_view_free(&v);
}

/* A record whose certificate was read but whose "revoked" is not a
 * boolean: refused, and the copy of the certificate freed (ASan). */
static void
test_view_bad_record_frees_certificate(void **state)
{
	char *pem = make_cert("view.example.test", "01");
	json_object *data = json_object_new_object();
	struct ca_view v;
	char msg[256] = "";

	(void)state;
	json_object_object_add(data, "certificate", json_object_new_string(pem));
	json_object_object_add(data, "revoked", json_object_new_string("no"));
	free(pem);
	client_for_data(data);
	assert_int_equal(ca_view(cur_client, T_CN, &v, msg, sizeof(msg)), CA_ERR_PROTOCOL);
	assert_null(v.pem);
	assert_string_equal(v.serial, "");
	assert_non_null(strstr(msg, "view"));
}

/*
 * After a timeout the REQ socket is stuck; the client must replace it, so
 * the same client object works as soon as the CA answers again.
 */
static void
test_same_client_after_timeout(void **state)
{
	static const char ok[] = "{\"EVENT\":\"ANSWER\",\"DATA\":\"ok\"}";
	json_object *data = NULL;
	char msg[256];

	(void)state;
	cur_fake = fake_start(FAKE_SILENT, ok, strlen(ok));
	/* a generous timeout: the call after the CA is back must not fail
	 * only because the machine is busy */
	cur_client = ca_client_new("127.0.0.1", cur_fake->port, 1000);
	assert_non_null(cur_client);
	/* the last call before the CA answers again is one that is not
	 * retried, so nothing but the client's own reset can help it */
	call_fails(cur_client, "revoke", false, CA_ERR_UNREACHABLE);
	assert_int_equal(atomic_load(&cur_fake->nreq), 1);
	atomic_store(&cur_fake->mode, FAKE_REPLY);
	if (ca_call(cur_client, "sign", NULL, false, &data, msg, sizeof(msg)) != CA_OK)
		fail_msg("first call after a timeout: %s", msg);
	assert_string_equal(json_object_get_string(data), "ok");
	json_object_put(data);
	assert_int_equal(atomic_load(&cur_fake->nreq), 2);
	data = NULL;
	assert_int_equal(ca_call(cur_client, "get_ca", NULL, true, &data, msg, sizeof(msg)),
	    CA_OK);
	json_object_put(data);
	assert_int_equal(atomic_load(&cur_fake->nreq), 3);
}

/* An answer past the client's size ceiling is not accepted. */
static void
test_oversized_reply(void **state)
{
	size_t big = 5 * 1024 * 1024;
	char *reply = malloc(big + 64);
	json_object *data = NULL;
	char msg[256] = "";
	enum ca_result r;
	int n;

	(void)state;
	assert_non_null(reply);
	n = sprintf(reply, "{\"EVENT\":\"ANSWER\",\"DATA\":\"");
	memset(reply + n, 'A', big);
	strcpy(reply + n + big, "\"}");
	cur_fake = fake_start(FAKE_REPLY, reply, strlen(reply));
	free(reply);
	cur_client = ca_client_new("127.0.0.1", cur_fake->port, TIMEOUT_MS);
	assert_non_null(cur_client);
	r = ca_call(cur_client, "sign", NULL, false, &data, msg, sizeof(msg));
	assert_true(r == CA_ERR_UNREACHABLE || r == CA_ERR_PROTOCOL);
	assert_null(data);
	assert_true(strlen(msg) > 0);
}

static void
test_result_strings(void **state)
{
	const enum ca_result all[] = {
		CA_OK, CA_ERR_REFUSED, CA_ERR_NOT_FOUND, CA_ERR_UNSUPPORTED, CA_ERR_UNREACHABLE,
		CA_ERR_PROTOCOL,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		assert_non_null(ca_result_str(all[i]));
		assert_true(strlen(ca_result_str(all[i])) > 0);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(ca_result_str(all[i]), ca_result_str(all[j]));
	}
}

/* ------------------------------------------------------------------ */
/* Tests against the development CA                                    */
/* ------------------------------------------------------------------ */

static char tmpdir[TU_PATH];
static struct tu_devca devca_main;      /* started by the group setup */
static struct tu_devca devca_extra;     /* started by a test */

static int
devca_group_setup(void **state)
{
	int port;

	(void)state;
	if (tu_mkdtemp(tmpdir, sizeof(tmpdir)) != 0) {
		fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	for (int tries = 0; tries < 3; tries++) {
		if ((port = tu_free_port_pair()) < 0)
			return -1;
		if (tu_devca_start(&devca_main, tmpdir, "ca-main", port, NULL) == 0)
			return 0;
	}
	return -1;
}

static int
devca_group_teardown(void **state)
{
	(void)state;
	tu_devca_stop(&devca_main);
	tu_devca_stop(&devca_extra);
	tu_children_stop_all();
	tu_rmtree(tmpdir);
	return 0;
}

static int
devca_test_teardown(void **state)
{
	(void)state;
	ca_client_free(cur_client);
	cur_client = NULL;
	tu_devca_stop(&devca_extra);
	return 0;
}

static struct ca_client *
main_client(void)
{
	assert_true(devca_main.pid > 0);
	cur_client = ca_client_new("127.0.0.1", devca_main.port, 5000);
	assert_non_null(cur_client);
	return cur_client;
}

/* A client for the registration port. */
static struct ca_client *
registration_client(void)
{
	assert_true(devca_main.pid > 0);
	cur_client = ca_client_new("127.0.0.1", devca_main.port + 1, 5000);
	assert_non_null(cur_client);
	return cur_client;
}

/* The main dev CA's certificate (free() it), asked on a client of its own. */
static char *
devca_ca_pem(void)
{
	struct ca_client *ca = ca_client_new("127.0.0.1", devca_main.port, 5000);
	char *pem = NULL, msg[256] = "";
	enum ca_result r;

	assert_non_null(ca);
	r = ca_get_ca_pem(ca, &pem, msg, sizeof(msg));
	ca_client_free(ca);
	if (r != CA_OK)
		fail_msg("get_ca: %s", msg);
	return pem;
}

/* Signs a CSR made here for cn with the server profile; the certificate,
 * checked to be for cn (free() it). */
static char *
devca_issue(const char *cn)
{
	char *csr = make_csr(cn), *pem = NULL, msg[512] = "", got[128];
	enum ca_result r = ca_sign(cur_client, csr, "server", &pem, msg, sizeof(msg));
	X509 *crt;

	free(csr);
	if (r != CA_OK)
		fail_msg("sign %s: %s (%s)", cn, ca_result_str(r), msg);
	crt = cert_from_pem(pem);
	assert_non_null(crt);
	assert_int_equal(cert_common_name(crt, got, sizeof(got)), 0);
	assert_string_equal(got, cn);
	X509_free(crt);
	return pem;
}

/* view of cn, which must succeed (ca_view_free v). */
static void
devca_view(const char *cn, struct ca_view *v)
{
	char msg[512] = "";
	enum ca_result r = ca_view(cur_client, cn, v, msg, sizeof(msg));

	if (r != CA_OK)
		fail_msg("view %s: %s (%s)", cn, ca_result_str(r), msg);
}

static void
assert_ocsp(const char *pem, const char *want)
{
	char status[16] = "", msg[512] = "";
	enum ca_result r = ca_ocsp_check(cur_client, pem, status, sizeof(status), msg,
	    sizeof(msg));

	if (r != CA_OK)
		fail_msg("ocsp_check: %s (%s)", ca_result_str(r), msg);
	assert_string_equal(status, want);
}

/* A typed task that must succeed; name and why for the failure message. */
static void
assert_ok(enum ca_result r, const char *name, const char *msg)
{
	if (r != CA_OK)
		fail_msg("%s: %s (%s)", name, ca_result_str(r), msg);
}

/* list holds s (a JSON array of strings). */
static bool
list_has(json_object *list, const char *s)
{
	for (size_t i = 0; i < json_object_array_length(list); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(list, i)), s) == 0)
			return true;
	return false;
}

static void
test_devca_get_ca(void **state)
{
	char *pem = NULL, msg[256] = "";
	X509 *crt;

	(void)state;
	assert_ok(ca_get_ca_pem(main_client(), &pem, msg, sizeof(msg)), "get_ca", msg);
	assert_non_null(pem);
	assert_non_null(strstr(pem, "-----BEGIN CERTIFICATE-----"));
	crt = cert_from_pem(pem);
	assert_non_null(crt);
	X509_free(crt);
	/* a root: it verifies with its own key */
	assert_true(cert_issued_by(pem, pem));
	free(pem);
}

static void
test_devca_list_profiles(void **state)
{
	json_object *names = NULL;
	char msg[256] = "";

	(void)state;
	assert_ok(ca_list_profiles(main_client(), &names, msg, sizeof(msg)), "list_profiles",
	    msg);
	assert_true(json_object_is_type(names, json_type_array));
	assert_true(list_has(names, "server"));
	assert_true(list_has(names, "ra"));
	json_object_put(names);
}

static void
test_devca_get_profile(void **state)
{
	json_object *profile = NULL;
	char msg[256] = "";

	(void)state;
	assert_ok(ca_get_profile(main_client(), "server", &profile, msg, sizeof(msg)),
	    "get_profile server", msg);
	assert_true(json_object_is_type(profile, json_type_object));
	assert_string_equal(jsonx_get_string(profile, "keyType"), "ec");
	assert_non_null(jsonx_get_array(profile, "keyUsage"));
	json_object_put(profile);
}

static void
test_devca_unknown_profile(void **state)
{
	json_object *params, *profile = (json_object *)unset, *data = (json_object *)unset;
	char *csr, *pem = unset, msg[256] = "";

	(void)state;
	assert_int_equal(ca_get_profile(main_client(), "no-such-profile-here", &profile, msg,
	    sizeof(msg)), CA_ERR_NOT_FOUND);
	assert_null(profile);
	/* the CA's own MSG: "[code] text" naming the profile */
	assert_int_equal(msg[0], '[');
	assert_non_null(strstr(msg, "no-such-profile-here"));

	csr = make_csr("unit-no-profile.example.test");
	assert_int_equal(ca_sign(cur_client, csr, "no-such-profile-here", &pem, msg,
	    sizeof(msg)), CA_ERR_NOT_FOUND);
	free(csr);
	assert_null(pem);

	/* ca_call passes the CA's refusal on as it is */
	params = json_object_new_object();
	json_object_object_add(params, "profile", json_object_new_string("no-such-profile"));
	assert_int_equal(ca_call(cur_client, "get_profile", params, true, &data, msg,
	    sizeof(msg)), CA_ERR_REFUSED);
	json_object_put(params);
	assert_null(data);
}

static void
test_devca_unknown_task(void **state)
{
	const char *msg;

	(void)state;
	msg = call_fails(main_client(), "acme_sync_account", false, CA_ERR_UNSUPPORTED);
	assert_non_null(strstr(msg, "Unknown task"));
	/* the client goes on working after it */
	msg = call_fails(cur_client, "no_such_task", true, CA_ERR_UNSUPPORTED);
	assert_non_null(strstr(msg, "no_such_task"));
}

/* The CRL both ways: this CA's, signed by it, listing what it revoked. */
static void
test_devca_crl(void **state)
{
	static const bool fresh[] = { false, true };
	char *ca_pem = devca_ca_pem(), *crt_pem, msg[256] = "";
	X509 *ca_crt = cert_from_pem(ca_pem);
	BIGNUM *bn;
	ASN1_INTEGER *serial;

	(void)state;
	free(ca_pem);
	assert_non_null(ca_crt);
	main_client();
	crt_pem = devca_issue("unit-crl.example.test");
	assert_ok(ca_revoke(cur_client, "unit-crl.example.test", "superseded", msg,
	    sizeof(msg)), "revoke", msg);
	bn = pem_serial(crt_pem);
	serial = BN_to_ASN1_INTEGER(bn, NULL);
	assert_non_null(serial);
	BN_free(bn);
	free(crt_pem);
	for (size_t i = 0; i < sizeof(fresh) / sizeof(fresh[0]); i++) {
		char *pem = NULL;
		BIO *bio;
		X509_CRL *crl;
		X509_REVOKED *rev = NULL;

		assert_ok(ca_get_crl_pem(cur_client, fresh[i], &pem, msg, sizeof(msg)),
		    fresh[i] ? "generate_crl" : "get_crl", msg);
		assert_non_null(pem);
		assert_true(strncmp(pem, "-----BEGIN X509 CRL-----", 24) == 0);
		bio = BIO_new_mem_buf(pem, -1);
		assert_non_null(bio);
		crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
		BIO_free(bio);
		free(pem);
		assert_non_null(crl);
		assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(crl),
		    X509_get_subject_name(ca_crt)), 0);
		assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(ca_crt)), 1);
		assert_int_equal(X509_CRL_get0_by_serial(crl, &rev, serial), 1);
		X509_CRL_free(crl);
	}
	ASN1_INTEGER_free(serial);
	X509_free(ca_crt);
}

/* sign a CSR made here, then view what the CA filed. */
static void
test_devca_sign_and_view(void **state)
{
	char *ca_pem = devca_ca_pem(), *pem;
	struct ca_view v;
	X509 *crt;

	(void)state;
	main_client();
	pem = devca_issue("unit-sign.example.test");
	assert_true(cert_issued_by(pem, ca_pem));
	free(ca_pem);
	devca_view("unit-sign.example.test", &v);
	assert_serial_of(v.serial, pem);
	assert_string_equal(v.profile, "server");
	assert_false(v.revoked);
	assert_non_null(v.pem);
	crt = cert_from_pem(pem);
	assert_non_null(crt);
	assert_true(cert_same(crt, v.pem));
	X509_free(crt);
	ca_view_free(&v);
	free(pem);
}

/* revoke, unrevoke, each seen by view and ocsp_check; each refused when
 * there is nothing to do. */
static void
test_devca_revoke_and_unrevoke(void **state)
{
	static const char cn[] = "unit-revoke.example.test";
	char *pem, msg[512] = "";
	struct ca_view v;

	(void)state;
	main_client();
	pem = devca_issue(cn);
	assert_ocsp(pem, "good");
	assert_ok(ca_revoke(cur_client, cn, "keyCompromise", msg, sizeof(msg)), "revoke", msg);
	devca_view(cn, &v);
	assert_true(v.revoked);
	assert_serial_of(v.serial, pem);
	ca_view_free(&v);
	assert_ocsp(pem, "revoked");
	assert_int_equal(ca_revoke(cur_client, cn, "keyCompromise", msg, sizeof(msg)),
	    CA_ERR_REFUSED);
	assert_non_null(strstr(msg, "already revoked"));

	assert_ok(ca_unrevoke(cur_client, cn, msg, sizeof(msg)), "unrevoke", msg);
	devca_view(cn, &v);
	assert_false(v.revoked);
	ca_view_free(&v);
	assert_ocsp(pem, "good");
	assert_int_equal(ca_unrevoke(cur_client, cn, msg, sizeof(msg)), CA_ERR_REFUSED);
	assert_non_null(strstr(msg, "not revoked"));
	free(pem);
}

/* The CA refuses a reason it does not know; nothing is revoked. */
static void
test_devca_revoke_bad_reason(void **state)
{
	static const char cn[] = "unit-reason.example.test";
	char *pem, msg[512] = "";

	(void)state;
	main_client();
	pem = devca_issue(cn);
	assert_int_equal(ca_revoke(cur_client, cn, "1", msg, sizeof(msg)), CA_ERR_REFUSED);
	assert_non_null(strstr(msg, "reason"));
	assert_ocsp(pem, "good");
	free(pem);
}

/* renew: the same name and key under a new serial, which view then shows. */
static void
test_devca_renew(void **state)
{
	static const char cn[] = "unit-renew.example.test";
	char *old, *new = unset, msg[512] = "";
	BIGNUM *old_serial, *new_serial;
	X509 *a, *b;
	struct ca_view v;

	(void)state;
	main_client();
	old = devca_issue(cn);
	assert_ok(ca_renew(cur_client, cn, &new, msg, sizeof(msg)), "renew", msg);
	assert_ptr_not_equal(new, unset);
	a = cert_from_pem(old);
	b = cert_from_pem(new);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(a), X509_get0_pubkey(b)), 1);
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(a), X509_get_subject_name(b)), 0);
	X509_free(a);
	X509_free(b);
	old_serial = pem_serial(old);
	new_serial = pem_serial(new);
	assert_int_not_equal(BN_cmp(old_serial, new_serial), 0);
	BN_free(old_serial);
	BN_free(new_serial);
	devca_view(cn, &v);
	assert_serial_of(v.serial, new);
	ca_view_free(&v);
	free(old);
	free(new);
}

/* delete: the certificate is revoked; the name is gone, or filed as
 * revoked (the reference CA forgets it, the dev CA keeps the record). */
static void
test_devca_delete(void **state)
{
	static const char cn[] = "unit-delete.example.test";
	char *pem, msg[512] = "";
	struct ca_view v;
	enum ca_result r;

	(void)state;
	main_client();
	pem = devca_issue(cn);
	assert_ok(ca_delete(cur_client, cn, msg, sizeof(msg)), "delete", msg);
	assert_ocsp(pem, "revoked");
	r = ca_view(cur_client, cn, &v, msg, sizeof(msg));
	if (r != CA_ERR_NOT_FOUND && !(r == CA_OK && v.revoked))
		fail_msg("view after delete: %s (%s), revoked %d", ca_result_str(r), msg,
		    v.revoked);
	ca_view_free(&v);
	free(pem);
}

/* Every task that names a certificate: CA_ERR_NOT_FOUND for a name the CA
 * never filed, with the CA's message naming it. */
static void
test_devca_unknown_name(void **state)
{
	static const char cn[] = "unit-never-issued.example.test";
	struct ca_view v = { .pem = unset };
	char *pem = unset, msg[512];
	enum ca_result r[5];

	(void)state;
	main_client();
	r[0] = ca_view(cur_client, cn, &v, msg, sizeof(msg));
	assert_null(v.pem);
	r[1] = ca_renew(cur_client, cn, &pem, msg, sizeof(msg));
	assert_null(pem);
	r[2] = ca_revoke(cur_client, cn, "superseded", msg, sizeof(msg));
	r[3] = ca_unrevoke(cur_client, cn, msg, sizeof(msg));
	r[4] = ca_delete(cur_client, cn, msg, sizeof(msg));
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
		if (r[i] != CA_ERR_NOT_FOUND)
			fail_msg("call %zu: got %s, want %s", i, ca_result_str(r[i]),
			    ca_result_str(CA_ERR_NOT_FOUND));
	assert_non_null(strstr(msg, cn));
}

/* ocsp_check of a certificate this CA did not issue: refused. */
static void
test_devca_ocsp_foreign(void **state)
{
	char *pem = make_cert("foreign.example.test", "1234"), status[16] = "", msg[512] = "";

	(void)state;
	assert_int_equal(ca_ocsp_check(main_client(), pem, status, sizeof(status), msg,
	    sizeof(msg)), CA_ERR_REFUSED);
	assert_int_equal(msg[0], '[');
	free(pem);
}

/* The admin list: add shows in list, remove takes out, both idempotent
 * for the CA (true when there is nothing to do). */
static void
test_devca_admins(void **state)
{
	static const char dn[] = "CN=unit-admin.example.test,O=uPKI";
	json_object *dns = NULL;
	char msg[512] = "";

	(void)state;
	assert_ok(ca_list_admins(main_client(), &dns, msg, sizeof(msg)), "list_admins", msg);
	assert_false(list_has(dns, dn));
	json_object_put(dns);
	assert_ok(ca_add_admin(cur_client, dn, msg, sizeof(msg)), "add_admin", msg);
	assert_ok(ca_list_admins(cur_client, &dns, msg, sizeof(msg)), "list_admins", msg);
	assert_true(list_has(dns, dn));
	json_object_put(dns);
	assert_ok(ca_remove_admin(cur_client, dn, msg, sizeof(msg)), "remove_admin", msg);
	assert_ok(ca_list_admins(cur_client, &dns, msg, sizeof(msg)), "list_admins", msg);
	assert_false(list_has(dns, dn));
	json_object_put(dns);
	assert_ok(ca_remove_admin(cur_client, dn, msg, sizeof(msg)), "remove_admin again",
	    msg);
}

/* The CA's registration status of cn ("registered", "not_registered"). */
static void
assert_registration_status(const char *cn, const char *want)
{
	json_object *params = json_object_new_object(), *data = NULL;
	char msg[256] = "";
	enum ca_result r;

	json_object_object_add(params, "cn", json_object_new_string(cn));
	r = ca_call(cur_client, "status", params, true, &data, msg, sizeof(msg));
	json_object_put(params);
	assert_ok(r, "status", msg);
	assert_string_equal(jsonx_get_string(data, "status"), want);
	json_object_put(data);
}

/* register with the seed the CA was started with: a certificate for cn of
 * this CA, its key, and the CA's certificate. */
static void
test_devca_register(void **state)
{
	static const char cn[] = "unit-ra.example.test";
	struct ca_registration reg;
	char *ca_pem = devca_ca_pem(), msg[512] = "", got[128];
	json_object *sans = json_tokener_parse("[{\"type\":\"DNS\",\"value\":\"localhost\"}]");
	X509 *crt;
	BIO *bio;
	EVP_PKEY *key;

	(void)state;
	assert_non_null(sans);
	assert_ok(ca_register(registration_client(), TU_DEVCA_SEED, cn, "ra", sans, &reg, msg,
	    sizeof(msg)), "register", msg);
	json_object_put(sans);
	crt = cert_from_pem(ca_pem);
	assert_non_null(crt);
	assert_true(cert_same(crt, reg.ca_certificate));
	X509_free(crt);
	assert_true(cert_issued_by(reg.certificate, ca_pem));
	free(ca_pem);
	crt = cert_from_pem(reg.certificate);
	assert_non_null(crt);
	assert_int_equal(cert_common_name(crt, got, sizeof(got)), 0);
	assert_string_equal(got, cn);
	bio = BIO_new_mem_buf(reg.private_key, -1);
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(key);
	assert_int_equal(X509_check_private_key(crt, key), 1);
	EVP_PKEY_free(key);
	X509_free(crt);
	ca_registration_free(&reg);
	assert_null(reg.private_key);
	assert_registration_status(cn, "registered");
}

static void
test_devca_register_wrong_seed(void **state)
{
	static const char cn[] = "unit-ra-wrong.example.test";
	struct ca_registration reg = { unset, unset, unset };
	json_object *sans = json_object_new_array();
	char msg[512] = "";

	(void)state;
	assert_int_equal(ca_register(registration_client(), "not-" TU_DEVCA_SEED, cn, "ra",
	    sans, &reg, msg, sizeof(msg)), CA_ERR_REFUSED);
	json_object_put(sans);
	assert_null(reg.certificate);
	assert_null(reg.private_key);
	assert_null(reg.ca_certificate);
	assert_non_null(strstr(msg, "seed"));
	assert_registration_status(cn, "not_registered");
}

/* The registration port speaks the same protocol. */
static void
test_devca_registration_status(void **state)
{
	(void)state;
	registration_client();
	assert_registration_status("never-registered", "not_registered");
}

/* A CA slower than the client's timeout: the client gives up at its
 * timeout, not when the CA finally answers. */
static void
test_devca_slow_ca_times_out(void **state)
{
	static const char *const slow[] = { "--slow-ms", "1500", NULL };
	char msg[256] = "";
	long long t0;
	int port;

	(void)state;
	port = tu_free_port_pair();
	assert_true(port > 0);
	assert_int_equal(tu_devca_start(&devca_extra, tmpdir, "ca-slow", port, slow), 0);
	cur_client = ca_client_new("127.0.0.1", port, TIMEOUT_MS);
	assert_non_null(cur_client);
	t0 = tu_now_ms();
	assert_int_equal(ca_revoke(cur_client, "nobody.example.test", "superseded", msg,
	    sizeof(msg)), CA_ERR_UNREACHABLE);
	assert_true(strlen(msg) > 0);
	if (elapsed_since(t0) >= 1500)
		fail_msg("revoke took %.0f ms with a %d ms timeout", elapsed_since(t0),
		    TIMEOUT_MS);
}

/* Nothing listens yet: the call fails at the timeout; once the CA is up,
 * the same client object succeeds. */
static void
test_devca_same_client_after_ca_comes_up(void **state)
{
	char *pem = (char *)&pem, msg[256] = "";
	long long t0;
	int port;

	(void)state;
	port = tu_free_port_pair();
	assert_true(port > 0);
	/* a generous timeout, as above */
	cur_client = ca_client_new("127.0.0.1", port, 1000);
	assert_non_null(cur_client);
	t0 = tu_now_ms();
	assert_int_equal(ca_get_ca_pem(cur_client, &pem, msg, sizeof(msg)), CA_ERR_UNREACHABLE);
	assert_null(pem);
	assert_true(strlen(msg) > 0);
	assert_true(elapsed_since(t0) >= 1000 - 50);
	/* last, a task that is not retried: its timed-out socket must not be
	 * what the next call uses */
	call_fails(cur_client, "revoke", false, CA_ERR_UNREACHABLE);

	assert_int_equal(tu_devca_start(&devca_extra, tmpdir, "ca-late", port, NULL), 0);
	/* sent once, and answered: the CA knows no such task */
	call_fails(cur_client, "no_such_task", false, CA_ERR_UNSUPPORTED);
	if (ca_get_ca_pem(cur_client, &pem, msg, sizeof(msg)) != CA_OK)
		fail_msg("get_ca after the CA came up: %s", msg);
	assert_non_null(strstr(pem, "-----BEGIN CERTIFICATE-----"));
	free(pem);
}

#define FT(f) cmocka_unit_test_teardown(f, fake_test_teardown)
#define DT(f) cmocka_unit_test_teardown(f, devca_test_teardown)

int
main(void)
{
	const struct CMUnitTest fake_tests[] = {
		FT(test_request_format),
		FT(test_answer_data),
		FT(test_reply_not_json),
		FT(test_reply_truncated_json),
		FT(test_reply_with_nul),
		FT(test_reply_not_protocol),
		FT(test_reply_unknown_task),
		FT(test_reply_refused),
		FT(test_silent_ca_no_retry_for_writes),
		FT(test_silent_ca_retries_reads_once),
		FT(test_silent_ca_call_flag),
		FT(test_silent_ca_known_down_no_retry),
		FT(test_typed_not_found),
		FT(test_typed_refused),
		FT(test_typed_unsupported),
		FT(test_typed_wrong_shape),
		FT(test_view_serial_from_certificate),
		FT(test_view_without_certificate),
		FT(test_view_bad_record_frees_certificate),
		FT(test_same_client_after_timeout),
		FT(test_oversized_reply),
		FT(test_result_strings),
	};
	const struct CMUnitTest devca_tests[] = {
		DT(test_devca_get_ca),
		DT(test_devca_list_profiles),
		DT(test_devca_get_profile),
		DT(test_devca_unknown_profile),
		DT(test_devca_unknown_task),
		DT(test_devca_crl),
		DT(test_devca_sign_and_view),
		DT(test_devca_revoke_and_unrevoke),
		DT(test_devca_revoke_bad_reason),
		DT(test_devca_renew),
		DT(test_devca_delete),
		DT(test_devca_unknown_name),
		DT(test_devca_ocsp_foreign),
		DT(test_devca_admins),
		DT(test_devca_register),
		DT(test_devca_register_wrong_seed),
		DT(test_devca_registration_status),
		DT(test_devca_slow_ca_times_out),
		DT(test_devca_same_client_after_ca_comes_up),
	};
	int failed = 0;

	failed += cmocka_run_group_tests_name("ca_client_fake", fake_tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("ca_client_devca", devca_tests,
	    devca_group_setup, devca_group_teardown);
	return failed;
}
