/*
 * The master process: forks the children, restarts any that die, replaces
 * them all on SIGHUP, and drains them on SIGTERM.  It does no request work
 * itself, so nothing a client sends can crash it.
 *
 * Signals are blocked and taken synchronously with sigtimedwait, so there is
 * no handler code and no race between "a child died" and "spawn one".
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mono.h"
#include "pool.h"

#define POOL_MAX_CHILDREN 512
#define POOL_DRAIN_SECONDS 10
/* A child that dies sooner than this after its start is restarted only
 * after the same delay, so a crash loop cannot turn into a fork storm. */
#define POOL_RESPAWN_DELAY_MS 1000

struct pool_slot {
	const struct pool_role *role;
	pid_t pid;
	long long started_ms;
	long long respawn_ms;
};

struct pool {
	const struct config *cfg;
	int listen_fd;
	struct pool_slot slots[POOL_MAX_CHILDREN];
	int nslots;
	struct pool_slot retiring[POOL_MAX_CHILDREN];  /* told to stop, not reaped */
	int nretiring;
	sigset_t sigs;
};

static void
pool_spawn(struct pool *p, struct pool_slot *s)
{
	pid_t pid = fork();

	if (pid < 0) {
		log_error("fork %s: %s", s->role->name, strerror(errno));
		s->respawn_ms = mono_ms() + POOL_RESPAWN_DELAY_MS;
		return;
	}
	if (pid == 0) {
		sigprocmask(SIG_UNBLOCK, &p->sigs, NULL);
		/* exit, not _exit: LeakSanitizer runs at exit in the sanitizer build. */
		exit(s->role->run(p->cfg, p->listen_fd));
	}
	s->pid = pid;
	s->started_ms = mono_ms();
	log_debug("started %s %ld", s->role->name, (long)pid);
}

static void
pool_spawn_due(struct pool *p)
{
	long long now = mono_ms();

	for (int i = 0; i < p->nslots; i++)
		if (p->slots[i].pid == 0 && p->slots[i].respawn_ms <= now)
			pool_spawn(p, &p->slots[i]);
}

static void
pool_forget_retiring(struct pool *p, pid_t pid)
{
	for (int i = 0; i < p->nretiring; i++) {
		if (p->retiring[i].pid == pid) {
			if (p->retiring[i].role->reaped != NULL)
				p->retiring[i].role->reaped(p->cfg, pid);
			p->retiring[i] = p->retiring[--p->nretiring];
			return;
		}
	}
}

static void
pool_reaped(struct pool *p, pid_t pid, int status, bool stopping)
{
	long long now = mono_ms();

	for (int i = 0; i < p->nslots; i++) {
		struct pool_slot *s = &p->slots[i];

		if (s->pid != pid)
			continue;
		if (s->role->reaped != NULL)
			s->role->reaped(p->cfg, pid);
		s->pid = 0;
		s->respawn_ms = now - s->started_ms < POOL_RESPAWN_DELAY_MS ?
		    now + POOL_RESPAWN_DELAY_MS : now;
		if (!stopping) {
			if (WIFSIGNALED(status))
				log_warn("%s %ld killed by signal %d; restarting",
				    s->role->name, (long)pid, WTERMSIG(status));
			else
				log_warn("%s %ld exited with %d; restarting",
				    s->role->name, (long)pid, WEXITSTATUS(status));
		}
		return;
	}
	pool_forget_retiring(p, pid);
}

static void
pool_reap(struct pool *p, bool stopping)
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		pool_reaped(p, pid, status, stopping);
}

/* SIGHUP: fresh children take over at once; the old ones finish the
 * request they are in and exit. */
static void
pool_reload(struct pool *p)
{
	log_info("SIGHUP: replacing %d children", p->nslots);
	for (int i = 0; i < p->nslots; i++) {
		struct pool_slot *s = &p->slots[i];

		if (s->pid > 0 && p->nretiring < POOL_MAX_CHILDREN) {
			kill(s->pid, SIGTERM);
			p->retiring[p->nretiring++] = *s;
		}
		s->pid = 0;
		s->respawn_ms = 0;
	}
	pool_spawn_due(p);
}

static int
pool_live(const struct pool *p)
{
	int n = p->nretiring;

	for (int i = 0; i < p->nslots; i++)
		n += p->slots[i].pid > 0;
	return n;
}

static void
pool_signal_all(struct pool *p, int sig)
{
	for (int i = 0; i < p->nslots; i++)
		if (p->slots[i].pid > 0)
			kill(p->slots[i].pid, sig);
	for (int i = 0; i < p->nretiring; i++)
		kill(p->retiring[i].pid, sig);
}

static void
pool_drain(struct pool *p)
{
	long long deadline = mono_ms() + POOL_DRAIN_SECONDS * 1000LL;
	struct timespec tick = { 0, 100 * 1000000L };

	log_info("draining %d children", pool_live(p));
	pool_signal_all(p, SIGTERM);
	while (pool_live(p) > 0) {
		if (mono_ms() >= deadline) {
			log_warn("%d children still busy after %d s: killing them",
			    pool_live(p), POOL_DRAIN_SECONDS);
			pool_signal_all(p, SIGKILL);
			deadline = mono_ms() + 60 * 1000LL;
		}
		sigtimedwait(&p->sigs, NULL, &tick);
		pool_reap(p, true);
	}
}

static int
pool_init(struct pool *p, const struct config *cfg, int listen_fd,
    const struct pool_role *roles, int nroles)
{
	memset(p, 0, sizeof(*p));
	p->cfg = cfg;
	p->listen_fd = listen_fd;
	for (int r = 0; r < nroles; r++) {
		for (int i = 0; i < roles[r].count; i++) {
			if (p->nslots == POOL_MAX_CHILDREN) {
				log_error("more than %d children asked for", POOL_MAX_CHILDREN);
				return -1;
			}
			p->slots[p->nslots++].role = &roles[r];
		}
	}
	sigemptyset(&p->sigs);
	sigaddset(&p->sigs, SIGCHLD);
	sigaddset(&p->sigs, SIGTERM);
	sigaddset(&p->sigs, SIGINT);
	sigaddset(&p->sigs, SIGHUP);
	return sigprocmask(SIG_BLOCK, &p->sigs, NULL);
}

int
pool_run(const struct config *cfg, int listen_fd, const struct pool_role *roles,
    int nroles, void (*on_tick)(const struct config *cfg))
{
	static struct pool p;   /* large; and one per process */
	struct timespec tick = { 0, 250 * 1000000L };
	int sig;

	if (pool_init(&p, cfg, listen_fd, roles, nroles) != 0)
		return 1;
	pool_spawn_due(&p);
	for (;;) {
		sig = sigtimedwait(&p.sigs, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT) {
			log_info("signal %d: stopping", sig);
			break;
		}
		if (sig == SIGHUP)
			pool_reload(&p);
		pool_reap(&p, false);
		pool_spawn_due(&p);
		if (on_tick != NULL)
			on_tick(cfg);
	}
	pool_drain(&p);
	log_info("stopped");
	return 0;
}
