#include "certcheck.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "mono.h"

#define CERTCHECK_SLOTS 64
/* nginx's ssl_verify_depth (nginx/upki-ra.conf.in). */
#define CERTCHECK_DEPTH 2

struct certcheck_file {
	char *path;
	bool present;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct certcheck_slot {
	unsigned char md[EVP_MAX_MD_SIZE];
	int64_t until_ms;               /* 0: empty */
};

struct certcheck {
	struct certcheck_file ca, crl;
	X509_STORE *store;              /* NULL: ca.crt cannot be read */
	struct certcheck_slot slot[CERTCHECK_SLOTS];
	unsigned next;
};

/* True when the file is not what it was when last seen. */
static bool
certcheck_changed(struct certcheck_file *f)
{
	struct stat st;
	bool present = stat(f->path, &st) == 0;
	bool changed = present != f->present || (present && (st.st_ino != f->ino ||
	    st.st_size != f->size || st.st_mtim.tv_sec != f->mtime.tv_sec ||
	    st.st_mtim.tv_nsec != f->mtime.tv_nsec));

	f->present = present;
	if (present) {
		f->ino = st.st_ino;
		f->size = st.st_size;
		f->mtime = st.st_mtim;
	}
	return changed;
}

static void
certcheck_forget(struct certcheck *cc)
{
	memset(cc->slot, 0, sizeof(cc->slot));
	X509_STORE_free(cc->store);
	cc->store = NULL;
}

static void
certcheck_load(struct certcheck *cc)
{
	X509_STORE *st = X509_STORE_new();

	certcheck_forget(cc);
	if (st == NULL || !cc->ca.present || X509_STORE_load_file(st, cc->ca.path) != 1) {
		X509_STORE_free(st);
		return;
	}
	/* A CRL that does not load is as good as none: the store's own
	 * records still stop what the RA revoked. */
	if (cc->crl.present && X509_STORE_load_file(st, cc->crl.path) == 1)
		X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
	X509_STORE_set_purpose(st, X509_PURPOSE_SSL_CLIENT);
	X509_STORE_set_depth(st, CERTCHECK_DEPTH);
	cc->store = st;
}

/* Two stat calls a request: a new crl.pem counts from the next request,
 * with no window in which a cached answer outlives it. */
static void
certcheck_refresh(struct certcheck *cc)
{
	bool ca = certcheck_changed(&cc->ca), crl = certcheck_changed(&cc->crl);

	if (ca || crl || cc->store == NULL)
		certcheck_load(cc);
}

struct certcheck *
certcheck_new(const char *ca_path, const char *crl_path)
{
	struct certcheck *cc = calloc(1, sizeof(*cc));

	if (cc == NULL)
		return NULL;
	if ((cc->ca.path = strdup(ca_path)) == NULL || (cc->crl.path = strdup(crl_path)) == NULL) {
		certcheck_free(cc);
		return NULL;
	}
	return cc;
}

void
certcheck_free(struct certcheck *cc)
{
	if (cc == NULL)
		return;
	certcheck_forget(cc);
	free(cc->ca.path);
	free(cc->crl.path);
	free(cc);
}

static bool
certcheck_cached(const struct certcheck *cc, const unsigned char *md, int64_t now)
{
	for (int i = 0; i < CERTCHECK_SLOTS; i++)
		if (cc->slot[i].until_ms > now &&
		    memcmp(cc->slot[i].md, md, SHA256_DIGEST_LENGTH) == 0)
			return true;
	return false;
}

static void
certcheck_remember(struct certcheck *cc, const unsigned char *md, int64_t now)
{
	struct certcheck_slot *s = &cc->slot[cc->next++ % CERTCHECK_SLOTS];

	memcpy(s->md, md, SHA256_DIGEST_LENGTH);
	s->until_ms = now + CERTCHECK_CACHE_S * 1000;
}

/* The extended key usage must be there and name clientAuth: the purpose
 * check alone lets a certificate without the extension through. */
static bool
certcheck_client_eku(X509 *crt)
{
	return (X509_get_extension_flags(crt) & EXFLAG_XKUSAGE) != 0 &&
	    (X509_get_extended_key_usage(crt) & XKU_SSL_CLIENT) != 0;
}

static int
certcheck_chain(struct certcheck *cc, X509 *crt, const char **why)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc = -1;

	if (ctx == NULL || X509_STORE_CTX_init(ctx, cc->store, crt, NULL) != 1) {
		*why = "out of memory";
		goto done;
	}
	if (X509_verify_cert(ctx) != 1) {
		*why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
		goto done;
	}
	rc = 0;
done:
	X509_STORE_CTX_free(ctx);
	return rc;
}

int
certcheck_verify(struct certcheck *cc, X509 *crt, const char **why)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int64_t now = mono_ms();

	certcheck_refresh(cc);
	if (cc->store == NULL) {
		*why = "the CA certificate cannot be read";
		return -1;
	}
	if (!certcheck_client_eku(crt)) {
		*why = "not a certificate for client authentication";
		return -1;
	}
	if (X509_digest(crt, EVP_sha256(), md, &mdlen) != 1 || mdlen != SHA256_DIGEST_LENGTH) {
		*why = "cannot digest the certificate";
		return -1;
	}
	/* A cached answer still needs the dates: it may expire meanwhile. */
	if (certcheck_cached(cc, md, now)) {
		if (X509_cmp_current_time(X509_get0_notAfter(crt)) > 0)
			return 0;
		*why = "certificate has expired";
		return -1;
	}
	if (certcheck_chain(cc, crt, why) != 0)
		return -1;
	certcheck_remember(cc, md, now);
	return 0;
}
