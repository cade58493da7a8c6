/*
 * The tasks that describe the CA: its certificate, its profiles, and the
 * admin list it keeps for the RA.
 */
#include "devca.h"

#include <string.h>

int
task_get_ca(struct task_ctx *t)
{
	t->data = json_object_new_string(t->dc->ca.cert_pem);
	return 0;
}

int
task_list_profiles(struct task_ctx *t)
{
	t->data = profiles_names();
	return 0;
}

int
task_get_profile(struct task_ctx *t)
{
	const struct profile *p;
	const char *name;

	if (task_require(t, "profile", &name) != 0)
		return -1;
	if ((p = profiles_find(name)) == NULL)
		return task_fail(t, 500, "Profile not found: %.64s", name);
	t->data = profiles_describe(p);
	return 0;
}

static int
task_admin_add_to(void *arg, const char *dn)
{
	return json_object_array_add(arg, json_object_new_string(dn));
}

int
task_list_admins(struct task_ctx *t)
{
	if ((t->data = json_object_new_array()) == NULL)
		return task_fail(t, 600, "Out of memory");
	if (registry_admins(t->dc->reg, task_admin_add_to, t->data) != 0)
		return task_fail(t, 600, "Registry error");
	return 0;
}

int
task_add_admin(struct task_ctx *t)
{
	const char *dn;

	if (task_require(t, "dn", &dn) != 0)
		return -1;
	if (strlen(dn) > DEVCA_MAX_DN)
		return task_fail(t, 700, "Invalid dn parameter (at most %d bytes)", DEVCA_MAX_DN);
	if (registry_admin_add(t->dc->reg, dn) != 0)
		return task_fail(t, 600, "Registry error");
	t->data = json_object_new_boolean(1);
	return 0;
}

/* True even when dn was not an admin: the outcome is the one asked for. */
int
task_remove_admin(struct task_ctx *t)
{
	const char *dn;

	if (task_require(t, "dn", &dn) != 0)
		return -1;
	if (registry_admin_remove(t->dc->reg, dn) != 0)
		return task_fail(t, 600, "Registry error");
	t->data = json_object_new_boolean(1);
	return 0;
}
