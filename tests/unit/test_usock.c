/*
 * Unit tests for listening Unix sockets (common/usock.c): the path appears
 * only once it accepts, with the asked mode, replaces a stale socket, never
 * a file that is not a socket, and leaves no temporary name behind.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "check_main.h"
#include "usock.h"

static char	 dir[64];
static char	 path[128];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_usock.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/d.sock", dir);
}

static void
teardown(void)
{
	(void)unlink(path);
	(void)rmdir(dir);
}

static int
try_connect(const char *p)
{
	struct sockaddr_un	 sun;
	int			 fd, rv;

	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	ck_assert_uint_lt(strlen(p), sizeof(sun.sun_path));
	memcpy(sun.sun_path, p, strlen(p) + 1);
	rv = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	return (rv == 0 ? 0 : errno);
}

/* Entries in dir, other than . and .. */
static int
entries(void)
{
	DIR		*d = opendir(dir);
	struct dirent	*e;
	int		 n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return (n);
}

/* The path is a socket that accepts, with the mode asked, nothing else. */
START_TEST(test_listens_with_mode)
{
	char		 err[256];
	struct stat	 st;
	int		 fd;

	fd = usock_listen(path, 0640, USOCK_KEEP_GID, 8, err, sizeof(err));
	ck_assert_msg(fd >= 0, "%s", err);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0640);
	ck_assert_int_eq(try_connect(path), 0);
	ck_assert_int_eq(entries(), 1);
	close(fd);
	/* Closed: the path stays, refusing, until someone replaces it. */
	ck_assert_int_eq(try_connect(path), ECONNREFUSED);
}
END_TEST

/* KEEP_MODE gives what the umask allows. */
START_TEST(test_keep_mode_follows_umask)
{
	char		 err[256];
	struct stat	 st;
	mode_t		 old = umask(022);
	int		 fd;

	fd = usock_listen(path, USOCK_KEEP_MODE, USOCK_KEEP_GID, 8, err,
	    sizeof(err));
	umask(old);
	ck_assert_msg(fd >= 0, "%s", err);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0644);
	close(fd);
}
END_TEST

/* A stale socket is replaced in place, and the new one answers. */
START_TEST(test_replaces_stale_socket)
{
	char		 err[256];
	struct stat	 a, b;
	int		 fd1, fd2;

	fd1 = usock_listen(path, 0600, USOCK_KEEP_GID, 8, err, sizeof(err));
	ck_assert_msg(fd1 >= 0, "%s", err);
	ck_assert_int_eq(lstat(path, &a), 0);
	close(fd1);
	fd2 = usock_listen(path, 0600, USOCK_KEEP_GID, 8, err, sizeof(err));
	ck_assert_msg(fd2 >= 0, "%s", err);
	ck_assert_int_eq(lstat(path, &b), 0);
	ck_assert(a.st_ino != b.st_ino);
	ck_assert_int_eq(try_connect(path), 0);
	ck_assert_int_eq(entries(), 1);
	close(fd2);
}
END_TEST

/* A regular file at the path is an error and stays untouched. */
START_TEST(test_refuses_non_socket)
{
	char		 err[256];
	struct stat	 st;
	FILE		*f;

	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("precious\n", f);
	fclose(f);
	ck_assert_int_eq(usock_listen(path, 0600, USOCK_KEEP_GID, 8, err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "is not a socket"));
	ck_assert_ptr_nonnull(strstr(err, path));
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(st.st_size, 9);
	ck_assert_int_eq(entries(), 1);
}
END_TEST

/* Too long a path (with room for the temporary suffix) says so. */
START_TEST(test_too_long)
{
	char	 err[256], longp[200];
	size_t	 n;

	n = (size_t)snprintf(longp, sizeof(longp), "%s/", dir);
	memset(longp + n, 'x', sizeof(longp) - n - 1);
	longp[sizeof(longp) - 1] = '\0';
	ck_assert_int_eq(usock_listen(longp, 0600, USOCK_KEEP_GID, 8, err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "too long"));
	ck_assert_int_eq(entries(), 0);
}
END_TEST

/* A directory that does not exist: the error names what failed. */
START_TEST(test_missing_directory)
{
	char	 err[256], p[160];

	snprintf(p, sizeof(p), "%s/nope/d.sock", dir);
	ck_assert_int_eq(usock_listen(p, 0600, USOCK_KEEP_GID, 8, err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "No such file or directory"));
	ck_assert_int_eq(entries(), 0);
}
END_TEST

/* The listening fd is close-on-exec and non-blocking. */
START_TEST(test_fd_flags)
{
	char	 err[256];
	int	 fd;

	fd = usock_listen(path, 0600, USOCK_KEEP_GID, 8, err, sizeof(err));
	ck_assert_msg(fd >= 0, "%s", err);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ck_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);
}
END_TEST

static Suite *
usock_suite(void)
{
	Suite	*s = suite_create("usock");
	TCase	*tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_listens_with_mode);
	tcase_add_test(tc, test_keep_mode_follows_umask);
	tcase_add_test(tc, test_replaces_stale_socket);
	tcase_add_test(tc, test_refuses_non_socket);
	tcase_add_test(tc, test_too_long);
	tcase_add_test(tc, test_missing_directory);
	tcase_add_test(tc, test_fd_flags);
	suite_add_tcase(s, tc);
	return (s);
}

CHECK_MAIN(usock_suite)
