/*
 * upki-devca: the command line.  See devca.h for what the program is.
 */
#include "devca.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "log.h"

enum {
	MAIN_OPT_DIR = 256, MAIN_OPT_HOST, MAIN_OPT_PORT, MAIN_OPT_REG_PORT, MAIN_OPT_SEED,
	MAIN_OPT_REFUSE_CNLESS, MAIN_OPT_SLOW_MS, MAIN_OPT_RESERVED, MAIN_OPT_RA_SECONDS,
};

static const struct option main_options[] = {
	{ "dir", required_argument, NULL, MAIN_OPT_DIR },
	{ "host", required_argument, NULL, MAIN_OPT_HOST },
	{ "port", required_argument, NULL, MAIN_OPT_PORT },
	{ "reg-port", required_argument, NULL, MAIN_OPT_REG_PORT },
	{ "seed", required_argument, NULL, MAIN_OPT_SEED },
	{ "refuse-cnless", no_argument, NULL, MAIN_OPT_REFUSE_CNLESS },
	{ "slow-ms", required_argument, NULL, MAIN_OPT_SLOW_MS },
	{ "ra-seconds", required_argument, NULL, MAIN_OPT_RA_SECONDS },
	{ "reserved", required_argument, NULL, MAIN_OPT_RESERVED },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void
main_usage(FILE *out)
{
	fprintf(out,
	    "usage: upki-devca --dir DIR [--host 127.0.0.1] [--port 5000] [--reg-port PORT+1]\n"
	    "                  [--seed SEED] [--refuse-cnless] [--slow-ms N]\n"
	    "                  [--reserved localhost,...] [--ra-seconds N]\n"
	    "The seed comes from --seed or UPKI_CA_SEED.  Port 0 binds a free port;\n"
	    "the ready line on stderr shows the ones bound.\n");
}

static int
main_int(const char *name, const char *value, int min, int max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || v < min || v > max) {
		log_error("--%s: want a number from %d to %d", name, min, max);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* Splits list in place; the names point into it. */
static int
main_reserved(struct devca_opts *opts, char *list)
{
	char *name;

	opts->nreserved = 0;
	while ((name = strsep(&list, ",")) != NULL) {
		if (*name == '\0')
			continue;
		if (opts->nreserved == DEVCA_MAX_RESERVED) {
			log_error("--reserved: at most %d names", DEVCA_MAX_RESERVED);
			return -1;
		}
		opts->reserved[opts->nreserved++] = name;
	}
	return 0;
}

static int
main_option(struct devca_opts *opts, int c, const char *arg, const char **reserved)
{
	switch (c) {
	case MAIN_OPT_DIR:
		opts->dir = arg;
		return 0;
	case MAIN_OPT_HOST:
		opts->host = arg;
		return 0;
	case MAIN_OPT_PORT:
		return main_int("port", arg, 0, 65535, &opts->port);
	case MAIN_OPT_REG_PORT:
		return main_int("reg-port", arg, 0, 65535, &opts->reg_port);
	case MAIN_OPT_SEED:
		opts->seed = arg;
		return 0;
	case MAIN_OPT_REFUSE_CNLESS:
		opts->refuse_cnless = true;
		return 0;
	case MAIN_OPT_SLOW_MS:
		return main_int("slow-ms", arg, 0, 600000, &opts->slow_ms);
	case MAIN_OPT_RA_SECONDS:
		return main_int("ra-seconds", arg, 0, 86400, &opts->ra_seconds);
	case MAIN_OPT_RESERVED:
		*reserved = arg;
		return 0;
	default:
		return -1;
	}
}

/* 0 to run, 1 for --help, -1 on a usage error. */
static int
main_parse(int argc, char **argv, struct devca_opts *opts, const char **reserved)
{
	int c;

	while ((c = getopt_long(argc, argv, "h", main_options, NULL)) != -1) {
		if (c == 'h')
			return 1;
		if (main_option(opts, c, optarg, reserved) != 0)
			return -1;
	}
	if (optind != argc || opts->dir == NULL) {
		log_error("%s", optind != argc ? "unexpected argument" : "--dir is required");
		return -1;
	}
	if (opts->reg_port < 0 && opts->port == 65535) {
		log_error("--port 65535 leaves no room for the registration port");
		return -1;
	}
	if (opts->reg_port < 0)
		opts->reg_port = opts->port == 0 ? 0 : opts->port + 1;
	if (opts->seed == NULL)
		opts->seed = getenv("UPKI_CA_SEED");
	if (opts->seed == NULL || *opts->seed == '\0') {
		log_error("no registration seed: give --seed or set UPKI_CA_SEED");
		return -1;
	}
	return 0;
}

static int
main_run(struct devca *dc)
{
	char path[PATH_MAX];
	int n, rc;

	if (fs_mkdirs(dc->opts->dir, 0700) != 0) {
		log_error("cannot create %s: %s", dc->opts->dir, strerror(errno));
		return -1;
	}
	n = snprintf(path, sizeof(path), "%s/registry.db", dc->opts->dir);
	if (n < 0 || (size_t)n >= sizeof(path) || authority_open(&dc->ca, dc->opts->dir) != 0)
		return -1;
	if ((dc->reg = registry_open(path)) == NULL) {
		authority_close(&dc->ca);
		return -1;
	}
	rc = server_run(dc);
	registry_close(dc->reg);
	authority_close(&dc->ca);
	return rc;
}

int
main(int argc, char **argv)
{
	struct devca_opts opts = { .host = "127.0.0.1", .port = 5000, .reg_port = -1 };
	struct devca dc = { .opts = &opts };
	const char *reserved = "localhost";
	char *list;
	int rc;

	log_init("upki-devca", LOG_LEVEL_INFO);
	if ((rc = main_parse(argc, argv, &opts, &reserved)) != 0) {
		main_usage(rc > 0 ? stdout : stderr);
		return rc > 0 ? 0 : 2;
	}
	if ((list = strdup(reserved)) == NULL || main_reserved(&opts, list) != 0) {
		free(list);
		return 2;
	}
	rc = main_run(&dc) == 0 ? 0 : 1;
	free(list);
	return rc;
}
