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
	char *reply;            /* what FAKE_REPLY answers, fixed at start */
	size_t replylen;
	pthread_mutex_t lock;   /* guards last */
	char last[4096];        /* the last request body, NUL-terminated */
};

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
			atomic_fetch_add(&f->nreq, 1);
			if (atomic_load(&f->mode) == FAKE_REPLY) {
				zmq_msg_send(&parts[0], f->sock, ZMQ_SNDMORE);
				zmq_send(f->sock, "", 0, ZMQ_SNDMORE);
				zmq_send(f->sock, f->reply, f->replylen, 0);
			}
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

/* A call that must fail with want and leave *data NULL; returns msg. */
static const char *
call_fails(struct ca_client *ca, const char *task, enum ca_result want)
{
	static char msg[512];
	json_object *data = (json_object *)&data;       /* must be reset */
	enum ca_result r;

	memset(msg, 0, sizeof(msg));
	r = ca_call(ca, task, NULL, &data, msg, sizeof(msg));
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
	assert_int_equal(ca_call(ca, "revoke", params, &data, msg, sizeof(msg)), CA_OK);
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
	assert_int_equal(ca_call(ca, "list_profiles", NULL, &data, msg, sizeof(msg)), CA_OK);
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
	assert_int_equal(ca_call(ca, "sign", NULL, &data, msg, sizeof(msg)), CA_OK);
	assert_non_null(data);
	assert_string_equal(jsonx_get_string(data, "certificate"), "PEM");
	list = jsonx_get_array(data, "list");
	assert_non_null(list);
	assert_int_equal(json_object_array_length(list), 3);
	json_object_put(data);  /* a reference of our own: no leak, no double free */

	/* the same client, again and again */
	for (int i = 0; i < 5; i++) {
		data = NULL;
		assert_int_equal(ca_call(ca, "view", NULL, &data, msg, sizeof(msg)), CA_OK);
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
	msg = call_fails(ca, "get_ca", CA_ERR_PROTOCOL);
	assert_non_null(strstr(msg, "get_ca"));
	/* one request only: a bad answer is not a lost answer */
	assert_int_equal(atomic_load(&cur_fake->nreq), 1);
	/* and the client keeps working after it */
	call_fails(ca, "list_profiles", CA_ERR_PROTOCOL);
	assert_int_equal(atomic_load(&cur_fake->nreq), 2);
}

static void
test_reply_truncated_json(void **state)
{
	(void)state;
	call_fails(client_for_reply("{\"EVENT\":\"ANSWER\",\"DATA\":"), "get_ca",
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
	call_fails(cur_client, "get_ca", CA_ERR_PROTOCOL);
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
		call_fails(cur_client, "get_ca", CA_ERR_PROTOCOL);
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
	msg = call_fails(ca, "x", CA_ERR_UNSUPPORTED);
	assert_string_equal(msg, "[700] Unknown task: x");
	assert_int_equal(atomic_load(&cur_fake->nreq), 1);
}

static void
test_reply_refused(void **state)
{
	struct ca_client *ca;
	const char *msg;

	(void)state;
	ca = client_for_reply("{\"EVENT\":\"UPKI ERROR\",\"MSG\":\"[500] Profile not found: x\"}");
	msg = call_fails(ca, "get_profile", CA_ERR_REFUSED);
	assert_string_equal(msg, "[500] Profile not found: x");
	fake_test_teardown(NULL);

	/* an error without a MSG is still a refusal, with some message */
	ca = client_for_reply("{\"EVENT\":\"UPKI ERROR\"}");
	call_fails(ca, "sign", CA_ERR_REFUSED);
}

/* The convenience wrappers check what DATA holds. */
static void
test_wrappers_check_data(void **state)
{
	char *out = (char *)&out, msg[256] = "";

	(void)state;
	client_for_reply("{\"EVENT\":\"ANSWER\",\"DATA\":\"not a certificate\"}");
	assert_int_equal(ca_get_ca_pem(cur_client, &out, msg, sizeof(msg)), CA_ERR_PROTOCOL);
	assert_null(out);
	assert_true(strlen(msg) > 0);
	out = (char *)&out;
	assert_int_equal(ca_get_crl_pem(cur_client, "get_crl", &out, msg, sizeof(msg)),
	    CA_ERR_PROTOCOL);
	assert_null(out);
	fake_test_teardown(NULL);

	client_for_reply("{\"EVENT\":\"ANSWER\",\"DATA\":{\"pem\":\"x\"}}");
	out = (char *)&out;
	assert_int_equal(ca_get_ca_pem(cur_client, &out, msg, sizeof(msg)), CA_ERR_PROTOCOL);
	assert_null(out);
	fake_test_teardown(NULL);

	/* valid base64, but not of a DER CRL */
	client_for_reply("{\"EVENT\":\"ANSWER\",\"DATA\":\"Zm9vYmFy\"}");
	out = (char *)&out;
	assert_int_equal(ca_get_crl_pem(cur_client, "generate_crl", &out, msg, sizeof(msg)),
	    CA_ERR_PROTOCOL);
	assert_null(out);
	fake_test_teardown(NULL);

	/* the wrapper passes a CA error through */
	client_for_reply("{\"EVENT\":\"UPKI ERROR\",\"MSG\":\"[600] CA not ready\"}");
	out = (char *)&out;
	assert_int_equal(ca_get_ca_pem(cur_client, &out, msg, sizeof(msg)), CA_ERR_REFUSED);
	assert_null(out);
	assert_string_equal(msg, "[600] CA not ready");
}

/* A state-changing task is sent once; a lost answer is not retried. */
static void
test_silent_ca_no_retry_for_writes(void **state)
{
	static const char *const writes[] = { "revoke", "sign", "generate", "renew" };
	char msg[256];
	long long t0;

	(void)state;
	cur_fake = fake_start(FAKE_SILENT, "", 0);
	cur_client = ca_client_new("127.0.0.1", cur_fake->port, TIMEOUT_MS);
	assert_non_null(cur_client);
	for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
		int before = atomic_load(&cur_fake->nreq);

		t0 = tu_now_ms();
		snprintf(msg, sizeof(msg), "%s", call_fails(cur_client, writes[i],
		    CA_ERR_UNREACHABLE));
		if (elapsed_since(t0) < TIMEOUT_MS - 50)
			fail_msg("%s gave up after %.0f ms, before the timeout", writes[i],
			    elapsed_since(t0));
		tu_sleep_ms(100);       /* a retry would have arrived by now */
		if (atomic_load(&cur_fake->nreq) != before + 1)
			fail_msg("%s was sent %d times, must be once", writes[i],
			    atomic_load(&cur_fake->nreq) - before);
	}
}

/* A read-only task is retried once, on a fresh socket. */
static void
test_silent_ca_retries_reads_once(void **state)
{
	static const char *const reads[] = { "get_ca", "list_profiles", "view" };
	long long t0;

	(void)state;
	cur_fake = fake_start(FAKE_SILENT, "", 0);
	cur_client = ca_client_new("127.0.0.1", cur_fake->port, TIMEOUT_MS);
	assert_non_null(cur_client);
	for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
		int before = atomic_load(&cur_fake->nreq);

		t0 = tu_now_ms();
		call_fails(cur_client, reads[i], CA_ERR_UNREACHABLE);
		if (elapsed_since(t0) < 2 * TIMEOUT_MS - 50)
			fail_msg("%s gave up after %.0f ms, before two timeouts", reads[i],
			    elapsed_since(t0));
		tu_sleep_ms(100);
		if (atomic_load(&cur_fake->nreq) != before + 2)
			fail_msg("%s was sent %d times, must be twice", reads[i],
			    atomic_load(&cur_fake->nreq) - before);
	}
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
	call_fails(cur_client, "revoke", CA_ERR_UNREACHABLE);
	assert_int_equal(atomic_load(&cur_fake->nreq), 1);
	atomic_store(&cur_fake->mode, FAKE_REPLY);
	if (ca_call(cur_client, "sign", NULL, &data, msg, sizeof(msg)) != CA_OK)
		fail_msg("first call after a timeout: %s", msg);
	assert_string_equal(json_object_get_string(data), "ok");
	json_object_put(data);
	assert_int_equal(atomic_load(&cur_fake->nreq), 2);
	data = NULL;
	assert_int_equal(ca_call(cur_client, "get_ca", NULL, &data, msg, sizeof(msg)), CA_OK);
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
	r = ca_call(cur_client, "sign", NULL, &data, msg, sizeof(msg));
	assert_true(r == CA_ERR_UNREACHABLE || r == CA_ERR_PROTOCOL);
	assert_null(data);
	assert_true(strlen(msg) > 0);
}

