/*
 * tls-alpn-01 (RFC 8737): a TLS handshake of our own on a TCP connection
 * that libcurl makes to the pinned addresses.
 */
#include "validate.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "validate_impl.h"

/* The SNI for an identifier: the name itself, or for an address its
 * reverse-DNS name (RFC 8738 section 6). */
static void
validate_sni(const char *type, const char *name, char out[VALIDATE_HOST_MAX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char a[16];
	size_t len = strcmp(type, "ip") == 0 ? validate_ip(name, a) : 0;
	char *p = out;

	if (len == 0) {
		snprintf(out, VALIDATE_HOST_MAX, "%s", name);
		return;
	}
	if (len == 4) {
		snprintf(out, VALIDATE_HOST_MAX, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2],
		    a[1], a[0]);
		return;
	}
	for (size_t i = len; i-- > 0;) {
		*p++ = hex[a[i] & 0xf];
		*p++ = '.';
		*p++ = hex[a[i] >> 4];
		*p++ = '.';
	}
	snprintf(p, VALIDATE_HOST_MAX - (size_t)(p - out), "ip6.arpa");
}

/* Waits until fd is ready for events; false once the deadline has passed. */
static bool
validate_poll(const struct validate_check *v, int fd, short events)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	long left;
	int n;

	while ((left = validate_left_ms(v)) > 0)
		if ((n = poll(&pfd, 1, (int)left)) != -1 || errno != EINTR)
			return n > 0;
	return false;
}

/*
 * The TCP connection of tls-alpn-01.  libcurl makes it (CURLOPT_CONNECT_ONLY:
 * the http scheme is a formality) so that every pinned address gets tried
 * within the connect timeout; the TLS on top is ours, because libcurl cannot
 * offer acme-tls/1 alone.
 */
