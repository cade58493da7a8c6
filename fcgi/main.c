/*
 * upki-ra: command-line entry.  `upki-ra [options] COMMAND [args]`; options
 * may come before or after the command.  Each failure ends with exactly one
 * line on stderr and exit code 1.
 */
#include <malloc.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acme_profiles.h"
#include "addrpolicy.h"
#include "config.h"
#include "log.h"
#include "ra.h"

/* The installed settings (make install's $(CONFDIR)/upki-ra.env). */
#ifndef RA_ENV_FILE
#define RA_ENV_FILE "/etc/upki-ra/upki-ra.env"
#endif

struct ra_args {
	const char *command;
	const char *operands[2];        /* admin ACTION [DN] */
	int noperands;
	char *seed;             /* register and start only */
	struct admin_args admin;        /* admin's own options */
};

/* The options of one command, which are no settings. */
static const char **
ra_command_option(struct ra_args *args, const char *name)
{
	if (strcmp(name, "out") == 0)
		return &args->admin.out;
	if (strcmp(name, "password-file") == 0)
		return &args->admin.password_file;
	if (strcmp(name, "cert") == 0)
		return &args->admin.cert;
	return NULL;
}

/*
 * SQLite drops a connection's whole page cache when another process has
 * written since its last transaction, so every request after a write frees
 * and reallocates a few hundred KiB.  With glibc's default trim threshold
 * the freed top of the heap goes back to the kernel and comes straight back
 * again: two brk calls, and the shrink is a TLB shootdown, an interrupt to
 * every CPU the process's threads (libzmq's, libcurl's) ran on.  A fixed
 * threshold above that churn keeps those pages; 1 MiB was enough for no brk
 * at all under issuance, and still gives back what a larger purge frees.
 * (Setting it also fixes glibc's mmap threshold, hence the second call:
 * nothing a request allocates is mapped and unmapped on its own.)
 */
static void
ra_malloc_tune(void)
{
	mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
	mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
}

/* A bad UPKI_RA_VALIDATION_ALLOW would otherwise fail every validation. */
static int
ra_check_validation_allow(const struct config *cfg)
{
	struct addrpolicy policy;
	char err[128];

	if (addrpolicy_parse(&policy, cfg->validation_allow, err, sizeof(err)) == 0)
		return 0;
	fprintf(stderr, "upki-ra: invalid UPKI_RA_VALIDATION_ALLOW: %s\n", err);
	return -1;
}

static void
ra_usage(FILE *out)
{
	fprintf(out,
	    "usage: upki-ra [options] command\n"
	    "\n"
	    "commands:\n"
	    "  init        create the data directory and the store (idempotent)\n"
	    "  register    register with the CA (--seed S, UPKI_CA_SEED, or the systemd\n"
	    "              credential 'seed') and write\n"
	    "              ra.crt, ra.key and ca.crt\n"
	    "  serve       run the FastCGI master and its workers (also: listen)\n"
	    "  start       register if ra.crt or ra.key is missing (in a child process:\n"
	    "              the seed never reaches the workers), then serve\n"
	    "  crl         fetch the CRL from the CA and write crl.pem\n"
	    "  reissue     replace ra.crt and ra.key now: a fresh key, the SANs of --sans\n"
	    "              (else those of ra.crt), signed by the CA's ra profile\n"
	    "  admin add|remove DN, admin add --cert FILE, admin list\n"
	    "              the RA's own admin list\n"
	    "  admin enrol CN [--out DIR] [--password-file FILE]\n"
	    "              the first admin: has the CA sign an admin certificate and\n"
	    "              writes CN.key, CN.crt and CN.p12\n"
	    "\n"
	    "options (each also an environment variable):\n");
	config_usage(out);
	fprintf(out, "  --env-file FILE   the settings of a systemd EnvironmentFile=, under the\n"
	    "                    environment (also UPKI_RA_ENV_FILE; default: "
	    RA_ENV_FILE " when it exists)\n"
	    "  --help, --version\n"
	    "\n"
	    "the reference uPKI RA's flags, as other names of the same settings:\n"
	    "  -d, --dir DIR       --data-dir      -i, --ip IP    --ca-host\n"
	    "  -p, --port PORT     --ca-port       --web-ip IP    --ra-host\n"
	    "  --web-port PORT     --ra-port       --debug        --log-level debug\n"
	    "  -s SEED             --seed          -c CN          --cn\n"
	    "  after listen, -i and -p are --ra-host and --ra-port\n");
}