static void
test_result_strings(void **state)
{
	const enum ca_result all[] = {
		CA_OK, CA_ERR_REFUSED, CA_ERR_UNSUPPORTED, CA_ERR_UNREACHABLE, CA_ERR_PROTOCOL,
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

static void
test_devca_get_ca(void **state)
{
	char *pem = NULL, msg[256] = "";
	X509 *crt;

	(void)state;
	if (ca_get_ca_pem(main_client(), &pem, msg, sizeof(msg)) != CA_OK)
		fail_msg("get_ca: %s", msg);
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
	json_object *data = NULL;
	char msg[256] = "";
	bool server = false;

	(void)state;
	if (ca_call(main_client(), "list_profiles", NULL, &data, msg, sizeof(msg)) != CA_OK)
		fail_msg("list_profiles: %s", msg);
	assert_non_null(data);
	assert_true(json_object_is_type(data, json_type_array));
	for (size_t i = 0; i < json_object_array_length(data); i++) {
		json_object *v = json_object_array_get_idx(data, i);

		assert_true(json_object_is_type(v, json_type_string));
		if (strcmp(json_object_get_string(v), "server") == 0)
			server = true;
	}
	assert_true(server);
	json_object_put(data);
}

static void
test_devca_get_profile(void **state)
{
	json_object *params, *data = NULL;
	char msg[256] = "";

	(void)state;
	params = json_object_new_object();
	json_object_object_add(params, "profile", json_object_new_string("server"));
	if (ca_call(main_client(), "get_profile", params, &data, msg, sizeof(msg)) != CA_OK)
		fail_msg("get_profile server: %s", msg);
	json_object_put(params);
	assert_true(json_object_is_type(data, json_type_object));
	assert_true(json_object_object_length(data) > 0);
	json_object_put(data);
}

static void
test_devca_unknown_profile(void **state)
{
	json_object *params, *data = (json_object *)&data;
	char msg[256] = "";

	(void)state;
	params = json_object_new_object();
	json_object_object_add(params, "profile",
	    json_object_new_string("no-such-profile-here"));
	assert_int_equal(ca_call(main_client(), "get_profile", params, &data, msg,
	    sizeof(msg)), CA_ERR_REFUSED);
	json_object_put(params);
	assert_null(data);
	/* the CA's own MSG: "[code] text" naming the profile */
	assert_int_equal(msg[0], '[');
	assert_non_null(strstr(msg, "no-such-profile-here"));
}

static void
test_devca_unknown_task(void **state)
{
	const char *msg;

	(void)state;
	msg = call_fails(main_client(), "acme_sync_account", CA_ERR_UNSUPPORTED);
	assert_non_null(strstr(msg, "Unknown task"));
	/* the client goes on working after it */
	msg = call_fails(cur_client, "no_such_task", CA_ERR_UNSUPPORTED);
	assert_non_null(strstr(msg, "no_such_task"));
}

static void
test_devca_crl(void **state)
{
	static const char *const tasks[] = { "get_crl", "generate_crl" };
	char *ca_pem = NULL, msg[256] = "";
	X509 *ca_crt;

	(void)state;
	if (ca_get_ca_pem(main_client(), &ca_pem, msg, sizeof(msg)) != CA_OK)
		fail_msg("get_ca: %s", msg);
	ca_crt = cert_from_pem(ca_pem);
	free(ca_pem);
	assert_non_null(ca_crt);
	for (size_t i = 0; i < sizeof(tasks) / sizeof(tasks[0]); i++) {
		char *pem = NULL;
		BIO *bio;
		X509_CRL *crl;

		if (ca_get_crl_pem(cur_client, tasks[i], &pem, msg, sizeof(msg)) != CA_OK)
			fail_msg("%s: %s", tasks[i], msg);
		assert_non_null(pem);
		assert_true(strncmp(pem, "-----BEGIN X509 CRL-----", 24) == 0);
		/* a CRL of this CA, signed by it */
		bio = BIO_new_mem_buf(pem, -1);
		assert_non_null(bio);
		crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
		BIO_free(bio);
		free(pem);
		assert_non_null(crl);
		assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(crl),
		    X509_get_subject_name(ca_crt)), 0);
		assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(ca_crt)), 1);
		X509_CRL_free(crl);
	}
	X509_free(ca_crt);
}

