/*
 * util: allocation, bounded strings, number parsing and fd helpers shared
 * by every postern process. No privileges of its own.
 */
#include "config.h"

#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

void *
xmalloc(size_t n)
{
	void *p;

	if (n == 0)
		n = 1;
	if ((p = malloc(n)) == NULL)
		fatal("out of memory (%zu bytes)", n);
	return p;
}

void *
xcalloc(size_t n, size_t sz)
{
	void *p;

	if (n == 0 || sz == 0)
		n = sz = 1;
	if ((p = calloc(n, sz)) == NULL)
		fatal("out of memory");
	return p;
}

void *
xreallocarray(void *old, size_t n, size_t sz)
{
	void *p;

	if (n == 0 || sz == 0)
		n = sz = 1;
	if (sz && n > SIZE_MAX / sz)
		fatal("allocation size overflow");
	if ((p = realloc(old, n * sz)) == NULL)
		fatal("out of memory");
	return p;
}

char *
xstrdup(const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL)
		fatal("out of memory");
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char *p;

	if ((p = strndup(s, n)) == NULL)
		fatal("out of memory");
	return p;
}

int
str_copy(char *dst, const char *src, size_t dstsz)
{
	size_t n = strlen(src);

	if (dstsz == 0)
		return -1;
	if (n >= dstsz) {
		memcpy(dst, src, dstsz - 1);
		dst[dstsz - 1] = '\0';
		return -1;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

int
str_fmt(char *dst, size_t dstsz, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, dstsz, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= dstsz)
		return -1;
	return n;
}

int
str_ieq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

int
str_iprefix(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

void
str_lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

char *
str_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
	    e[-1] == '\n'))
		*--e = '\0';
	return s;
}

int
parse_ullong(const char *s, unsigned long long min, unsigned long long max,
    unsigned long long *out)
{
	unsigned long long v;
	char *end;

	if (s == NULL || *s == '\0' || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* A number followed by at most one unit letter from units; mult gives its factor. */
static int
parse_unit(const char *s, const char *units, const unsigned long long *mult,
    unsigned long long *out)
{
	char num[32];
	size_t len = strlen(s);
	unsigned long long v, m = 1;
	const char *u;

	if (len == 0 || len >= sizeof(num))
		return -1;
	memcpy(num, s, len + 1);
	if (!isdigit((unsigned char)num[len - 1])) {
		if ((u = strchr(units, tolower((unsigned char)num[len - 1]))) == NULL)
			return -1;
		m = mult[u - units];
		num[len - 1] = '\0';
	}
	if (parse_ullong(num, 0, ULLONG_MAX, &v) == -1)
		return -1;
	if (m != 0 && v > ULLONG_MAX / m)
		return -1;
	*out = v * m;
	return 0;
}

int
parse_duration(const char *s, long long *seconds)
{
	static const unsigned long long mult[] = { 1, 60, 3600, 86400, 604800 };
	unsigned long long v;

	if (parse_unit(s, "smhdw", mult, &v) == -1 || v > (unsigned long long)LLONG_MAX)
		return -1;
	*seconds = (long long)v;
	return 0;
}

/* Milliseconds: a number with "ms" or none, or seconds with "s". */
int
parse_msec(const char *s, long long *ms)
{
	static const unsigned long long mult[] = { 1000 };
	char num[32];
	size_t len = strlen(s);
	unsigned long long v;

	if (len > 2 && len < sizeof(num) && str_ieq(s + len - 2, "ms")) {
		memcpy(num, s, len - 2);
		num[len - 2] = '\0';
		if (parse_ullong(num, 0, (unsigned long long)LLONG_MAX, &v) == -1)
			return -1;
	} else if (parse_unit(s, "s", mult, &v) == -1 ||
	    v > (unsigned long long)LLONG_MAX)
		return -1;
	*ms = (long long)v;
	return 0;
}

int
parse_size(const char *s, unsigned long long *bytes)
{
	static const unsigned long long mult[] = { 1024ULL, 1024ULL * 1024,
		1024ULL * 1024 * 1024 };

	return parse_unit(s, "kmg", mult, bytes);
}

int
parse_bool(const char *s, int *out)
{
	if (str_ieq(s, "yes") || str_ieq(s, "true") || str_ieq(s, "on") ||
	    strcmp(s, "1") == 0)
		*out = 1;
	else if (str_ieq(s, "no") || str_ieq(s, "false") || str_ieq(s, "off") ||
	    strcmp(s, "0") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
fd_set_nonblock_changed(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL), want;

	if (fl == -1)
		return -1;
	want = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
	if (want == fl)
		return 0;	/* already so: no second system call */
	return fcntl(fd, F_SETFL, want) == -1 ? -1 : 1;
}

int
fd_set_nonblock(int fd, int on)
{
	return fd_set_nonblock_changed(fd, on) == -1 ? -1 : 0;
}

int
fd_set_cloexec(int fd, int on)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl == -1)
		return -1;
	fl = on ? (fl | FD_CLOEXEC) : (fl & ~FD_CLOEXEC);
	return fcntl(fd, F_SETFD, fl) == -1 ? -1 : 0;
}

int
unix_connect(const char *path, int flags)
{
	struct sockaddr_un sun;
	int fd, e;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (str_copy(sun.sun_path, path, sizeof(sun.sun_path)) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    (flags & SOCK_NONBLOCK), 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int
fsync_dir(const char *path)
{
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

int
mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	char *p;

	if (str_copy(buf, path, sizeof(buf)) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static pid_t util_pid;	/* 0: not asked yet in this process */

static void
util_pid_forget(void)
{
	__atomic_store_n(&util_pid, 0, __ATOMIC_RELAXED);
}

pid_t
proc_pid(void)
{
	static int registered;
	pid_t p = __atomic_load_n(&util_pid, __ATOMIC_RELAXED);

	if (p == 0) {
		/* Only once: the handler is inherited by every child. */
		if (!__atomic_exchange_n(&registered, 1, __ATOMIC_SEQ_CST))
			pthread_atfork(NULL, NULL, util_pid_forget);
		p = getpid();
		__atomic_store_n(&util_pid, p, __ATOMIC_RELAXED);
	}
	return p;
}

void
random_bytes(void *buf, size_t len)
{
	char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = getrandom(p, len, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fatal("getrandom: %s", strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
}

void
secure_zero(void *p, size_t n)
{
	explicit_bzero(p, n);
}

void
signal_set(int sig, void (*handler)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	if (sigaction(sig, &sa, NULL) == -1)
		fatal("sigaction: %s", strerror(errno));
}