/*
 * The reference uPKI RA's flags (`ra_server.py [-d DIR] [-i CA_IP] [-p
 * CA_PORT] [--web-ip IP] [--web-port PORT] [--debug] listen`, `register -s
 * SEED`), so that its scripts and container entrypoints run unchanged: each
 * is another name of a setting.  Its first version took `listen -i IP -p
 * PORT` for the web address: after `listen`, -i and -p are that.
 */
static const char *
ra_alias(const char *name, bool is_short, const struct ra_args *args)
{
	static const char *const longs[][2] = { { "dir", "data-dir" }, { "ip", "ca-host" },
	    { "port", "ca-port" }, { "web-ip", "ra-host" }, { "web-port", "ra-port" } };
	bool listen = args->command != NULL && strcmp(args->command, "listen") == 0;

	if (is_short) {
		switch (name[1] == '\0' ? name[0] : '\0') {
		case 'd': return "data-dir";
		case 'i': return listen ? "ra-host" : "ca-host";
		case 'p': return listen ? "ra-port" : "ca-port";
		case 's': return "seed";
		case 'c': return "cn";
		default: return NULL;
		}
	}
	for (size_t i = 0; i < sizeof(longs) / sizeof(longs[0]); i++)
		if (strcmp(name, longs[i][0]) == 0)
			return longs[i][1];
	return name;
}

/* Splits "--name=value" / "--name value" / "-x value"; returns the index of
 * the last argv element consumed, or -1 with a message. */
static int
ra_parse_flag(struct config *cfg, struct ra_args *args, int argc, char **argv, int i,
    char *err, size_t errlen)
{
	char given[64];
	bool is_short = argv[i][1] != '-';
	char *arg = argv[i] + (is_short ? 1 : 2), *eq = is_short ? NULL : strchr(arg, '=');
	size_t n = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
	const char *name;
	char *value;

	if (n >= sizeof(given)) {
		snprintf(err, errlen, "unknown option %.64s", argv[i]);
		return -1;
	}
	memcpy(given, arg, n);
	given[n] = '\0';
	if (!is_short && strcmp(given, "debug") == 0 && eq == NULL)
		return config_set(cfg, "log-level", "debug", err, errlen) == 0 ? i : -1;
	name = ra_alias(given, is_short, args);
	if (name == NULL || (strcmp(name, "seed") != 0 && strcmp(name, "env-file") != 0 &&
	    ra_command_option(args, name) == NULL && !config_has_flag(name))) {
		/* The name only: a mistyped --seed=... must not print the seed. */
		snprintf(err, errlen, "unknown option %s%s", is_short ? "-" : "--", given);
		return -1;
	}
	if (eq != NULL) {
		value = eq + 1;
	} else if (i + 1 < argc) {
		value = argv[++i];
	} else {
		snprintf(err, errlen, "option %.64s needs a value", argv[i]);
		return -1;
	}
	if (strcmp(name, "seed") == 0) {
		args->seed = value;
		return i;
	}
	if (strcmp(name, "env-file") == 0)
		return i;       /* read before the settings: ra_env_file */
	if (ra_command_option(args, name) != NULL) {
		*ra_command_option(args, name) = value;
		return i;
	}
	return config_set(cfg, name, value, err, errlen) == 0 ? i : -1;
}

static int
ra_parse_args(struct config *cfg, struct ra_args *args, int argc, char **argv,
    char *err, size_t errlen)
{
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-' && argv[i][1] != '\0') {
			if ((i = ra_parse_flag(cfg, args, argc, argv, i, err, errlen)) < 0)
				return -1;
		} else if (args->command == NULL) {
			args->command = argv[i];
		} else if (strcmp(args->command, "admin") == 0 && args->noperands < 2) {
			args->operands[args->noperands++] = argv[i];
		} else {
			snprintf(err, errlen, "unexpected argument '%.64s'", argv[i]);
			return -1;
		}
	}
	if (args->command == NULL) {
		snprintf(err, errlen, "no command given (try --help)");
		return -1;
	}
	if (args->seed != NULL && strcmp(args->command, "register") != 0 &&
	    strcmp(args->command, "start") != 0) {
		snprintf(err, errlen, "--seed is only for register and start");
		return -1;
	}
	if ((args->admin.out != NULL || args->admin.password_file != NULL ||
	    args->admin.cert != NULL) && strcmp(args->command, "admin") != 0) {
		snprintf(err, errlen, "--out, --password-file and --cert are only for admin");
		return -1;
	}
	return 0;
}

