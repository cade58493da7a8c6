/*
 * `upki-ra admin add|remove|list [DN]`: the RA's own admin list, managed on
 * the RA host.  This is how the first admin is made, before anyone can use
 * the admin API.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dn.h"
#include "log.h"
#include "ra.h"
#include "store_admin.h"

static void
admin_cli_print(const char *dn, int64_t created, void *arg)
{
	(void)created;
	(void)arg;
	printf("%s\n", dn);
}

static int
admin_cli_change(struct store *st, const char *action, const char *given)
{
	char dn[DN_MAX];
	int rc;

	if (given == NULL || dn_canonical(given, dn, sizeof(dn)) != 0) {
		log_error("admin %s needs a DN, as CN=x,O=y or /O=y/CN=x", action);
		return 1;
	}
	rc = strcmp(action, "add") == 0 ? store_admin_add(st, dn, time(NULL)) :
	    store_admin_remove(st, dn, time(NULL));
	if (rc < 0) {
		log_error("cannot change the admin list");
		return 1;
	}
	printf("%s %s%s\n", dn, strcmp(action, "add") == 0 ? "is an admin" : "is no admin",
	    rc == 1 ? " (unchanged)" : "");
	return 0;
}

int
cmd_admin(const struct config *cfg, const char *action, const char *dn)
{
	char path[PATH_MAX], err[256];
	struct store *st;
	int rc = 1;

	if (action == NULL || (strcmp(action, "add") != 0 && strcmp(action, "remove") != 0 &&
	    strcmp(action, "list") != 0)) {
		log_error("usage: upki-ra admin add|remove DN, or upki-ra admin list");
		return 1;
	}
	if (ra_data_dir_init(cfg) != 0 || ra_store_path(cfg, path, sizeof(path)) != 0)
		return 1;
	if (store_open(path, &st, err, sizeof(err)) != 0) {
		log_error("%s", err);
		return 1;
	}
	if (strcmp(action, "list") == 0)
		rc = store_admin_each(st, admin_cli_print, NULL) == 0 ? 0 : 1;
	else
		rc = admin_cli_change(st, action, dn);
	store_close(st);
	return rc;
}
