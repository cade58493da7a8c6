#include "front.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "fsutil.h"
#include "log.h"

/* A token of 32 to 128 letters and digits: no quoting in nginx's syntax. */
#define FRONT_MIN 32
#define FRONT_MAX 128

static char front_secret[FRONT_MAX + 1];
static size_t front_len;

static bool
front_token_ok(const char *s, size_t len)
{
	if (len < FRONT_MIN || len > FRONT_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z')))
			return false;
	return true;
}

/* Comment lines aside, the file is the one directive nginx includes. */
static int
front_parse(char *text)
{
	static const char directive[] = "fastcgi_param " FRONT_PARAM " ";
	char *save = NULL, *value;
	size_t len;
	int found = 0;

	for (char *line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		line += strspn(line, " \t");
		if (*line == '#' || *line == '\0')
			continue;
		if (found || strncmp(line, directive, sizeof(directive) - 1) != 0)
			return -1;
		value = line + sizeof(directive) - 1;
		value += strspn(value, " \t");
		len = strcspn(value, ";");
		if (value[len] != ';' || value[len + 1 + strspn(value + len + 1, " \t\r")] != '\0' ||
		    !front_token_ok(value, len))
			return -1;
		memcpy(front_secret, value, len);
		front_secret[len] = '\0';
		front_len = len;
		found = 1;
	}
	return found ? 0 : -1;
}

static int
front_path(const struct config *cfg, char *out, size_t outlen)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	int n;

	if (cfg->fcgi_auth_file[0] != '\0')
		n = snprintf(out, outlen, "%s", cfg->fcgi_auth_file);
	else if (dir != NULL)
		n = snprintf(out, outlen, "%s/fcgi-secret", dir);
	else
		return -1;
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int
front_secret_load(const struct config *cfg)
{
	char path[PATH_MAX], *text;
	size_t len;
	int rc;

	if (front_path(cfg, path, sizeof(path)) != 0) {
		log_error("no FastCGI secret: set UPKI_RA_FCGI_AUTH_FILE to nginx's "
		    "include file of it, or give the systemd credential 'fcgi-secret'");
		return -1;
	}
	if ((text = fs_read(path, 4096, &len)) == NULL) {
		log_error("cannot read the FastCGI secret file %s", path);
		return -1;
	}
	rc = front_parse(text);
	OPENSSL_cleanse(text, len);
	free(text);
	if (rc != 0)
		log_error("%s: not one line 'fastcgi_param %s <32 to %d letters or digits>;'",
		    path, FRONT_PARAM, FRONT_MAX);
	return rc;
}

bool
front_trusted(const char *given)
{
	if (given == NULL || front_len == 0 || strlen(given) != front_len)
		return false;
	return CRYPTO_memcmp(given, front_secret, front_len) == 0;
}
