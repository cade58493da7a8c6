/*
 * The protocol envelope: {"TASK": name, "params": {...}} in, and either
 * {"EVENT": "ANSWER", "DATA": ...} or {"EVENT": "UPKI ERROR", "MSG":
 * "[code] text"} out, with the dispatch to the task handlers and the
 * parameter helpers they share.
 */
#include "devca.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jsonx.h"
#include "log.h"

struct task_def {
	const char *name;
	task_fn fn;
};

static const struct task_def tasks_ops[] = {
	{ "get_ca", task_get_ca },
	{ "get_crl", task_get_crl },
	{ "generate_crl", task_generate_crl },
	{ "sign", task_sign },
	{ "generate", task_generate },
	{ "renew", task_renew },
	{ "revoke", task_revoke },
	{ "unrevoke", task_unrevoke },
	{ "delete", task_delete },
	{ "view", task_view },
	{ "ocsp_check", task_ocsp_check },
	{ "list_profiles", task_list_profiles },
	{ "get_profile", task_get_profile },
	{ "list_admins", task_list_admins },
	{ "add_admin", task_add_admin },
	{ "remove_admin", task_remove_admin },
	{ NULL, NULL },
};

/* The registration port answers these two and nothing else, so the seed
 * guards everything that port can do. */
static const struct task_def tasks_reg[] = {
	{ "register", task_register },
	{ "status", task_status },
	{ NULL, NULL },
};

