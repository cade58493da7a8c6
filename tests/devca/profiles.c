/*
 * The profiles of the reference CA, by the same names and in the same
 * order, with validity periods short enough that renewal gets exercised.
 */
#include "devca.h"

#include <string.h>

static const struct profile profiles[] = {
	{ "ca", "ec", 256, DEVCA_MAX_DAYS, "keyCertSign,cRLSign", "", "sslCA", true },
	{ "ra", "ec", 256, 365, "digitalSignature,keyEncipherment",
	    "serverAuth,clientAuth", "sslServer", false },
	{ "server", "ec", 256, 60, "digitalSignature,keyEncipherment", "serverAuth",
	    "server", false },
	{ "webapp", "ec", 256, 60, "digitalSignature,keyEncipherment", "serverAuth",
	    "server", false },
	{ "laptop", "rsa", 2048, 365, "digitalSignature,keyEncipherment", "clientAuth",
	    "user", false },
	{ "user", "rsa", 2048, 30, "digitalSignature,nonRepudiation", "clientAuth",
	    "user", false },
	{ "admin", "ec", 256, 365, "digitalSignature,nonRepudiation", "clientAuth",
	    "user", false },
};

#define PROFILES_N (sizeof(profiles) / sizeof(profiles[0]))

const struct profile *
profiles_find(const char *name)
{
	for (size_t i = 0; i < PROFILES_N; i++)
		if (strcmp(profiles[i].name, name) == 0)
			return &profiles[i];
	return NULL;
}

json_object *
profiles_names(void)
{
	json_object *list = json_object_new_array();

	for (size_t i = 0; list != NULL && i < PROFILES_N; i++)
		json_object_array_add(list, json_object_new_string(profiles[i].name));
	return list;
}

/* "a,b" becomes ["a", "b"]; "" becomes []. */
static json_object *
profiles_list(const char *csv)
{
	json_object *list = json_object_new_array();
	const char *p = csv, *comma;

	while (list != NULL && *p != '\0') {
		comma = strchr(p, ',');
		if (comma == NULL)
			comma = p + strlen(p);
		json_object_array_add(list, json_object_new_string_len(p, (int)(comma - p)));
		p = *comma == ',' ? comma + 1 : comma;
	}
	return list;
}

json_object *
profiles_describe(const struct profile *p)
{
	json_object *o = json_object_new_object(), *subject = json_object_new_object();

	json_object_object_add(subject, "O", json_object_new_string("uPKI"));
	json_object_object_add(o, "keyType", json_object_new_string(p->key_type));
	json_object_object_add(o, "keyLen", json_object_new_int(p->key_len));
	json_object_object_add(o, "duration", json_object_new_int(p->days));
	json_object_object_add(o, "digest", json_object_new_string("sha256"));
	json_object_object_add(o, "subject", subject);
	json_object_object_add(o, "keyUsage", profiles_list(p->key_usage));
	json_object_object_add(o, "extendedKeyUsage", profiles_list(p->eku));
	json_object_object_add(o, "certType", json_object_new_string(p->cert_type));
	return o;
}
