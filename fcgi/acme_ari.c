/*
 * ACME Renewal Information (RFC 9773): when a client should renew.  The
 * certificate is named by its CertID, base64url(authorityKeyIdentifier)
 * "." base64url(serial), and the answer is a window in the last third of
 * its life, or one in the past for a revoked certificate: renew now.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acme.h"
#include "b64.h"
#include "handlers.h"
#include "log.h"
#include "rest.h"

#define ARI_RETRY_AFTER 21600   /* clients ask again in six hours */

int
acme_ari_serial(const char *certid, char *out, size_t outlen)
{
	const char *dot = strchr(certid, '.');
	unsigned char *aki = NULL, *serial = NULL;
	char hex[2 * 20 + 1];
	size_t akilen, len;
	int rc = -1;

	if (dot == NULL || (aki = b64url_decode(certid, (size_t)(dot - certid), &akilen)) == NULL ||
	    akilen == 0 || (serial = b64url_decode(dot + 1, strlen(dot + 1), &len)) == NULL ||
	    len == 0 || len > 20)
		goto done;
	for (size_t i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02X", serial[i]);
	rc = rest_serial_canonical(hex, out, outlen);
done:
	free(aki);
	free(serial);
	return rc;
}

void
acme_renewal_info(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	struct store_cert c;
	json_object *o, *window;
	char serial[48], start[32], end[32];
	time_t now = time(NULL), life;
	int rc;

	(void)req;
	if (acme_ari_serial(args->arg[0], serial, sizeof(serial)) != 0) {
		acme_problem(resp, 400, ACME_ERR("malformed"), NULL, "not a CertID");
		return;
	}
	if ((rc = store_cert_by_serial(ctx->store, serial, &c)) != 0) {
		if (rc < 0)
			acme_store_failed(resp);
		else
			acme_problem(resp, 404, ACME_ERR("malformed"), NULL, "no such certificate");
		return;
	}
	life = (time_t)(c.not_after - c.not_before);
	if (strcmp(c.status, "revoked") == 0) {
		acme_time(now - 2 * 86400, start, sizeof(start));
		acme_time(now - 86400, end, sizeof(end));
	} else {
		acme_time((time_t)c.not_before + life * 2 / 3, start, sizeof(start));
		acme_time((time_t)c.not_before + life * 5 / 6, end, sizeof(end));
	}
	window = json_object_new_object();
	json_object_object_add(window, "start", json_object_new_string(start));
	json_object_object_add(window, "end", json_object_new_string(end));
	o = json_object_new_object();
	json_object_object_add(o, "suggestedWindow", window);
	http_header_add(resp, "Retry-After", "%d", ARI_RETRY_AFTER);
	acme_json(resp, 200, o);
	store_cert_free(&c);
}
