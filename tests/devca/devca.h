/*
 * upki-devca: the development CA.  It speaks the uPKI CA protocol
 * (docs/CA-PROTOCOL.md) on two ZeroMQ REP sockets, so that the tests and
 * `make run` need no reference CA, and it copies the reference CA's quirks
 * that the RA has to cope with.  Never for production: its key lies
 * unencrypted in its directory.
 */
#ifndef DEVCA_H
#define DEVCA_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define DEVCA_MAX_MSG      (1024 * 1024)  /* one request frame */
#define DEVCA_MAX_NAME     256     /* a DNS name (253) or an IP literal, with NUL */
#define DEVCA_MAX_CN       64      /* ub-common-name of RFC 5280 */
#define DEVCA_MAX_DN       1024    /* an admin DN */
#define DEVCA_MAX_SANS     100
#define DEVCA_MAX_RESERVED 32
#define DEVCA_SERIAL_LEN   64      /* 160 bits in hex (40) or decimal (49), with NUL */
#define DEVCA_MAX_DAYS     3650

struct devca_opts {
	const char *dir;
	const char *host;
	int port;               /* 0: any free port, shown on the ready line */
	int reg_port;
	const char *seed;
	bool refuse_cnless;
	int slow_ms;
	int ra_seconds;         /* > 0: the `ra` profile's certificates last this long */
	const char *reserved[DEVCA_MAX_RESERVED];
	size_t nreserved;
};

/* codec.c: encoding and reading of certificates, keys and CSRs. */
char *codec_cert_pem(X509 *x);
char *codec_key_pem(EVP_PKEY *key);
X509 *codec_cert(const char *pem);
int codec_serial(const X509 *x, bool hex, char *buf, size_t len);
time_t codec_time(const ASN1_TIME *t);
int codec_cn(const X509_NAME *name, char *buf, size_t len);
void codec_dn(const X509_NAME *name, char *buf, size_t len);

/* profiles.c: the certificate profiles the CA offers. */
struct profile {
	const char *name;
	const char *key_type;   /* "ec" or "rsa": for keys the CA makes itself */
	int key_len;
	int days;
	const char *key_usage;  /* comma-separated, as OpenSSL and the JSON list want */
	const char *eku;        /* idem; empty for none */
	const char *cert_type;
	bool ca;
};

const struct profile *profiles_find(const char *name);
json_object *profiles_names(void);
json_object *profiles_describe(const struct profile *p);

/* names.c: the names a certificate is for (SANs) and the reserved ones. */
GENERAL_NAMES *names_from_json(json_object *list, char *err, size_t errlen);
GENERAL_NAMES *names_from_req(X509_REQ *req, char *err, size_t errlen);
GENERAL_NAMES *names_from_cert(const X509 *x);
int names_text(const GENERAL_NAME *gn, char *buf, size_t len);
const char *names_reserved(const struct devca_opts *opts, const char *cn,
    const GENERAL_NAMES *sans);

/* issue.c: key and certificate making. */
struct issue_req {
	const X509_NAME *subject;
	EVP_PKEY *pubkey;               /* the key being certified, or NULL and: */
	const X509_PUBKEY *spki;        /* that key as a CSR or certificate carries it */
	const GENERAL_NAMES *sans;      /* NULL or empty: no SAN extension */
	const struct profile *profile;
	int days;
	long seconds;                   /* added to days */
};

EVP_PKEY *issue_key(const struct profile *p);
X509_NAME *issue_subject(const char *cn);
/* issuer NULL: self-signed. */
X509 *issue_cert(X509 *issuer, EVP_PKEY *sign_key, const struct issue_req *req);
X509 *issue_self_signed(EVP_PKEY *key);

/* authority.c: the CA's own key and certificate, made on first start. */
struct authority {
	EVP_PKEY *key;
	X509 *cert;
	char *cert_pem;
};

int authority_open(struct authority *ca, const char *dir);
void authority_close(struct authority *ca);

/* registry.c: the SQLite index of everything issued. */
struct registry;

