/*
 * log: one logger for every postern process. To syslog (LOG_MAIL) when
 * running as a daemon, to stderr in the foreground. Lines about a message
 * start with its queue id ("QID: ..."), as Postfix does.
 */
#ifndef POSTERN_LOG_H
#define POSTERN_LOG_H

#include <stddef.h>

/* LOG_DEST_NONE: formatted, then dropped (the fuzz targets). */
enum log_dest { LOG_DEST_STDERR, LOG_DEST_SYSLOG, LOG_DEST_NONE };

/* ident is the program name ("postern/smtpd"). Reads $POSTERN_LOG: "stderr"
 * or "syslog" overrides dest, so the master can pass its choice down. */
void log_init(const char *ident, enum log_dest dest);
/* 1 to include debug lines. */
void log_set_verbose(int);

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Log and exit(1). Only for start-up and broken internal invariants. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * Copy peer text for logging: control characters and non-ASCII become
 * '?', and at most dstsz-1 bytes are kept ("..." marks a cut). Returns dst.
 */
char *log_sanitize(char *dst, size_t dstsz, const char *src, size_t srclen);

#endif
