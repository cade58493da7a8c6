/*
 * GET /api/v1/public/openapi: the OpenAPI document of the REST API
 * (docs/openapi.yaml in the repository), read from where it is installed.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "handlers.h"
#include "log.h"

#define OPENAPI_MAX (1024 * 1024)
#define OPENAPI_TYPE "application/yaml"

/* UPKI_RA_OPENAPI_FILE, else beside the program: BINDIR/../share/upki-ra,
 * where `make install` puts it whatever PREFIX was given, so that a build
 * made for one PREFIX and installed under another still finds it. */
static int
openapi_path(const struct config *cfg, char *out, size_t outlen)
{
	char exe[PATH_MAX], *slash;
	ssize_t n;
	int w;

	if (cfg->openapi_file[0] != '\0') {
		w = snprintf(out, outlen, "%s", cfg->openapi_file);
		return w < 0 || (size_t)w >= outlen ? -1 : 0;
	}
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0)
		return -1;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL)
		return -1;
	*slash = '\0';
	w = snprintf(out, outlen, "%s/../share/upki-ra/openapi.yaml", exe);
	return w < 0 || (size_t)w >= outlen ? -1 : 0;
}

void
public_openapi(struct ra_ctx *ctx, const struct http_request *req,
    struct http_response *resp, const struct route_args *args)
{
	static bool warned;     /* anyone may ask: one line per worker, not per request */
	char path[PATH_MAX] = "", *text = NULL;

	(void)req;
	(void)args;
	if (openapi_path(ctx->cfg, path, sizeof(path)) != 0 ||
	    (text = fs_read(path, OPENAPI_MAX, NULL)) == NULL) {
		/* Where it was looked for is the operator's business, not the caller's. */
		if (!warned)
			log_warn("openapi: cannot read %s (set UPKI_RA_OPENAPI_FILE)", path);
		warned = true;
		http_rest_error(resp, 404, "the API document is not installed on this RA");
		return;
	}
	http_text(resp, 200, OPENAPI_TYPE, text);
	free(text);
}
