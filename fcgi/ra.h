/*
 * What every part of the upki-ra program shares: the per-process context
 * handed to handlers, and the entry points of the commands.
 */
#ifndef UPKI_RA_H
#define UPKI_RA_H

#include <stdbool.h>

#include "ca.h"
#include "cert.h"
#include "certcheck.h"
#include "config.h"
#include "store.h"

#define RA_VERSION "0.1.0"

/* One per worker process, made after fork. */
struct ra_ctx {
	const struct config *cfg;
	struct store *store;
	struct ca_client *ca;
	struct cert_file ca_crt;        /* ca.crt: issue.c */
	struct certcheck *clients;      /* client certificates: auth.c */
};

/* Commands (main.c dispatches); each returns the process exit code. */
int cmd_init(const struct config *cfg);
/* register and start wipe the seed they were given (argv memory) once read. */
int cmd_register(const struct config *cfg, char *seed);
int cmd_serve(const struct config *cfg);
int cmd_start(const struct config *cfg, char *seed);
int cmd_crl(const struct config *cfg);
/* `admin ACTION [ARG]` and the options only admin takes. */
struct admin_args {
	const char *action;
	const char *arg;                /* add, remove: the DN; enrol: the CN */
	const char *out;                /* enrol: --out DIR */
	const char *password_file;      /* enrol: --password-file FILE */
	const char *cert;               /* add: --cert FILE */
};
int cmd_admin(const struct config *cfg, const struct admin_args *a);

/* Bootstrap pieces shared by init, register and start (bootstrap.c). */
/* Zeroes a variable's value in place, then removes it. */
void ra_env_forget(const char *name);
int ra_data_dir_init(const struct config *cfg);
int ra_store_path(const struct config *cfg, char *out, size_t outlen);
/* Fetches the CA's current CRL, or a fresh one, and writes crl.pem. */
int ra_crl_refresh(const struct config *cfg, struct ca_client *ca, bool fresh, char *msg,
    size_t msglen);
/* After every change of revocation at the CA: a fresh CRL into crl.pem,
 * and nginx reloaded to read it.  Logs a failure at warn. */
int crl_publish(const struct config *cfg, struct ca_client *ca, char *msg, size_t msglen);

/* ra.crt and ra.key replaced by a fresh key and the CA's certificate for
 * it (profile `ra`), for the CN of the current ra.crt and sans ("a,b"; NULL
 * or "": the current ones); nginx reloaded (selfcert.c). */
int ra_self_reissue(const struct config *cfg, struct ca_client *ca, const char *sans,
    char *msg, size_t msglen);
/* The master's look at ra.crt and ca.crt, called every little while:
 * renews ra.crt in a child process once it is due. */
void selfcert_tick(const struct config *cfg);
int cmd_reissue(const struct config *cfg);
/* The first SAN of ra.crt, as the host of a URL: a name the RA's
 * certificate is valid for.  -1 when there is none. */
int ra_self_name(const struct config *cfg, char *out, size_t outlen);
/* Adds "certificates" (ra.crt and ca.crt: their end, the renewal time,
 * a status) and "warnings" (what needs an operator) to data. */
void ra_self_status(const struct config *cfg, json_object *data);

/* Has nginx (pid in UPKI_RA_NGINX_PID's file) reload, so it reads the new
 * crl.pem.  Quietly does nothing when no pid file is configured. */
void ra_nginx_reload(const struct config *cfg);

#endif
