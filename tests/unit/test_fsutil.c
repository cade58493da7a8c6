/*
 * Unit tests for common/fsutil.c: fs_write_atomic gives the file exactly
 * the mode asked for whatever the umask, replaces the old file whole, and
 * when it fails leaves the old file whole and no temporary file behind;
 * fs_read's size bound; fs_mkdirs; fs_exists.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <sys/resource.h>

#include "fsutil.h"
#include "testutil.h"

struct fixture {
	char dir[TU_PATH];
	char file[TU_PATH];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || tu_mkdtemp(f->dir, sizeof(f->dir)) != 0) {
		free(f);
		return -1;
	}
	tu_join(f->file, sizeof(f->file), f->dir, "crl.pem");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	if (f != NULL) {
		tu_rmtree(f->dir);
		free(f);
	}
	return 0;
}

/* How many entries the directory holds (without . and ..). */
static int
dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
file_is(const char *path, const char *content)
{
	char *got = tu_read_file(path, NULL);

	assert_non_null(got);
	assert_string_equal(got, content);
	free(got);
}

static mode_t
mode_of(const char *path)
{
	struct stat sb;

	assert_int_equal(stat(path, &sb), 0);
	return sb.st_mode & 07777;
}

/* --- tests --- */

/* The mode is the one asked for: not narrowed by the umask, never wider. */
static void
test_write_atomic_modes(void **state)
{
	struct fixture *f = *state;
	mode_t old = umask(077);

	assert_int_equal(fs_write_atomic(f->file, "one\n", 4, 0644), 0);
	assert_int_equal(mode_of(f->file), 0644);
	file_is(f->file, "one\n");
	umask(0);
	assert_int_equal(fs_write_atomic(f->file, "two\n", 4, 0600), 0);
	assert_int_equal(mode_of(f->file), 0600);
	file_is(f->file, "two\n");
	umask(old);
	/* nothing else in the directory: the temporary file was renamed */
	assert_int_equal(dir_entries(f->dir), 1);
}

static void
test_write_atomic_replaces(void **state)
{
	struct fixture *f = *state;
	char big[100000];

	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(tu_write_file(f->file, "old content, longer than the new\n", 34), 0);
	assert_int_equal(fs_write_atomic(f->file, "new\n", 4, 0644), 0);
	file_is(f->file, "new\n");
	assert_int_equal(fs_write_atomic(f->file, big, strlen(big), 0644), 0);
	file_is(f->file, big);
	/* an empty file is a file too */
	assert_int_equal(fs_write_atomic(f->file, "", 0, 0644), 0);
	file_is(f->file, "");
	assert_int_equal(dir_entries(f->dir), 1);
}

/* The temporary file cannot be made (its name is taken by a directory):
 * -1, and the old file is as it was. */
static void
test_write_atomic_fails_before_writing(void **state)
{
	struct fixture *f = *state;
	char tmp[TU_PATH + 32];

	assert_int_equal(tu_write_file(f->file, "old\n", 4), 0);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", f->file, (long)getpid());
	assert_int_equal(mkdir(tmp, 0700), 0);
	assert_int_equal(fs_write_atomic(f->file, "new\n", 4, 0644), -1);
	file_is(f->file, "old\n");
	assert_int_equal(rmdir(tmp), 0);
}

/* A write that fails half way (the file size limit, in a child so that the
 * limit stays there): -1 with the write's errno, the old file whole, and
 * the partial temporary file removed. */
static void
test_write_atomic_fails_while_writing(void **state)
{
	struct fixture *f = *state;
	static char big[256 * 1024];
	pid_t pid;
	int status;

	memset(big, 'n', sizeof(big));
	assert_int_equal(tu_write_file(f->file, "old\n", 4), 0);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		struct rlimit rl = { 64 * 1024, 64 * 1024 };

		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(3);
		if (fs_write_atomic(f->file, big, sizeof(big), 0644) != -1)
			_exit(1);
		_exit(errno == EFBIG ? 0 : 2);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	file_is(f->file, "old\n");
	assert_int_equal(dir_entries(f->dir), 1);
}

/* A temporary file a crashed process with our pid left is no obstacle. */
static void
test_write_atomic_stale_temporary(void **state)
{
	struct fixture *f = *state;
	char tmp[TU_PATH + 32];

	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", f->file, (long)getpid());
	assert_int_equal(tu_write_file(tmp, "stale", 5), 0);
	assert_int_equal(fs_write_atomic(f->file, "new\n", 4, 0644), 0);
	file_is(f->file, "new\n");
	assert_false(fs_exists(tmp));
}

static void
test_read_bounded(void **state)
{
	struct fixture *f = *state;
	size_t len = 0;
	char *p;

	assert_int_equal(tu_write_file(f->file, "0123456789", 10), 0);
	p = fs_read(f->file, 10, &len);
	assert_non_null(p);
	assert_int_equal(len, 10);
	assert_string_equal(p, "0123456789");
	free(p);
	errno = 0;
	assert_null(fs_read(f->file, 9, &len));
	assert_int_equal(errno, EFBIG);
	p = fs_read(f->file, 1000, NULL);
	assert_non_null(p);
	assert_string_equal(p, "0123456789");
	free(p);

	assert_int_equal(tu_write_file(f->file, "", 0), 0);
	p = fs_read(f->file, 0, &len);
	assert_non_null(p);
	assert_int_equal(len, 0);
	assert_string_equal(p, "");
	free(p);

	assert_null(fs_read("/nonexistent/upki-unit", 10, &len));
}

static void
test_mkdirs(void **state)
{
	struct fixture *f = *state;
	char path[TU_PATH + 32], file[TU_PATH + 32];
	mode_t old = umask(0);

	snprintf(path, sizeof(path), "%s/a/b/c", f->dir);
	assert_false(fs_exists(path));
	assert_int_equal(fs_mkdirs(path, 0750), 0);
	assert_true(fs_exists(path));
	assert_int_equal(mode_of(path), 0750);
	snprintf(file, sizeof(file), "%s/a/b", f->dir);
	assert_int_equal(mode_of(file), 0750);
	/* existing already: fine */
	assert_int_equal(fs_mkdirs(path, 0750), 0);
	/* a trailing slash */
	snprintf(path, sizeof(path), "%s/a/d/", f->dir);
	assert_int_equal(fs_mkdirs(path, 0700), 0);
	assert_true(fs_exists(path));
	umask(old);

	/* a component that is a file */
	snprintf(file, sizeof(file), "%s/plain", f->dir);
	assert_int_equal(tu_write_file(file, "x", 1), 0);
	snprintf(path, sizeof(path), "%s/plain/sub", f->dir);
	assert_int_equal(fs_mkdirs(path, 0700), -1);
	assert_int_equal(fs_mkdirs("", 0700), -1);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_write_atomic_modes),
		T(test_write_atomic_replaces),
		T(test_write_atomic_fails_before_writing),
		T(test_write_atomic_fails_while_writing),
		T(test_write_atomic_stale_temporary),
		T(test_read_bounded),
		T(test_mkdirs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
