/*
 * A validator process: takes challenges that clients have answered out of
 * the store, checks them over the network (common/validate.c) and records
 * the outcome.  It also does the store's housekeeping.
 *
 * A challenge is leased, not locked: if this process dies during a check,
 * the lease runs out and another validator takes the challenge again; after
 * VALIDATOR_MAX_ATTEMPTS the challenge fails instead, so none stays
 * "processing" for ever.  Its upkeep also settles issuances a dead worker
 * left between superseding a certificate and recording the new one
 * (issue_recover), which needs the CA: a validator has a CA client for
 * that alone.
 */
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acme.h"
#include "issue.h"
#include "jsonx.h"
#include "jws.h"
#include "log.h"
#include "mono.h"
#include "store_acme.h"
#include "store_authz.h"
#include "validate.h"
#include "validator.h"
#include "wakeup.h"

/* Workers ring wakeup_ring(); the idle wait is the safety net (a lease
 * run out, a ring lost with a dying worker) and the checkpoint clock. */
#define VALIDATOR_IDLE_MS 200
#define VALIDATOR_CHECKPOINT_MS 200
#define VALIDATOR_MAX_ATTEMPTS 3
#define VALIDATOR_SWEEP_SECONDS 60
/* How often issuances left half done by a dead worker are looked for. */
#define VALIDATOR_RECOVER_SECONDS 5
/* Longer than a whole check (total timeout) can take. */
#define VALIDATOR_LEASE_SECONDS 60

static volatile sig_atomic_t validator_stopping;

static void
validator_on_term(int sig)
{
	(void)sig;
	validator_stopping = 1;
}

static void
validator_opts(const struct config *cfg, struct validate_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->dns_server = cfg->dns_server;
	o->allow = cfg->validation_allow;
	o->http_port = cfg->http01_port;
	o->tlsalpn_port = cfg->tlsalpn01_port;
	o->connect_timeout_ms = 5000;
	o->total_timeout_ms = 15000;
}

static enum validate_result
validator_check(const struct validate_opts *o, const struct store_challenge_lease *w,
    const char *keyauth, char *detail, size_t detlen)
{
	if (strcmp(w->type, "http-01") == 0)
		return validate_http01(o, w->ident_type, w->ident_value, w->token, keyauth,
		    detail, detlen);
	if (strcmp(w->type, "dns-01") == 0)
		return validate_dns01(o, w->ident_value, keyauth, detail, detlen);
	if (strcmp(w->type, "tls-alpn-01") == 0)
		return validate_tlsalpn01(o, w->ident_type, w->ident_value, keyauth, detail,
		    detlen);
	snprintf(detail, detlen, "unknown challenge type %s", w->type);
	return VALIDATE_INCORRECT;
}

static void
validator_run_one(struct store *st, const struct validate_opts *o,
    struct store_challenge_lease *w)
{
	char *keyauth = jwk_key_authorization(w->token, w->thumbprint), detail[512] = "";
	json_object *problem = NULL;
	enum validate_result r;

	if (w->attempts > VALIDATOR_MAX_ATTEMPTS) {
		problem = acme_problem_json(ACME_ERR("serverInternal"),
		    "validation was interrupted %d times; try a new order", w->attempts - 1);
	} else if (keyauth == NULL) {
		problem = acme_problem_json(ACME_ERR("serverInternal"), "out of memory");
	} else if ((r = validator_check(o, w, keyauth, detail, sizeof(detail))) != VALIDATE_OK) {
		char type[64];

		snprintf(type, sizeof(type), "urn:ietf:params:acme:error:%s",
		    validate_error_type(r));
		problem = acme_problem_json(type, "%s", detail);
	}
	if (problem != NULL) {
		json_object *id = json_object_new_object();

		json_object_object_add(id, "type", json_object_new_string(w->ident_type));
		json_object_object_add(id, "value", json_object_new_string(w->ident_value));
		json_object_object_add(problem, "identifier", id);
		json_object_object_add(problem, "status", json_object_new_int(403));
	}
	log_info("validator: %s for %s %s: %s", w->type, w->ident_type, w->ident_value,
	    problem == NULL ? "valid" : detail[0] ? detail : "invalid");
	if (store_challenge_finish(st, w->challenge_id,
	    problem != NULL ? jsonx_print(problem) : NULL, time(NULL)) < 0)
		log_error("validator: cannot record the result of challenge %lld",
		    (long long)w->challenge_id);
	json_object_put(problem);
	free(keyauth);
}

int
validator_main(const struct config *cfg, int listen_fd)
{
	struct sigaction sa = { .sa_handler = validator_on_term };
	struct validate_opts opts;
	struct store_challenge_lease w;
	struct ra_ctx ctx = { .cfg = cfg };
	struct store *st;
	char path[PATH_MAX], err[256];
	time_t last_sweep = 0, last_recover = 0;
	int64_t last_checkpoint = 0;
	int rc, per_account;

	close(listen_fd);       /* validators serve no requests */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	sigaction(SIGTERM, &sa, NULL);
	if (ra_store_path(cfg, path, sizeof(path)) != 0 ||
	    store_open(path, &st, err, sizeof(err)) != 0) {
		log_error("validator: %s", err);
		return 1;
	}
	ctx.store = st;
	if ((ctx.ca = ca_client_new(cfg->ca_host, cfg->ca_port, cfg->ca_timeout_ms)) == NULL ||
	    validate_init() != 0) {
		log_error("validator: cannot initialise the CA client, libcurl and c-ares");
		ca_client_free(ctx.ca);
		store_close(st);
		return 1;
	}
	validator_opts(cfg, &opts);
	/* By default one account's checks never hold every validator: one
	 * stays free for everyone else (with one validator, they take turns). */
	per_account = cfg->validators_per_account > 0 ? cfg->validators_per_account :
	    cfg->validators > 1 ? cfg->validators - 1 : 1;
	while (!validator_stopping) {
		time_t now = time(NULL);

		if (now - last_sweep >= VALIDATOR_SWEEP_SECONDS) {
			if (store_acme_sweep(st, now) < 0)
				log_warn("validator: store housekeeping failed");
			last_sweep = now;
		}
		if (now - last_recover >= VALIDATOR_RECOVER_SECONDS) {
			issue_recover(&ctx);
			last_recover = now;
		}
		if (mono_ms() - last_checkpoint >= VALIDATOR_CHECKPOINT_MS) {
			store_checkpoint(st);
			last_checkpoint = mono_ms();
		}
		rc = store_challenge_claim(st, now, VALIDATOR_LEASE_SECONDS, per_account, &w);
		if (rc == 0)
			validator_run_one(st, &opts, &w);
		else
			wakeup_wait(VALIDATOR_IDLE_MS);
	}
	validate_cleanup();
	ca_client_free(ctx.ca);
	cert_file_free(&ctx.ca_crt);
	store_close(st);
	return 0;
}
