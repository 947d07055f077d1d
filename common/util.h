/*
 * util: small helpers every postern program uses: checked allocation,
 * bounded string copy, number and duration parsing, fd helpers.
 */
#ifndef POSTERN_UTIL_H
#define POSTERN_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Allocation that cannot fail silently: they call fatal() on exhaustion. */
void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
void *xreallocarray(void *, size_t, size_t);
char *xstrdup(const char *);
char *xstrndup(const char *, size_t);

/* Copy src into dst (size dstsz, NUL-terminated). Returns -1 if truncated. */
int str_copy(char *dst, const char *src, size_t dstsz);
/* snprintf that returns -1 on truncation or error, else the length. */
int str_fmt(char *dst, size_t dstsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* ASCII case-insensitive comparisons. */
int str_ieq(const char *, const char *);
int str_iprefix(const char *s, const char *prefix);
/* Lower-case in place (ASCII). */
void str_lower(char *);
/* Trim leading and trailing white space in place; returns s. */
char *str_trim(char *s);

/* Parse a whole decimal number in [min, max]. -1 on any error. */
int parse_ullong(const char *s, unsigned long long min, unsigned long long max,
    unsigned long long *out);
/* Parse "300", "300s", "5m", "4h", "5d", "1w" into seconds. -1 on error. */
int parse_duration(const char *s, long long *seconds);
/* Parse "8", "8ms", "1s" into milliseconds. -1 on error. */
int parse_msec(const char *s, long long *ms);
/* Parse "10240000", "10k", "10m", "1g" into bytes. -1 on error. */
int parse_size(const char *s, unsigned long long *bytes);
/* yes/no/true/false/on/off/1/0. -1 on error. */
int parse_bool(const char *s, int *out);

/* Write all bytes (retrying on EINTR and short writes). 0 or -1. */
int write_all(int fd, const void *buf, size_t len);
int fd_set_nonblock(int fd, int on);
/* The same; 1 when the mode changed, 0 when it already was so, or -1. */
int fd_set_nonblock_changed(int fd, int on);
int fd_set_cloexec(int fd, int on);
/*
 * A unix stream socket (close-on-exec, and SOCK_NONBLOCK when flags has
 * it) connected to path. The fd, or -1 with errno (ENAMETOOLONG for a
 * path too long for sun_path).
 */
int unix_connect(const char *path, int flags);
/* fsync a directory by path. 0 or -1. */
int fsync_dir(const char *path);
/* mkdir -p with mode for each created component. 0 or -1. */
int mkdir_p(const char *path, mode_t mode);

/* Monotonic milliseconds, wall-clock seconds. */
int64_t now_ms(void);

/*
 * getpid(2), asked once per process and kept: a child made by fork(3)
 * asks again (pthread_atfork). Log lines, queue ids and lock owners use
 * it; on a paravirtualised guest every system call counts (issue 12).
 */
pid_t proc_pid(void);

/* Random bytes from getrandom(2); fatal on failure. */
void random_bytes(void *buf, size_t len);

/* Wipe memory that held a secret. */
void secure_zero(void *, size_t);

/* Loop-safe signal helpers: install handler without SA_RESTART. */
void signal_set(int sig, void (*handler)(int));

#endif
