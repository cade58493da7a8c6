#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "upki";
static enum log_level log_max = LOG_LEVEL_INFO;
/* journald prefixes the name and the pid of the service's main process;
 * the pid of the worker that wrote the line is still worth a mention. */
static int log_journal;

static const char *const log_names[] = { "error", "warn", "info", "debug" };

void
log_init(const char *prog, enum log_level level)
{
	log_prog = prog;
	log_max = level;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

int
log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++)
		if (strcmp(name, log_names[i]) == 0)
			return (int)i;
	return -1;
}

static void
log_write(enum log_level level, const char *fmt, va_list ap)
{
	char line[1024];
	int n;

	if (level > log_max)
		return;
	/* One write(2) per line keeps lines from several processes whole. */
	if (log_journal)
		n = snprintf(line, sizeof(line), "[%ld] %s: ", (long)getpid(), log_names[level]);
	else
		n = snprintf(line, sizeof(line), "%s[%ld]: %s: ", log_prog, (long)getpid(),
		    log_names[level]);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	n = (int)strlen(line);
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

#define LOG_FN(name, level)                    \
	void name(const char *fmt, ...)            \
	{                                          \
		va_list ap;                            \
		va_start(ap, fmt);                     \
		log_write(level, fmt, ap);             \
		va_end(ap);                            \
	}

LOG_FN(log_error, LOG_LEVEL_ERROR)
LOG_FN(log_warn, LOG_LEVEL_WARN)
LOG_FN(log_info, LOG_LEVEL_INFO)
LOG_FN(log_debug, LOG_LEVEL_DEBUG)
