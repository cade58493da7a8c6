/*
 * Logging to stderr with levels.  Every line carries the program name and
 * pid, so that lines from the master and from each worker can be told apart
 * in one journal.  Callers never pass secrets (the seed, private keys) here:
 * there is deliberately no "log this blob" helper.
 */
#ifndef UPKI_LOG_H
#define UPKI_LOG_H

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

void log_init(const char *prog, enum log_level level);
/* Parses "error", "warn", "info", "debug"; returns -1 for anything else. */
int log_level_parse(const char *name);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
