/*
 * The RA's settings.  Precedence: built-in default, then the environment
 * variable, then the command-line flag (man upki-ra lists them all).  The CA
 * seed is not a setting: it is read only by the registration
 * (fcgi/bootstrap.c), so no copy of it lives here and it cannot leak
 * through `GET /api/v1/config`.
 */
#ifndef UPKI_CONFIG_H
#define UPKI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <json-c/json.h>

#define CONFIG_STR 512

struct config {
	char data_dir[CONFIG_STR];
	char ca_host[CONFIG_STR];
	int ca_port;            /* operations; registration is ca_port + 1 */
	int ca_timeout_ms;
	char ra_host[CONFIG_STR];
	int ra_port;
	bool ra_tls;
	char ra_cn[CONFIG_STR];
	char ra_sans[CONFIG_STR];
	char base_url[CONFIG_STR];
	char dns_server[CONFIG_STR];
	int http01_port;
	int tlsalpn01_port;
	char validation_allow[CONFIG_STR]; /* CIDRs validation may reach after all */
	char acme_profile[CONFIG_STR];     /* default profile for ACME orders */
	char acme_profiles[CONFIG_STR];    /* profiles an order may ask for */
	bool acme_client_auth;             /* ... even ones with clientAuth */
	char allowed_names[CONFIG_STR];    /* DNS suffixes; "" allows any */
	int validators;
	int validators_per_account;        /* 0: all but one, at least one */
	bool eab_required;                 /* accounts need an admin's EAB key */
	bool share_cn;                     /* owners may take each other's CN */
	int rate_orders;                   /* new orders per account per hour */
	int rate_inflight;                 /* challenges being validated, per account */
	int rate_pending_authz;            /* pending authorizations per account */
	int rate_failed;                   /* failed validations per account per hour */
	int rate_accounts;                 /* new accounts per client address per hour */
	char nginx_pid[CONFIG_STR];        /* nginx's pid file, to reload it */
	int token_ttl;                     /* enrolment tokens, seconds */
	int admin_cache_s;                 /* how long the CA's admin list is kept */
	char tos_url[CONFIG_STR];
	char openapi_file[CONFIG_STR];     /* "": beside the program */
	char caa_identity[CONFIG_STR];     /* "": derived, see config_caa_identity */
	char listen[CONFIG_STR]; /* FastCGI socket; empty = <data_dir>/fcgi.sock */
	char fcgi_auth_file[CONFIG_STR]; /* nginx's include file of the secret */
	int workers;
	int spare_workers;      /* answer one request per connection, keep none */
	char log_level[16];
};

/* The UPKI_ variables of a systemd EnvironmentFile= ("KEY=value" lines,
 * '#' comments, optional quotes) into the environment, where a variable
 * that is set already wins, as it does over systemd's file.  Before
 * config_load; -1 with a message when the file cannot be read. */
int config_env_file(const char *path, char *err, size_t errlen);
/* Defaults, then the environment.  Fails on an unparsable value. */
int config_load(struct config *cfg, char *err, size_t errlen);
/* Applies one command-line flag (name without the leading dashes).
 * Returns -1 with a message for an unknown flag or a bad value. */
int config_set(struct config *cfg, const char *flag, const char *value, char *err,
    size_t errlen);
/* True when flag names a setting (and so takes a value). */
bool config_has_flag(const char *flag);
/* Writes "  --flag VALUE   (ENV, default D)" lines for --help. */
void config_usage(FILE *out);

/* Paths inside the data directory. */
int config_path(const struct config *cfg, const char *name, char *out, size_t outlen);

/* The domain name of the ACME directory's caaIdentities (RFC 8659): the
 * setting, else the host of the base URL, else the CN when it is a domain
 * name; -1 when there is none. */
int config_caa_identity(const struct config *cfg, char *out, size_t outlen);

/* The effective settings as JSON, for GET /api/v1/config. */
json_object *config_to_json(const struct config *cfg);

#endif
