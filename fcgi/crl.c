/*
 * crl.pem for nginx's ssl_crl: fetched from the CA (base64 DER there, PEM
 * here) and replaced atomically, so a reload never reads half a file.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "log.h"
#include "ra.h"

int
ra_crl_refresh(const struct config *cfg, struct ca_client *ca, bool fresh, char *msg,
    size_t msglen)
{
	char path[PATH_MAX], *pem;
	int rc;

	if (ca_get_crl_pem(ca, fresh, &pem, msg, msglen) != CA_OK)
		return -1;
	if (config_path(cfg, "crl.pem", path, sizeof(path)) != 0) {
		snprintf(msg, msglen, "data directory path too long");
		free(pem);
		return -1;
	}
	rc = fs_write_atomic(path, pem, strlen(pem), 0644);
	if (rc != 0)
		snprintf(msg, msglen, "cannot write %s: %s", path, strerror(errno));
	free(pem);
	return rc;
}

int
crl_publish(const struct config *cfg, struct ca_client *ca, char *msg, size_t msglen)
{
	if (ra_crl_refresh(cfg, ca, true, msg, msglen) != 0) {
		log_warn("CRL refresh failed: %s", msg);
		return -1;
	}
	ra_nginx_reload(cfg);
	return 0;
}

int
cmd_crl(const struct config *cfg)
{
	struct ca_client *ca;
	char msg[512];
	int rc;

	if ((ca = ca_client_new(cfg->ca_host, cfg->ca_port, cfg->ca_timeout_ms)) == NULL) {
		log_error("out of memory");
		return 1;
	}
	rc = ra_crl_refresh(cfg, ca, false, msg, sizeof(msg));
	ca_client_free(ca);
	if (rc != 0) {
		log_error("CRL refresh failed: %s", msg);
		return 1;
	}
	log_info("wrote %s/crl.pem", cfg->data_dir);
	ra_nginx_reload(cfg);
	return 0;
}

void
ra_nginx_reload(const struct config *cfg)
{
	char *text;
	long pid;

	if (cfg->nginx_pid[0] == '\0')
		return;
	if ((text = fs_read(cfg->nginx_pid, 64, NULL)) == NULL) {
		log_warn("cannot read nginx pid file %s: %s", cfg->nginx_pid, strerror(errno));
		return;
	}
	pid = strtol(text, NULL, 10);
	free(text);
	if (pid <= 1 || kill((pid_t)pid, SIGHUP) != 0)
		log_warn("cannot signal nginx (pid %ld) to reload", pid);
}