int
task_fail(struct task_ctx *t, int code, const char *fmt, ...)
{
	va_list ap;
	int n;

	json_object_put(t->data);
	t->data = NULL;
	n = snprintf(t->error, sizeof(t->error), "[%d] ", code);
	va_start(ap, fmt);
	vsnprintf(t->error + n, sizeof(t->error) - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* A string parameter that must be there and not be empty.  A NUL inside
 * would make C see a shorter name than the one sent: refused. */
int
task_require(struct task_ctx *t, const char *key, const char **out)
{
	json_object *v;

	if (!json_object_object_get_ex(t->params, key, &v) || json_object_is_type(v, json_type_null))
		return task_fail(t, 700, "Missing %s parameter", key);
	if (!json_object_is_type(v, json_type_string) ||
	    strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
		return task_fail(t, 700, "Invalid %s parameter", key);
	if (*(*out = json_object_get_string(v)) == '\0')
		return task_fail(t, 700, "Missing %s parameter", key);
	return 0;
}

/* The "profile" parameter, def when absent. */
int
task_profile(struct task_ctx *t, const char *def, const struct profile **out)
{
	const char *name = def;

	if (json_object_object_get_ex(t->params, "profile", NULL) &&
	    task_require(t, "profile", &name) != 0)
		return -1;
	if ((*out = profiles_find(name)) == NULL)
		return task_fail(t, 500, "Profile not found: %.64s", name);
	return 0;
}

/* The current certificate filed under the "dn" parameter.  Like the
 * reference CA, dn is the bare name: "/CN=x" is not found. */
int
task_node(struct task_ctx *t, struct reg_cert *out)
{
	const char *dn;
	int rc;

	if (task_require(t, "dn", &dn) != 0)
		return -1;
	snprintf(t->cn, sizeof(t->cn), "%s", dn);
	if ((rc = registry_current(t->dc->reg, dn, out)) < 0)
		return task_fail(t, 600, "Registry error");
	if (rc == 0)
		return task_fail(t, 404, "Node not found: %.128s", dn);
	snprintf(t->serial, sizeof(t->serial), "%s", out->serial);
	return 0;
}

void
task_iso8601(time_t when, char *buf, size_t len)
{
	struct tm tm;

	if (gmtime_r(&when, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "?");
}

static int
tasks_envelope(struct task_ctx *t, json_object *req, const char **name)
{
	json_object *params;

	if (!json_object_is_type(req, json_type_object))
		return task_fail(t, 700, "Invalid request: not a JSON object");
	if ((*name = jsonx_get_string(req, "TASK")) == NULL)
		return task_fail(t, 700, "Invalid request: no TASK");
	snprintf(t->task, sizeof(t->task), "%s", *name);
	if (!json_object_object_get_ex(req, "params", &params)) {
		/* Added to the request, which then owns it like a sent one. */
		params = json_object_new_object();
		json_object_object_add(req, "params", params);
	}
	if (!json_object_is_type(params, json_type_object))
		return task_fail(t, 700, "Invalid request: params is not an object");
	t->params = params;
	return 0;
}

/*
 * Switches a test turns on while the CA runs, by making a file in its
 * directory: "refuse-TASK" has the CA refuse that task; "hold-TASK" keeps
 * a request for it unanswered and undone for as long as the file is there
 * (a test kills a process meanwhile).  Only names of known tasks get here.
 */
static bool
tasks_switch(const struct devca *dc, const char *what, const char *task)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s-%s", dc->opts->dir, what, task);

	return n > 0 && (size_t)n < sizeof(path) && access(path, F_OK) == 0;
}

static void
tasks_hold(const struct devca *dc, const char *task)
{
	struct timespec tick = { 0, 20 * 1000000L };

	if (!tasks_switch(dc, "hold", task))
		return;
	log_info("holding %s while hold-%s exists", task, task);
	while (tasks_switch(dc, "hold", task))
		nanosleep(&tick, NULL);
	log_info("released %s", task);
}

static void
tasks_dispatch(struct task_ctx *t, const char *name, bool registration)
{
	const struct task_def *def = registration ? tasks_reg : tasks_ops;

	for (; def->name != NULL; def++)
		if (strcmp(def->name, name) == 0)
			break;
	if (def->name == NULL) {
		task_fail(t, 700, "Unknown task: %.64s", name);
		return;
	}
	tasks_hold(t->dc, def->name);
	if (tasks_switch(t->dc, "refuse", def->name)) {
		task_fail(t, 300, "Refused: refuse-%s is set", def->name);
		return;
	}
	if (def->fn(t) != 0)
		return;         /* task_fail has said why */
	if (t->data == NULL) {
		task_fail(t, 600, "Out of memory");
		return;
	}
	t->ok = true;
}

static char *
tasks_reply(struct task_ctx *t)
{
	json_object *r = json_object_new_object();
	char *s;

	if (t->ok) {
		json_object_object_add(r, "EVENT", json_object_new_string("ANSWER"));
		json_object_object_add(r, "DATA", t->data);
		t->data = NULL;
	} else {
		json_object_object_add(r, "EVENT", json_object_new_string("UPKI ERROR"));
		json_object_object_add(r, "MSG", json_object_new_string(t->error));
	}
	s = strdup(jsonx_print(r));
	json_object_put(r);
	return s;
}

/* Parses and runs one request; msg NULL stands for a request of several
 * frames.  Returns the reply to send (free() it), and leaves in *t what
 * tasks.log records. */
char *
tasks_handle(struct devca *dc, bool registration, const char *msg, size_t len,
    struct task_ctx *t)
{
	const char *name = NULL;
	json_object *req;
	char err[128];
	char *reply;

	memset(t, 0, sizeof(*t));
	t->dc = dc;
	snprintf(t->task, sizeof(t->task), "-");
	if (msg == NULL) {
		task_fail(t, 700, "Invalid request: more than one frame");
		return tasks_reply(t);
	}
	if ((req = jsonx_parse(msg, len, DEVCA_MAX_MSG, err, sizeof(err))) == NULL) {
		task_fail(t, 700, "Invalid request: %s", err);
		return tasks_reply(t);
	}
	if (tasks_envelope(t, req, &name) == 0)
		tasks_dispatch(t, name, registration);
	reply = tasks_reply(t);
	json_object_put(req);
	return reply;
}