/* A CSR for cn with a fresh P-256 key, as PEM (free() it). */
static char *
make_csr(const char *cn)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *pem;
	long len;

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
	len = BIO_get_mem_data(bio, &data);
	pem = strndup(data, (size_t)len);
	assert_non_null(pem);
	BIO_free(bio);
	X509_NAME_free(name);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return pem;
}

/* A write task end to end: sign a CSR, then revoke what was issued. */
static void
test_devca_sign_and_revoke(void **state)
{
	json_object *params, *data = NULL;
	char *csr, *ca_pem = NULL, msg[512] = "", cn[128];
	const char *crt_pem;
	X509 *crt;

	(void)state;
	if (ca_get_ca_pem(main_client(), &ca_pem, msg, sizeof(msg)) != CA_OK)
		fail_msg("get_ca: %s", msg);
	csr = make_csr("unit-sign.example.test");
	params = json_object_new_object();
	json_object_object_add(params, "csr", json_object_new_string(csr));
	json_object_object_add(params, "profile", json_object_new_string("server"));
	free(csr);
	if (ca_call(cur_client, "sign", params, &data, msg, sizeof(msg)) != CA_OK) {
		json_object_put(params);
		free(ca_pem);
		fail_msg("sign: %s", msg);
	}
	json_object_put(params);
	crt_pem = jsonx_get_string(data, "certificate");
	assert_non_null(crt_pem);
	assert_true(cert_issued_by(crt_pem, ca_pem));
	crt = cert_from_pem(crt_pem);
	assert_non_null(crt);
	assert_int_equal(cert_common_name(crt, cn, sizeof(cn)), 0);
	assert_string_equal(cn, "unit-sign.example.test");
	X509_free(crt);
	json_object_put(data);
	free(ca_pem);

	params = json_object_new_object();
	json_object_object_add(params, "dn", json_object_new_string("unit-sign.example.test"));
	json_object_object_add(params, "reason", json_object_new_string("superseded"));
	data = NULL;
	if (ca_call(cur_client, "revoke", params, &data, msg, sizeof(msg)) != CA_OK) {
		json_object_put(params);
		fail_msg("revoke: %s", msg);
	}
	json_object_put(params);
	json_object_put(data);
}

