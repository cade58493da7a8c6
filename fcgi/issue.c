#include "issue.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "cert.h"
#include "jsonx.h"
#include "log.h"

/* The CA's certificate, from ca.crt, parsed again only when the file changes. */
static const struct cert_file *
issue_ca(struct ra_ctx *ctx)
{
	char path[PATH_MAX];

	if (config_path(ctx->cfg, "ca.crt", path, sizeof(path)) != 0 ||
	    cert_file_load(&ctx->ca_crt, path) != 0)
		return NULL;
	return &ctx->ca_crt;
}

int
issue_check(struct ra_ctx *ctx, const char *pem, const X509_PUBKEY *spki, X509 **crt,
    char *why, size_t whylen)
{
	const struct cert_file *ca;

	if ((*crt = cert_from_pem_bare(pem)) == NULL) {
		snprintf(why, whylen, "the CA's answer is not a certificate");
		return -1;
	}
	if ((ca = issue_ca(ctx)) == NULL || !cert_signed_by(*crt, ca->crt)) {
		snprintf(why, whylen, "the certificate is not signed by the CA");
		goto bad;
	}
	if (!cert_spki_same(X509_get_X509_PUBKEY(*crt), spki)) {
		snprintf(why, whylen, "the certificate's key is not the CSR's");
		goto bad;
	}
	return 0;
bad:
	X509_free(*crt);
	*crt = NULL;
	return -1;
}

enum issue_result
issue_sign(struct ra_ctx *ctx, X509_REQ *csr, const char *profile, X509 **crt, char **pem,
    char *msg, size_t msglen)
{
	json_object *params, *data = NULL;
	char *csrpem = cert_csr_to_pem(csr);
	const char *answer;
	enum ca_result r;

	*crt = NULL;
	*pem = NULL;
	params = json_object_new_object();
	json_object_object_add(params, "csr", json_object_new_string(csrpem ? csrpem : ""));
	json_object_object_add(params, "profile", json_object_new_string(profile));
	free(csrpem);
	r = ca_call(ctx->ca, "sign", params, &data, msg, msglen);
	json_object_put(params);
	if (r == CA_OK && (answer = jsonx_get_string(data, "certificate")) != NULL)
		*pem = strdup(answer);
	json_object_put(data);
	if (r == CA_ERR_REFUSED)
		return ISSUE_REFUSED;
	if (*pem == NULL) {
		if (r == CA_OK)
			snprintf(msg, msglen, "no certificate in the CA's answer");
		return ISSUE_CA_DOWN;
	}
	if (issue_check(ctx, *pem, X509_REQ_get_X509_PUBKEY(csr), crt, msg, msglen) != 0) {
		log_error("the CA returned a wrong certificate: %s", msg);
		free(*pem);
		*pem = NULL;
		return ISSUE_BAD_ANSWER;
	}
	return ISSUE_OK;
}

enum issue_result
issue_adopt(struct ra_ctx *ctx, X509_REQ *csr, X509 **crt, char **pem)
{
	json_object *params, *data = NULL;
	struct cert_names names;
	const char *held;
	char name[CERT_NAME_MAX], msg[256];
	bool revoked = false;

	*crt = NULL;
	*pem = NULL;
	if (cert_csr_names(csr, &names, msg, sizeof(msg)) != 0 ||
	    (names.cn[0] == '\0' && names.n == 0))
		return ISSUE_REFUSED;
	snprintf(name, sizeof(name), "%s", names.cn[0] != '\0' ? names.cn : names.names[0].value);
	params = json_object_new_object();
	json_object_object_add(params, "dn", json_object_new_string(name));
	if (ca_call(ctx->ca, "view", params, &data, msg, sizeof(msg)) == CA_OK &&
	    (held = jsonx_get_string(data, "certificate")) != NULL &&
	    !(jsonx_get_bool(data, "revoked", &revoked) && revoked) &&
	    issue_check(ctx, held, X509_REQ_get_X509_PUBKEY(csr), crt, msg, sizeof(msg)) == 0)
		*pem = strdup(held);
	json_object_put(params);
	json_object_put(data);
	if (*pem != NULL) {
		log_info("the CA already held a certificate for '%s' and this key: adopted", name);
		return ISSUE_OK;
	}
	X509_free(*crt);
	*crt = NULL;
	return ISSUE_REFUSED;
}

int
issue_record_fill(struct store_cert *c, X509 *crt, char *pem, const char *profile,
    const char *source, int64_t account_id)
{
	memset(c, 0, sizeof(*c));
	if (cert_serial_hex(crt, c->serial, sizeof(c->serial)) != 0 ||
	    cert_subject_oneline(crt, c->dn, sizeof(c->dn)) != 0)
		return -1;
	/* The CA files a certificate under its CN, or, for a CN-less one (which
	 * the development CA accepts), under its first SAN: so does the RA,
	 * because revoke and renew name the certificate that way. */
	if (cert_common_name(crt, c->cn, sizeof(c->cn)) != 0) {
		struct cert_names names;
		char why[128];

		if (cert_names(crt, &names, why, sizeof(why)) != 0 || names.n == 0)
			return -1;
		snprintf(c->cn, sizeof(c->cn), "%s", names.names[0].value);
	}
	snprintf(c->profile, sizeof(c->profile), "%.63s", profile);
	snprintf(c->source, sizeof(c->source), "%.15s", source);
	c->pem = pem;
	c->not_before = cert_not_before(crt);
	c->not_after = cert_not_after(crt);
	c->account_id = account_id;
	c->created_at = time(NULL);
	return 0;
}

char *
issue_chain(struct ra_ctx *ctx, const char *leaf_pem)
{
	const struct cert_file *ca;
	size_t n = strlen(leaf_pem);
	char *out;

	if (n == 0 || (ca = issue_ca(ctx)) == NULL)
		return NULL;
	if (asprintf(&out, "%s%s%s", leaf_pem, leaf_pem[n - 1] == '\n' ? "" : "\n", ca->pem) < 0)
		return NULL;
	return out;
}
