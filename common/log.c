/*
 * log: syslog or stderr logging for every postern process.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static const char *log_ident = "postern";
static enum log_dest log_dest = LOG_DEST_STDERR;
static int log_verbose;

void
log_init(const char *ident, enum log_dest dest)
{
	const char *env = getenv("POSTERN_LOG");

	log_ident = ident;
	if (env != NULL && strcmp(env, "syslog") == 0)
		dest = LOG_DEST_SYSLOG;
	else if (env != NULL && strcmp(env, "stderr") == 0)
		dest = LOG_DEST_STDERR;
	log_dest = dest;
	if (getenv("POSTERN_DEBUG") != NULL)
		log_verbose = 1;
	if (dest == LOG_DEST_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void
log_set_verbose(int v)
{
	log_verbose = v;
}

static void
log_emit(int pri, const char *fmt, va_list ap)
{
	char msg[2048];
	int saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_dest == LOG_DEST_NONE) {
		errno = saved;
		return;
	}
	if (log_dest == LOG_DEST_SYSLOG) {
		syslog(pri, "%s", msg);
	} else {
		const char *lvl = pri == LOG_ERR ? "error: " :
		    pri == LOG_WARNING ? "warning: " :
		    pri == LOG_DEBUG ? "debug: " : "";
		/* One write per line so lines of concurrent processes do not mix. */
		char line[2300];
		int n = snprintf(line, sizeof(line), "%s[%ld]: %s%s\n", log_ident,
		    (long)proc_pid(), lvl, msg);
		if (n > 0) {
			if ((size_t)n >= sizeof(line))
				n = sizeof(line) - 1;
			ssize_t w = write(STDERR_FILENO, line, (size_t)n);
			(void)w;
		}
	}
	errno = saved;
}

#define LOG_FN(name, pri)                               \
	void name(const char *fmt, ...)                 \
	{                                               \
		va_list ap;                             \
		va_start(ap, fmt);                      \
		log_emit(pri, fmt, ap);                 \
		va_end(ap);                             \
	}

LOG_FN(log_info, LOG_INFO)
LOG_FN(log_warn, LOG_WARNING)
LOG_FN(log_err, LOG_ERR)

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_emit(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, fmt, ap);
	va_end(ap);
	/* Started by hand from a terminal: say why there too, not only in syslog. */
	if (log_dest == LOG_DEST_SYSLOG && isatty(STDERR_FILENO)) {
		enum log_dest saved = log_dest;
		log_dest = LOG_DEST_STDERR;
		va_start(ap, fmt);
		log_emit(LOG_CRIT, fmt, ap);
		va_end(ap);
		log_dest = saved;
	}
	exit(1);
}

char *
log_sanitize(char *dst, size_t dstsz, const char *src, size_t srclen)
{
	size_t i, o = 0;

	if (dstsz == 0)
		return dst;
	for (i = 0; i < srclen && o + 1 < dstsz; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[o++] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
	}
	if (i < srclen && dstsz > 4) {
		o = o > dstsz - 4 ? dstsz - 4 : o;
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
	return dst;
}