/* The registration port speaks the same protocol. */
static void
test_devca_registration_status(void **state)
{
	json_object *params, *data = NULL;
	char msg[256] = "";

	(void)state;
	assert_true(devca_main.pid > 0);
	cur_client = ca_client_new("127.0.0.1", devca_main.port + 1, 5000);
	assert_non_null(cur_client);
	params = json_object_new_object();
	json_object_object_add(params, "cn", json_object_new_string("never-registered"));
	if (ca_call(cur_client, "status", params, &data, msg, sizeof(msg)) != CA_OK) {
		json_object_put(params);
		fail_msg("status: %s", msg);
	}
	json_object_put(params);
	assert_string_equal(jsonx_get_string(data, "status"), "not_registered");
	json_object_put(data);
}

/* A CA slower than the client's timeout: the client gives up at its
 * timeout, not when the CA finally answers. */
static void
test_devca_slow_ca_times_out(void **state)
{
	static const char *const slow[] = { "--slow-ms", "1500", NULL };
	json_object *params;
	char msg[256] = "";
	json_object *data = (json_object *)&data;
	long long t0;
	int port;

	(void)state;
	port = tu_free_port_pair();
	assert_true(port > 0);
	assert_int_equal(tu_devca_start(&devca_extra, tmpdir, "ca-slow", port, slow), 0);
	cur_client = ca_client_new("127.0.0.1", port, TIMEOUT_MS);
	assert_non_null(cur_client);
	params = json_object_new_object();
	json_object_object_add(params, "dn", json_object_new_string("nobody.example.test"));
	json_object_object_add(params, "reason", json_object_new_string("superseded"));
	t0 = tu_now_ms();
	assert_int_equal(ca_call(cur_client, "revoke", params, &data, msg, sizeof(msg)),
	    CA_ERR_UNREACHABLE);
	json_object_put(params);
	assert_null(data);
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
	call_fails(cur_client, "revoke", CA_ERR_UNREACHABLE);

	assert_int_equal(tu_devca_start(&devca_extra, tmpdir, "ca-late", port, NULL), 0);
	/* sent once, and answered: the CA knows no such task */
	call_fails(cur_client, "no_such_task", CA_ERR_UNSUPPORTED);
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
		FT(test_wrappers_check_data),
		FT(test_silent_ca_no_retry_for_writes),
		FT(test_silent_ca_retries_reads_once),
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
		DT(test_devca_sign_and_revoke),
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