struct reg_cert {
	char serial[DEVCA_SERIAL_LEN];  /* hex, as codec_serial() spells it */
	char cn[DEVCA_MAX_NAME];        /* the name it is filed under */
	char profile[32];
	time_t not_before;
	time_t not_after;
	time_t revoked_at;              /* 0 while not revoked */
	char reason[32];
	char *pem;
};

typedef int (*registry_revoked_fn)(void *arg, const char *serial, time_t at);
typedef int (*registry_admin_fn)(void *arg, const char *dn);

struct registry *registry_open(const char *path);
void registry_close(struct registry *reg);
void registry_cert_free(struct reg_cert *c);
int registry_add(struct registry *reg, const struct reg_cert *c);
int registry_current(struct registry *reg, const char *cn, struct reg_cert *out);
int registry_by_serial(struct registry *reg, const char *serial, struct reg_cert *out);
int registry_revoke(struct registry *reg, const char *serial, time_t at, const char *reason);
int registry_unrevoke(struct registry *reg, const char *serial);
int registry_revoked(struct registry *reg, registry_revoked_fn fn, void *arg);
int registry_crl_load(struct registry *reg, unsigned char **der, size_t *len, long *number);
int registry_crl_store(struct registry *reg, long number, const unsigned char *der,
    size_t len);
int registry_admin_add(struct registry *reg, const char *dn);
int registry_admin_remove(struct registry *reg, const char *dn);
int registry_admins(struct registry *reg, registry_admin_fn fn, void *arg);
int registry_enrol(struct registry *reg, const char *cn, const char *serial, time_t at);
int registry_enrolment(struct registry *reg, const char *cn, char *serial, size_t len,
    time_t *at);

/* The state every task works on. */
struct devca {
	const struct devca_opts *opts;
	struct authority ca;
	struct registry *reg;
};

/* crl.c: the certificate revocation list. */
unsigned char *crl_current(struct devca *dc, size_t *len);
unsigned char *crl_refresh(struct devca *dc, size_t *len);

/* tasks.c: one request in, one reply out. */
struct task_ctx {
	struct devca *dc;
	json_object *params;            /* borrowed; always an object */
	json_object *data;              /* the answer, on success */
	char task[64];                  /* for tasks.log, as sent (cut short) */
	bool ok;
	char error[512];                /* "[code] text", on failure */
	char cn[DEVCA_MAX_NAME];        /* for tasks.log, when the task names one */
	char serial[DEVCA_SERIAL_LEN];
};

typedef int (*task_fn)(struct task_ctx *t);

char *tasks_handle(struct devca *dc, bool registration, const char *msg, size_t len,
    struct task_ctx *t);
int task_fail(struct task_ctx *t, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int task_require(struct task_ctx *t, const char *key, const char **out);
int task_profile(struct task_ctx *t, const char *def, const struct profile **out);
int task_node(struct task_ctx *t, struct reg_cert *out);
void task_iso8601(time_t when, char *buf, size_t len);

/* task_issue.c */
int task_sign(struct task_ctx *t);
int task_generate(struct task_ctx *t);
int task_register(struct task_ctx *t);
int task_renew(struct task_ctx *t);

/* task_state.c */
int task_revoke(struct task_ctx *t);
int task_unrevoke(struct task_ctx *t);
int task_delete(struct task_ctx *t);
int task_view(struct task_ctx *t);
int task_ocsp_check(struct task_ctx *t);
int task_status(struct task_ctx *t);
int task_get_crl(struct task_ctx *t);
int task_generate_crl(struct task_ctx *t);

/* task_info.c */
int task_get_ca(struct task_ctx *t);
int task_list_profiles(struct task_ctx *t);
int task_get_profile(struct task_ctx *t);
int task_list_admins(struct task_ctx *t);
int task_add_admin(struct task_ctx *t);
int task_remove_admin(struct task_ctx *t);

/* server.c: the sockets and the loop. */
int server_run(struct devca *dc);

#endif