/*
 * A command run by hand reads the settings the service has: --env-file FILE,
 * else UPKI_RA_ENV_FILE (empty: none), else the installed file when there
 * is one.  A process systemd started (INVOCATION_ID) got that file through
 * EnvironmentFile= already, and may not be allowed to read it.
 */
static int
ra_env_file(int argc, char **argv, char *err, size_t errlen)
{
	const char *path = getenv("UPKI_RA_ENV_FILE");
	struct stat st;

	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--env-file=", 11) == 0)
			path = argv[i] + 11;
		else if (strcmp(argv[i], "--env-file") == 0 && i + 1 < argc)
			path = argv[++i];
	}
	if (path != NULL)
		return *path == '\0' ? 0 : config_env_file(path, err, errlen);
	if (getenv("INVOCATION_ID") != NULL || stat(RA_ENV_FILE, &st) != 0)
		return 0;
	if (config_env_file(RA_ENV_FILE, err, errlen) != 0)
		fprintf(stderr, "upki-ra: warning: %s; its settings are not applied "
		    "(UPKI_RA_ENV_FILE= reads none)\n", err);
	return 0;
}

/*
 * root running a command by hand on a data directory that the service's
 * user owns would leave files it cannot write (crl.pem, the store's -wal):
 * refused, with the command that works.  serve and start run as whoever
 * the service manager says.
 */
static int
ra_check_owner(const struct config *cfg, const char *command)
{
	struct stat st;
	struct passwd *pw;

	if (geteuid() != 0 || strcmp(command, "serve") == 0 || strcmp(command, "listen") == 0 ||
	    strcmp(command, "start") == 0 || stat(cfg->data_dir, &st) != 0 || st.st_uid == 0)
		return 0;
	pw = getpwuid(st.st_uid);
	fprintf(stderr, "upki-ra: %s belongs to %s: run this as that user, so that what it "
	    "writes stays theirs: runuser -u %s -- upki-ra ...\n", cfg->data_dir,
	    pw != NULL ? pw->pw_name : "another user", pw != NULL ? pw->pw_name : "USER");
	return -1;
}

int
main(int argc, char **argv)
{
	struct config cfg;
	struct ra_args args = { 0 };
	char err[256];
	int level;

	/* The store and the keys are the RA's alone; files meant for others
	 * (ca.crt, crl.pem, the socket) get their modes explicitly. */
	umask(077);
	ra_malloc_tune();
	log_init("upki-ra", LOG_LEVEL_INFO);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			ra_usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("upki-ra %s\n", RA_VERSION);
			return 0;
		}
	}
	if (ra_env_file(argc, argv, err, sizeof(err)) != 0 ||
	    config_load(&cfg, err, sizeof(err)) != 0 ||
	    ra_parse_args(&cfg, &args, argc, argv, err, sizeof(err)) != 0) {
		fprintf(stderr, "upki-ra: %s\n", err);
		return 1;
	}
	if (ra_check_owner(&cfg, args.command) != 0)
		return 1;
	if ((level = log_level_parse(cfg.log_level)) < 0) {
		fprintf(stderr, "upki-ra: invalid log level '%s'\n", cfg.log_level);
		return 1;
	}
	log_init("upki-ra", (enum log_level)level);

	if (strcmp(args.command, "init") == 0)
		return cmd_init(&cfg);
	if (strcmp(args.command, "register") == 0)
		return cmd_register(&cfg, args.seed);
	if ((strcmp(args.command, "serve") == 0 || strcmp(args.command, "listen") == 0 ||
	    strcmp(args.command, "start") == 0) &&
	    (ra_check_validation_allow(&cfg) != 0 || acme_profiles_check_names(&cfg) != 0))
		return 1;
	if (strcmp(args.command, "serve") == 0 || strcmp(args.command, "listen") == 0)
		return cmd_serve(&cfg);
	if (strcmp(args.command, "start") == 0)
		return cmd_start(&cfg, args.seed);
	if (strcmp(args.command, "crl") == 0)
		return cmd_crl(&cfg);
	if (strcmp(args.command, "reissue") == 0)
		return cmd_reissue(&cfg);
	if (strcmp(args.command, "admin") == 0) {
		args.admin.action = args.operands[0];
		args.admin.arg = args.operands[1];
		return cmd_admin(&cfg, &args.admin);
	}
	fprintf(stderr, "upki-ra: unknown command '%.64s' (try --help)\n", args.command);
	return 1;
}
