#include "harness.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <sqlite3.h>

#include "cert.h"
#include "config.h"
#include "dn.h"
#include "fixtures.h"
#include "fsutil.h"
#include "jsonx.h"
#include "jws_sign.h"
#include "log.h"
#include "nonce.h"
#include "router.h"
#include "store.h"
#include "store_admin.h"
#include "store_authz.h"

static struct config fuzz_cfg;
static struct ra_ctx fuzz_the_ctx;
static char fuzz_dir[PATH_MAX];
static int fuzz_ready;

void
fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "==FUZZ INVARIANT== ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

char *
fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		fuzz_fail("out of memory");
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

static int
fuzz_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

static void
fuzz_cleanup(void)
{
	if (!fuzz_ready)
		return;
	store_close(fuzz_the_ctx.store);
	ca_client_free(fuzz_the_ctx.ca);
	cert_file_free(&fuzz_the_ctx.ca_crt);
	certcheck_free(fuzz_the_ctx.clients);
	fuzz_the_ctx.clients = NULL;
	fuzz_the_ctx.store = NULL;
	fuzz_the_ctx.ca = NULL;
	if (fuzz_dir[0] != '\0')
		nftw(fuzz_dir, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	fuzz_ready = 0;
}

/* A loopback port nothing listens on: bound, read, and closed again. */
static int
fuzz_closed_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/*
 * SQLite's page cache in a static buffer.  Otherwise the cache mallocs a
 * page each time the store grows, every input then ends with more mallocs
 * than frees, and libFuzzer runs a whole-heap leak check after each one
 * (until it gives up leak detection altogether after a thousand).
 */
static void
fuzz_sqlite_pagecache(void)
{
	enum { PAGES = 2048, PAGE = 4096 };
	static unsigned char *cache;
	int hdr = 0;

	if (sqlite3_config(SQLITE_CONFIG_PCACHE_HDRSZ, &hdr) != SQLITE_OK)
		return;
	if ((cache = malloc((size_t)PAGES * (size_t)(PAGE + hdr))) == NULL ||
	    sqlite3_config(SQLITE_CONFIG_PAGECACHE, cache, PAGE + hdr, PAGES) != SQLITE_OK)
		fuzz_fail("cannot give SQLite its page cache");
}

static void
fuzz_set(const char *flag, const char *value)
{
	char err[256];

	if (config_set(&fuzz_cfg, flag, value, err, sizeof(err)) != 0)
		fuzz_fail("config --%s: %s", flag, err);
}

static void
fuzz_write(const char *name, const char *text)
{
	char path[PATH_MAX];

	if (config_path(&fuzz_cfg, name, path, sizeof(path)) != 0 ||
	    fs_write_atomic(path, text, strlen(text), 0644) != 0)
		fuzz_fail("cannot write %s in %s", name, fuzz_dir);
}

struct ra_ctx *
fuzz_ctx(void)
{
	const char *tmp = getenv("TMPDIR"), *level = getenv("FUZZ_LOG_LEVEL");
	char path[PATH_MAX], err[256], port[16];
	int p;

	if (fuzz_ready)
		return &fuzz_the_ctx;
	log_init("fuzz", level != NULL && log_level_parse(level) >= 0 ?
	    (enum log_level)log_level_parse(level) : LOG_LEVEL_ERROR);
	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	fuzz_sqlite_pagecache();
	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/upki-fuzz-XXXXXX", tmp);
	if (mkdtemp(fuzz_dir) == NULL)
		fuzz_fail("mkdtemp %s: %s", fuzz_dir, strerror(errno));
	if (config_load(&fuzz_cfg, err, sizeof(err)) != 0)
		fuzz_fail("config: %s", err);
	if ((p = fuzz_closed_port()) < 0)
		fuzz_fail("no free loopback port");
	snprintf(port, sizeof(port), "%d", p);
	/* Whatever the environment says, these are the harness's. */
	fuzz_set("data-dir", fuzz_dir);
	fuzz_set("ca-host", "127.0.0.1");
	fuzz_set("ca-port", port);
	fuzz_set("base-url", "");
	fuzz_set("tos-url", "");
	fuzz_set("allowed-names", "");
	fuzz_set("acme-profile", "server");
	fuzz_set("acme-profiles", "server,webapp");
	fuzz_set("admin-cache", "3600");
	fuzz_set("eab-required", "false");
	/* The harness's one account makes thousands of orders an hour. */
	fuzz_set("rate-orders", "0");
	fuzz_set("rate-pending-authz", "0");
	fuzz_set("rate-inflight", "0");
	fuzz_set("rate-failed", "0");
	fuzz_set("rate-accounts", "0");
	/* The fixed order's address is a documentation one. */
	fuzz_set("validation-allow", "192.0.2.0/24");
	fuzz_set("nginx-pid", "");
	fuzz_write("ca.crt", FUZZ_CA_CRT);
	fuzz_write("crl.pem", FUZZ_CRL_PEM);

	fuzz_the_ctx.cfg = &fuzz_cfg;
	snprintf(path, sizeof(path), "%s/acme.db", fuzz_dir);
	if (store_open(path, &fuzz_the_ctx.store, err, sizeof(err)) != 0)
		fuzz_fail("store: %s", err);
	/* A closed port and a 1 ms timeout: every CA call fails at once, as
	 * with a CA that is down, and never waits long. */
	if ((fuzz_the_ctx.ca = ca_client_new("127.0.0.1", p, 1)) == NULL)
		fuzz_fail("ca_client_new");
	if (nonce_init() != 0)
		fuzz_fail("nonce_init");
	if (store_admin_add(fuzz_the_ctx.store, FUZZ_ADMIN_DN, time(NULL)) < 0)
		fuzz_fail("store_admin_add");
	fuzz_ready = 1;
	atexit(fuzz_cleanup);
	return &fuzz_the_ctx;
}

void
fuzz_dispatch(const char *method, const char *path, const char *content_type,
    const char *body, size_t body_len, struct http_response *resp)
{
	struct http_request req = {
		.method = method,
		.path = path,
		.query = "",
		.host = FUZZ_HOST,
		.https = true,
		.content_type = content_type,
		.body = body != NULL ? body : "",
		.body_len = body_len,
	};

	http_response_init(resp);
	router_dispatch(fuzz_ctx(), &req, resp);
}

int
fuzz_signed_post(EVP_PKEY *key, const char *kid, const char *path, const char *payload,
    struct http_response *resp)
{
	char nonce[NONCE_LEN + 1], url[ACME_URL_MAX];
	char *body;

	fuzz_ctx();
	if (nonce_make(nonce, time(NULL)) != 0)
		fuzz_fail("nonce_make");
	snprintf(url, sizeof(url), "%s%s", FUZZ_BASE, path);
	if ((body = jws_sign(key, url, nonce, kid, payload)) == NULL)
		return -1;
	fuzz_dispatch("POST", path, "application/jose+json", body, strlen(body), resp);
	free(body);
	return 0;
}

const char *
fuzz_header(const struct http_response *resp, const char *name)
{
	for (int i = 0; i < resp->nheaders; i++)
		if (strcasecmp(resp->headers[i].name, name) == 0)
			return resp->headers[i].value;
	return NULL;
}

void
fuzz_check_response(const struct http_response *resp)
{
	static int strict = -1;
	const char *ct = resp->content_type, *body = resp->body.data != NULL ? resp->body.data : "";
	struct json_tokener *tok;
	json_object *o;
	char why[128];

	if (strcmp(http_status_text(resp->status), "Unknown") == 0)
		fuzz_fail("status %d has no reason phrase", resp->status);
	if (ct == NULL || (strcmp(ct, "application/json") != 0 &&
	    strcmp(ct, "application/problem+json") != 0))
		return;
	if (strict < 0)
		strict = getenv("FUZZ_STRICT_UTF8") != NULL;
	if (strict) {
		if ((o = jsonx_parse(body, resp->body.len, HTTP_RESPONSE_MAX, why,
		    sizeof(why))) == NULL)
			fuzz_fail("%d %s answer is not UTF-8 JSON (%s): %.*s", resp->status, ct,
			    why, (int)resp->body.len, body);
		json_object_put(o);
		return;
	}
	/* As jsonx_parse, less the UTF-8 check. */
	if ((tok = json_tokener_new_ex(JSONX_MAX_DEPTH + 8)) == NULL)
		fuzz_fail("out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, body, (int)resp->body.len);
	if (o == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != resp->body.len)
		fuzz_fail("%d %s answer is not JSON: %.*s", resp->status, ct,
		    (int)resp->body.len, body);
	json_object_put(o);
	json_tokener_free(tok);
}

static void
fuzz_dn_fixed_point(const char *canon, const char *from)
{
	char again[DN_MAX];

	if (dn_canonical(canon, again, sizeof(again)) != 0)
		fuzz_fail("canonical DN '%s' (from %s) does not parse", canon, from);
	if (strcmp(canon, again) != 0)
		fuzz_fail("canonical DN '%s' (from %s) canonicalises to '%s'", canon, from, again);
}

void
fuzz_check_dn(X509 *crt)
{
	static int lax = -1;
	char from_cert[DN_MAX], from_text[DN_MAX], *text = NULL;
	BIO *bio;
	long n;

	if (dn_from_cert(crt, from_cert, sizeof(from_cert)) != 0)
		return;
	fuzz_dn_fixed_point(from_cert, "a certificate");
	if (lax < 0)
		lax = getenv("FUZZ_LAX_DN") != NULL;
	if (lax || (bio = BIO_new(BIO_s_mem())) == NULL)
		return;
	if (X509_NAME_print_ex(bio, X509_get_subject_name(crt), 0, XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_get_mem_data(bio, &text)) >= 0 && text != NULL &&
	    (text = strndup(text, (size_t)n)) != NULL &&
	    dn_canonical(text, from_text, sizeof(from_text)) == 0 &&
	    strcmp(from_cert, from_text) != 0)
		fuzz_fail("one subject, two DNs: '%s' from the certificate, '%s' from "
		    "nginx's '%s'", from_cert, from_text, text);
	free(text);
	BIO_free(bio);
}

static EVP_PKEY *
fuzz_key(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;

	BIO_free(bio);
	if (key == NULL)
		fuzz_fail("cannot read a fixture key");
	return key;
}

/* The last path segment of a Location URL under FUZZ_BASE + prefix. */
static void
fuzz_location_id(const struct http_response *resp, const char *prefix, char *out,
    size_t outlen)
{
	const char *loc = fuzz_header(resp, "Location");
	size_t n = strlen(FUZZ_BASE) + strlen(prefix);

	if (loc == NULL || strncmp(loc, FUZZ_BASE, strlen(FUZZ_BASE)) != 0 ||
	    strncmp(loc + strlen(FUZZ_BASE), prefix, strlen(prefix)) != 0 ||
	    strlen(loc + n) == 0 || strlen(loc + n) >= outlen)
		fuzz_fail("set-up: unexpected Location %s (status %d: %.*s)",
		    loc != NULL ? loc : "(none)", resp->status, (int)resp->body.len,
		    resp->body.data != NULL ? resp->body.data : "");
	snprintf(out, outlen, "%s", loc + n);
}

/* Every authorization of the order valid, as a validator would leave
 * them: the order becomes "ready". */
static void
fuzz_order_ready(struct fuzz_acme *a)
{
	struct store *st = fuzz_ctx()->store;
	char ids[8][STORE_ID_MAX];
	struct store_challenge_lease w;
	struct store_order o;
	time_t now = time(NULL);
	int n = 0;

	if (store_order_authz_ids(st, a->order_id, ids, 8, &n) != 0 || n == 0)
		fuzz_fail("set-up: the order has no authorizations");
	for (int i = 0; i < n; i++)
		if (store_challenge_start(st, ids[i], "http-01") != 0)
			fuzz_fail("set-up: cannot start http-01 of %s", ids[i]);
	while (store_challenge_claim(st, now, 60, 64, &w) == 0)
		if (store_challenge_finish(st, w.challenge_id, NULL, now) != 0)
			fuzz_fail("set-up: cannot finish challenge %lld",
			    (long long)w.challenge_id);
	if (store_order_get(st, a->order_id, now, &o) != 0)
		fuzz_fail("set-up: the order is gone");
	if (strcmp(o.status, "ready") != 0)
		fuzz_fail("set-up: the order is %s, not ready", o.status);
	store_order_free(&o);
}

/* The fixture certificate, recorded as issued to the account. */
static void
fuzz_add_cert(struct fuzz_acme *a)
{
	struct store_cert c = { .account_id = a->account_id };
	X509 *crt = cert_from_pem(FUZZ_LEAF_CRT);

	if (crt == NULL || cert_serial_hex(crt, c.serial, sizeof(c.serial)) != 0 ||
	    cert_common_name(crt, c.cn, sizeof(c.cn)) != 0 ||
	    cert_subject_oneline(crt, c.dn, sizeof(c.dn)) != 0 ||
	    (c.pem = strdup(FUZZ_LEAF_CRT)) == NULL)
		fuzz_fail("set-up: cannot read the fixture certificate");
	snprintf(c.profile, sizeof(c.profile), "server");
	snprintf(c.source, sizeof(c.source), "acme");
	store_cert_owner_account(a->account_id, c.owner);
	c.not_before = cert_not_before(crt);
	c.not_after = cert_not_after(crt);
	if (store_cert_add(fuzz_ctx()->store, &c) != 0)
		fuzz_fail("set-up: cannot record the fixture certificate");
	snprintf(a->cert_serial, sizeof(a->cert_serial), "%s", c.serial);
	store_cert_free(&c);
	X509_free(crt);
}

const struct fuzz_acme *
fuzz_acme(void)
{
	static struct fuzz_acme a;
	static int made;
	struct http_response resp;
	struct store_account acc;
	char id[STORE_ID_MAX];

	if (made)
		return &a;
	fuzz_ctx();
	a.account_key = fuzz_key(FUZZ_ACCOUNT_KEY);
	a.leaf_key = fuzz_key(FUZZ_LEAF_KEY);

	if (fuzz_signed_post(a.account_key, NULL, "/acme/new-account",
	    "{\"termsOfServiceAgreed\":true,\"contact\":[\"mailto:fuzz@example.com\"]}",
	    &resp) != 0 || resp.status != 201)
		fuzz_fail("set-up: new-account answered %d", resp.status);
	fuzz_location_id(&resp, "/acme/account/", id, sizeof(id));
	http_response_free(&resp);
	snprintf(a.kid, sizeof(a.kid), "%s/acme/account/%s", FUZZ_BASE, id);
	snprintf(a.account_path, sizeof(a.account_path), "/acme/account/%s", id);
	if (store_account_by_kid(fuzz_ctx()->store, id, &acc) != 0)
		fuzz_fail("set-up: the new account is not in the store");
	a.account_id = acc.id;
	snprintf(a.thumbprint, sizeof(a.thumbprint), "%s", acc.thumbprint);
	store_account_free(&acc);

	if (fuzz_signed_post(a.account_key, a.kid, "/acme/new-order",
	    "{\"identifiers\":" FUZZ_ORDER_IDENTIFIERS "}", &resp) != 0 || resp.status != 201)
		fuzz_fail("set-up: new-order answered %d: %.*s", resp.status,
		    (int)resp.body.len, resp.body.data);
	fuzz_location_id(&resp, "/acme/order/", a.order_id, sizeof(a.order_id));
	http_response_free(&resp);
	snprintf(a.order_path, sizeof(a.order_path), "/acme/order/%s", a.order_id);
	snprintf(a.finalize_path, sizeof(a.finalize_path), "/acme/order/%s/finalize",
	    a.order_id);
	fuzz_order_ready(&a);
	fuzz_add_cert(&a);
	made = 1;
	return &a;
}
