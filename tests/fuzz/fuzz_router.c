/*
 * fuzz_router: router_dispatch with the FastCGI params fuzzed, against the
 * harness's store (an admin DN, an account, an order and a certificate in
 * it) and a CA that is down.
 *
 * Input: one selector byte, then fields separated by '\n':
 *   [METHOD]  REQUEST_URI  HTTP_HOST  SSL_CLIENT_VERIFY  SSL_CLIENT_S_DN
 *   SSL_CLIENT_CERT  SSL_CLIENT_SERIAL
 * The selector's low two bits pick the method: 0 and 3 GET, 1 HEAD, 2 the
 * first field (POST and DELETE become GET: only the routes that change no
 * state are driven here; the ACME POST routes are fuzz_acme_body's).  Bit 2
 * set means plain http.  A field left out is a param nginx did not pass
 * (NULL); an empty one is passed empty, as nginx passes an unset variable.
 * REQUEST_URI is split at '?' and bounded as worker.c does.  The worker
 * ignores SSL_CLIENT_S_DN and SSL_CLIENT_SERIAL (auth.h): those fields are
 * read and dropped, so that the corpus keeps its shape.
 *
 * Invariants checked: fuzz_check_response (harness.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "router.h"

#define FUZZ_FIELDS 7

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_acme();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *field[FUZZ_FIELDS] = { NULL }, *p, *q;
	char path[ROUTER_PATH_MAX + 2];
	struct http_request req = { 0 };
	struct http_response resp;
	int sel, n = 0, named;
	size_t len;

	if (size < 1)
		return 0;
	sel = data[0];
	named = (sel & 3) == 2;
	text = fuzz_cstr(data + 1, size - 1);
	for (p = text; p != NULL && n < FUZZ_FIELDS; n++) {
		field[n] = p;
		if ((p = strchr(p, '\n')) != NULL)
			*p++ = '\0';
	}
	if (named) {
		req.method = field[0] != NULL ? field[0] : "GET";
		if (strcmp(req.method, "POST") == 0 || strcmp(req.method, "DELETE") == 0)
			req.method = "GET";
		memmove(field, field + 1, sizeof(field) - sizeof(field[0]));
		field[FUZZ_FIELDS - 1] = NULL;
	} else {
		req.method = (sel & 3) == 1 ? "HEAD" : "GET";
	}
	/* worker_build_request: path up to '?', bounded; query after it. */
	p = field[0] != NULL ? field[0] : "/";
	q = strchr(p, '?');
	len = q != NULL ? (size_t)(q - p) : strlen(p);
	if (len >= sizeof(path))
		len = sizeof(path) - 1;
	memcpy(path, p, len);
	path[len] = '\0';
	req.path = path;
	req.query = q != NULL ? q + 1 : "";
	req.host = field[1];
	req.https = (sel & 4) == 0;
	req.client_verify = field[2];
	req.client_cert = field[4];
	req.body = "";

	http_response_init(&resp);
	router_dispatch(fuzz_ctx(), &req, &resp);
	fuzz_check_response(&resp);
	http_response_free(&resp);
	free(text);
	return 0;
}