static enum validate_result
validate_tcp_connect(struct validate_check *v, struct validate_conn *cn,
    const char *host, int *fdp)
{
	char where[VALIDATE_HOST_MAX + 8], url[VALIDATE_HOST_MAX + 16];
	curl_socket_t fd;
	enum validate_result r;
	CURLcode rc;
	int fl;

	snprintf(where, sizeof(where), "%s:%d", host, v->tlsalpn_port);
	snprintf(url, sizeof(url), "http://%s/", where);
	if ((r = validate_conn_open(v, cn, url, host, v->tlsalpn_port)) != VALIDATE_OK)
		return r;
	if (curl_easy_setopt(cn->curl, CURLOPT_CONNECT_ONLY, 1L) != CURLE_OK)
		return validate_fail(v, VALIDATE_CONNECTION, "cannot set up libcurl");
	if ((rc = curl_easy_perform(cn->curl)) != CURLE_OK)
		return validate_curl_fail(v, cn, rc, where);
	if (curl_easy_getinfo(cn->curl, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK ||
	    fd == CURL_SOCKET_BAD)
		return validate_fail(v, VALIDATE_CONNECTION, "%s: connection lost",
		    where);
	/* The handshake must never block past the deadline. */
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return validate_fail(v, VALIDATE_CONNECTION, "%s: %s", where,
		    strerror(errno));
	*fdp = fd;
	return VALIDATE_OK;
}

static const char *
validate_tls_why(int err)
{
	unsigned long e = ERR_peek_last_error();
	const char *why = e != 0 ? ERR_reason_error_string(e) : NULL;

	if (why != NULL)
		return why;
	return err == SSL_ERROR_SSL ? "protocol error" : "connection closed";
}

/* RFC 8737 section 3: only "acme-tls/1" offered, and negotiated; TLS 1.2
 * or later (section 4). */
static enum validate_result
validate_tls_handshake(struct validate_check *v, int fd, const char *sni,
    SSL_CTX **ctxp, SSL **sslp)
{
	static const unsigned char alpn[] = "\x0a" VALIDATE_ALPN;
	const unsigned char *proto;
	unsigned int plen;
	SSL *ssl;
	int rc, err;
	short ev;

	if ((*ctxp = SSL_CTX_new(TLS_client_method())) == NULL ||
	    !SSL_CTX_set_min_proto_version(*ctxp, TLS1_2_VERSION) ||
	    (*sslp = ssl = SSL_new(*ctxp)) == NULL ||
	    !SSL_set_fd(ssl, fd) ||
	    !SSL_set_tlsext_host_name(ssl, sni) ||
	    SSL_set_alpn_protos(ssl, alpn, sizeof(alpn) - 1) != 0)
		return validate_fail(v, VALIDATE_CONNECTION, "cannot set up TLS");
	while ((rc = SSL_connect(ssl)) != 1) {
		err = SSL_get_error(ssl, rc);
		if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
			return validate_fail(v, VALIDATE_TLS,
			    "%s: TLS handshake failed: %s", sni, validate_tls_why(err));
		ev = err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		if (!validate_poll(v, fd, ev))
			return validate_fail(v, VALIDATE_CONNECTION,
			    "%s: TLS handshake timed out", sni);
	}
	SSL_get0_alpn_selected(ssl, &proto, &plen);
	if (plen != sizeof(alpn) - 2 || memcmp(proto, VALIDATE_ALPN, plen) != 0)
		return validate_fail(v, VALIDATE_TLS, "%s: server did not negotiate %s",
		    sni, VALIDATE_ALPN);
	return VALIDATE_OK;
}

static bool
validate_san_is(const GENERAL_NAME *gen, const char *type, const char *name)
{
	unsigned char addr[16];
	size_t len;

	if (strcmp(type, "ip") == 0) {
		len = validate_ip(name, addr);
		return gen->type == GEN_IPADD &&
		    ASN1_STRING_length(gen->d.iPAddress) == (int)len &&
		    memcmp(ASN1_STRING_get0_data(gen->d.iPAddress), addr, len) == 0;
	}
	len = strlen(name);
	/* DNS names compare without regard to case (RFC 4343). */
	return gen->type == GEN_DNS &&
	    ASN1_STRING_length(gen->d.dNSName) == (int)len &&
	    strncasecmp((const char *)ASN1_STRING_get0_data(gen->d.dNSName), name,
	    len) == 0;
}

/* The certificate must be for the identifier and nothing else. */
static enum validate_result
validate_tls_san(struct validate_check *v, X509 *crt, const char *type,
    const char *name)
{
	GENERAL_NAMES *sans = X509_get_ext_d2i(crt, NID_subject_alt_name, NULL, NULL);
	int n = sans != NULL ? sk_GENERAL_NAME_num(sans) : 0;
	bool ok = n == 1 && validate_san_is(sk_GENERAL_NAME_value(sans, 0), type, name);

	GENERAL_NAMES_free(sans);
	if (ok)
		return VALIDATE_OK;
	if (n != 1)
		return validate_fail(v, VALIDATE_UNAUTHORIZED,
		    "certificate has %d subjectAltName entries, not just %s", n, name);
	return validate_fail(v, VALIDATE_UNAUTHORIZED,
	    "certificate's subjectAltName is not %s", name);
}

/* One critical acmeIdentifier extension whose value is the DER OCTET STRING
 * of SHA-256(key authorization) (RFC 8737 section 3). */
static enum validate_result
validate_tls_acme_id(struct validate_check *v, X509 *crt, const unsigned char *md)
{
	const ASN1_OCTET_STRING *val;
	X509_EXTENSION *ext;
	ASN1_OBJECT *oid;
	int i, again;

	if ((oid = OBJ_txt2obj(VALIDATE_ACME_ID_OID, 1)) == NULL)
		return validate_fail(v, VALIDATE_CONNECTION, "out of memory");
	i = X509_get_ext_by_OBJ(crt, oid, -1);
	again = i >= 0 ? X509_get_ext_by_OBJ(crt, oid, i) : -1;
	ASN1_OBJECT_free(oid);
	if (i < 0 || again >= 0)
		return validate_fail(v, VALIDATE_INCORRECT,
		    "certificate must have one acmeIdentifier extension");
	ext = X509_get_ext(crt, i);
	if (!X509_EXTENSION_get_critical(ext))
		return validate_fail(v, VALIDATE_INCORRECT,
		    "acmeIdentifier extension is not critical");
	val = X509_EXTENSION_get_data(ext);
	if (ASN1_STRING_length(val) != 2 + SHA256_DIGEST_LENGTH ||
	    ASN1_STRING_get0_data(val)[0] != V_ASN1_OCTET_STRING ||
	    ASN1_STRING_get0_data(val)[1] != SHA256_DIGEST_LENGTH ||
	    memcmp(ASN1_STRING_get0_data(val) + 2, md, SHA256_DIGEST_LENGTH) != 0)
		return validate_fail(v, VALIDATE_INCORRECT,
		    "acmeIdentifier is not the key authorization digest");
	return VALIDATE_OK;
}

enum validate_result
validate_tlsalpn01(const struct validate_opts *o, const char *ident_type,
    const char *name, const char *key_authz, char *detail, size_t detlen)
{
	char host[VALIDATE_HOST_MAX], sni[VALIDATE_HOST_MAX];
	unsigned char md[SHA256_DIGEST_LENGTH];
	struct validate_check v;
	struct validate_conn cn;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	X509 *crt;
	enum validate_result r;
	int fd = -1;

	validate_begin(&v, o, detail, detlen);
	if (!validate_ident_ok(ident_type, name) || key_authz == NULL)
		return validate_fail(&v, VALIDATE_CONNECTION, "malformed identifier");
	if (!validate_sha256(key_authz, md))
		return validate_fail(&v, VALIDATE_CONNECTION, "out of memory");
	validate_url_host(ident_type, name, host);
	validate_sni(ident_type, name, sni);
	memset(&cn, 0, sizeof(cn));
	if ((r = validate_tcp_connect(&v, &cn, host, &fd)) != VALIDATE_OK ||
	    (r = validate_tls_handshake(&v, fd, sni, &ctx, &ssl)) != VALIDATE_OK)
		goto done;
	/* Self-signed by design (RFC 8737 section 3): what the certificate
	 * says is checked, not who signed it. */
	if ((crt = SSL_get0_peer_certificate(ssl)) == NULL)
		r = validate_fail(&v, VALIDATE_TLS, "%s: no certificate", sni);
	else if ((r = validate_tls_san(&v, crt, ident_type, name)) == VALIDATE_OK)
		r = validate_tls_acme_id(&v, crt, md);
done:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	validate_conn_close(&cn);
	/* OpenSSL's error queue is per thread: leave nothing for the caller. */
	ERR_clear_error();
	return r;
}
