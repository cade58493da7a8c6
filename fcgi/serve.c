/*
 * `upki-ra serve`: takes the listening socket, migrates the store once in
 * the master (so workers never race on it), then hands over to the pool.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "acme_profiles.h"
#include "addrrate.h"
#include "front.h"
#include "listen.h"
#include "nonce.h"
#include "log.h"
#include "pool.h"
#include "ra.h"
#include "store.h"
#include "validator.h"
#include "wakeup.h"
#include "worker.h"

int
cmd_serve(const struct config *cfg)
{
	struct pool_role roles[] = {
		{ "worker", cfg->workers, worker_main, worker_reaped },
		{ "spare worker", cfg->spare_workers, worker_spare_main, worker_reaped },
		{ "validator", cfg->validators, validator_main, NULL },
	};
	char spec[PATH_MAX], desc[PATH_MAX + 64];
	int fd, rc;

	if (ra_data_dir_init(cfg) != 0 || front_secret_load(cfg) != 0 ||
	    acme_profiles_check_ca(cfg) != 0)
		return 1;
	/* What the children must not inherit: the seed (serve run with it in
	 * its environment) and the way to systemd's credentials. */
	ra_env_forget("UPKI_CA_SEED");
	ra_env_forget("CREDENTIALS_DIRECTORY");
	/* Before fork: every worker must accept the nonces of every other,
	 * be able to wake every validator, and every writer the others. */
	if (nonce_init() != 0) {
		log_error("cannot make the nonce key");
		return 1;
	}
	if (addrrate_init() != 0) {
		log_error("cannot map the new-account counters");
		return 1;
	}
	if (wakeup_init() != 0) {
		log_error("cannot make the validators' wake-up eventfd");
		return 1;
	}
	if (store_share_init() != 0) {
		log_error("cannot map the store's shared wake-up counter");
		return 1;
	}
	if (cfg->listen[0] != '\0')
		snprintf(spec, sizeof(spec), "%s", cfg->listen);
	else if (config_path(cfg, "fcgi.sock", spec, sizeof(spec)) != 0) {
		log_error("data directory path too long: %s", cfg->data_dir);
		return 1;
	}
	if ((fd = listen_open(spec, desc, sizeof(desc))) < 0)
		return 1;
	log_info("serving FastCGI on %s with %d workers and %d spare (CA %s:%d)", desc,
	    cfg->workers, cfg->spare_workers, cfg->ca_host, cfg->ca_port);
	rc = pool_run(cfg, fd, roles, (int)(sizeof(roles) / sizeof(roles[0])), selfcert_tick);
	close(fd);
	/* A socket we made ourselves goes with us, so that nothing connects
	 * to a dead socket file; an inherited one belongs to whoever passed it. */
	if (strcmp(desc, spec) == 0 && strchr(spec, '/') != NULL)
		unlink(spec);
	return rc;
}
