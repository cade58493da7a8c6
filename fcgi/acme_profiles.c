#include "acme_profiles.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "ca.h"
#include "jsonx.h"
#include "log.h"

static const char *const acme_profiles_never[] = { "ca", "ra", "admin", NULL };

/* Calls fn on the default profile, then on each of the list, until one
 * fails. */
static int
acme_profiles_each(const struct config *cfg, int (*fn)(const struct config *,
    const char *, void *), void *arg)
{
	char name[CONFIG_STR];
	int rc = fn(cfg, cfg->acme_profile, arg);

	for (const char *p = cfg->acme_profiles; rc == 0 && *p != '\0';) {
		size_t len = strcspn(p, ",");

		snprintf(name, sizeof(name), "%.*s", (int)len, p);
		if (len > 0)
			rc = fn(cfg, name, arg);
		p += len + (p[len] == ',');
	}
	return rc;
}

static int
acme_profiles_refuse(const char *name, const char *why)
{
	log_error("profile '%.64s' cannot be offered over ACME (UPKI_RA_ACME_PROFILE, "
	    "UPKI_RA_ACME_PROFILES): %s", name, why);
	return -1;
}

static int
acme_profiles_name(const struct config *cfg, const char *name, void *arg)
{
	(void)cfg;
	(void)arg;
	for (size_t i = 0; acme_profiles_never[i] != NULL; i++)
		if (strcmp(name, acme_profiles_never[i]) == 0)
			return acme_profiles_refuse(name, "ca, ra and admin never can");
	return 0;
}

int
acme_profiles_check_names(const struct config *cfg)
{
	return acme_profiles_each(cfg, acme_profiles_name, NULL);
}

/* True when member (a string, or an array of strings) holds one that
 * contains needle. */
static bool
acme_profiles_holds(json_object *def, const char *member, const char *needle)
{
	json_object *v;
	size_t n;

	if (!json_object_object_get_ex(def, member, &v))
		return false;
	if (json_object_is_type(v, json_type_string))
		return strstr(json_object_get_string(v), needle) != NULL;
	n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(v, i);

		if (json_object_is_type(e, json_type_string) &&
		    strstr(json_object_get_string(e), needle) != NULL)
			return true;
	}
	return false;
}

static int
acme_profiles_definition(const struct config *cfg, const char *name, json_object *def)
{
	if (acme_profiles_holds(def, "certType", "CA"))
		return acme_profiles_refuse(name, "its certType at the CA is a CA's");
	if (acme_profiles_holds(def, "keyUsage", "keyCertSign"))
		return acme_profiles_refuse(name, "its keyUsage at the CA has keyCertSign");
	if (acme_profiles_holds(def, "extendedKeyUsage", "clientAuth") &&
	    !cfg->acme_client_auth)
		return acme_profiles_refuse(name, "its extendedKeyUsage at the CA has "
		    "clientAuth (UPKI_RA_ACME_CLIENT_AUTH=true allows that)");
	return 0;
}

/* -1 refuses the start; 1 stops the checks without refusing it. */
static int
acme_profiles_at_ca(const struct config *cfg, const char *name, void *arg)
{
	json_object *def = NULL;
	char msg[256];
	enum ca_result r;
	int rc = 0;

	r = ca_get_profile(arg, name, &def, msg, sizeof(msg));
	if (r == CA_OK)
		rc = acme_profiles_definition(cfg, name, def);
	else if (r == CA_ERR_NOT_FOUND || r == CA_ERR_REFUSED)
		log_warn("ACME profile '%.64s': the CA does not know it: %s", name, msg);
	else {
		log_warn("ACME profiles not checked against the CA's definitions: %s", msg);
		rc = 1;
	}
	json_object_put(def);
	return rc;
}

int
acme_profiles_check_ca(const struct config *cfg)
{
	struct ca_client *ca = ca_client_new(cfg->ca_host, cfg->ca_port, cfg->ca_timeout_ms);
	int rc;

	if (ca == NULL) {
		log_warn("ACME profiles not checked against the CA's definitions: "
		    "no CA client");
		return 0;
	}
	rc = acme_profiles_each(cfg, acme_profiles_at_ca, ca);
	ca_client_free(ca);
	return rc < 0 ? -1 : 0;
}
