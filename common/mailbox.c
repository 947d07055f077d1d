/*
 * mailbox: a snapshot of one Maildir (new/ and cur/) for the access
 * servers. Runs in the post-authentication session process (pop3d, later
 * imapd) as the mail owner, never as root, with the Maildir as cwd.
 *
 * Opening is O(n log n) in the number of messages and does no per-message
 * stat(2) when file names carry ,W= (deliver writes
 * <sec>.M<usec>P<pid>Q<n>.<host>,S=<size>,W=<wire size>): one readdir of
 * new/ and of cur/, then a sort by delivery time. Files from elsewhere
 * without ,W= are read once to count their line ends.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "log.h"
#include "mailbox.h"
#include "maildir.h"
#include "util.h"

#define MAILBOX_LOCKFILE	"postern-pop3.lock"
#define MAILBOX_MAXMSGS		10000000	/* sanity bound on one snapshot */

size_t
mailbox_name_uniq_len(const char *base)
{
	return strcspn(base, ",:");
}

int
mailbox_name_wsize(const char *base, unsigned long long *wsize)
{
	size_t ulen = mailbox_name_uniq_len(base);
	const char *p = base + ulen, *e;
	char num[24];

	/* The ,key=value fields sit between the unique part and ":2,". */
	while (*p == ',') {
		p++;
		e = p + strcspn(p, ",:");
		if (e - p > 2 && p[0] == 'W' && p[1] == '=' &&
		    (size_t)(e - p - 2) < sizeof(num)) {
			memcpy(num, p + 2, (size_t)(e - p - 2));
			num[e - p - 2] = '\0';
			if (parse_ullong(num, 0, (1ULL << 62), wsize) == 0)
				return 1;
		}
		p = e;
	}
	return 0;
}

void
mailbox_uidl(const char *base, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	size_t len = mailbox_name_uniq_len(base), k;
	int ok = len > 0 && len <= MAILBOX_UIDLMAX;

	for (k = 0; ok && k < len; k++)
		if ((unsigned char)base[k] < 0x21 || (unsigned char)base[k] > 0x7e)
			ok = 0;
	if (ok) {
		memcpy(out, base, len);
		out[len] = '\0';
		return;
	}
	/* RFC 1939 7: too long or odd bytes; a digest is just as stable. */
	if (EVP_Digest(base, len, md, &mdlen, EVP_sha256(), NULL) != 1)
		fatal("mailbox: SHA-256 failed");
	out[0] = 'H';
	for (i = 0; i < 24 && i < mdlen; i++) {
		out[1 + 2 * i] = hex[md[i] >> 4];
		out[2 + 2 * i] = hex[md[i] & 15];
	}
	out[1 + 2 * i] = '\0';
}

int
mailbox_count_wire(int fd, unsigned long long *wsize)
{
	char buf[65536];
	unsigned long long n = 0;
	ssize_t r;
	char prev = '\n';
	size_t i;

	while ((r = read(fd, buf, sizeof(buf))) != 0) {
		if (r == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (i = 0; i < (size_t)r; i++) {
			/* A bare LF goes out as CRLF; CRLF stays as it is. */
			if (buf[i] == '\n' && prev != '\r')
				n++;
			prev = buf[i];
		}
		n += (unsigned long long)r;
	}
	if (prev != '\n')
		n += prev == '\r' ? 1 : 2;	/* the sender ends the last line */
	*wsize = n;
	return 0;
}

/* Leading "<sec>.M<usec>" of a name (0 when absent), for the sort. */
static void
mailbox_name_time(const char *base, unsigned long long *sec, unsigned long long *usec)
{
	char *end;

	*sec = *usec = 0;
	if (base[0] < '0' || base[0] > '9')
		return;
	errno = 0;
	*sec = strtoull(base, &end, 10);
	if (errno != 0 || *end != '.') {
		*sec = 0;
		return;
	}
	if (end[1] == 'M' && end[2] >= '0' && end[2] <= '9') {
		*usec = strtoull(end + 2, NULL, 10);
		if (errno != 0)
			*usec = 0;
	}
}

static int
mailbox_cmp(const void *a, const void *b)
{
	const struct mailbox_msg *x = a, *y = b;

	if (x->sec != y->sec)
		return x->sec < y->sec ? -1 : 1;
	if (x->usec != y->usec)
		return x->usec < y->usec ? -1 : 1;
	return strcmp(x->uidl, y->uidl);
}

/* Does the info part (after ":2,") of base hold flag? */
static int
mailbox_has_flag(const char *base, char flag)
{
	const char *info = strstr(base, ":2,");

	return info != NULL && strchr(info + 3, flag) != NULL;
}

/* Fill m for sub/base. 0, or -1 to skip the entry. */
static int
mailbox_msg_init(struct mailbox_msg *m, const char *sub, const char *base)
{
	char path[4096];
	int fd;

	if (str_fmt(path, sizeof(path), "%s/%s", sub, base) == -1)
		return -1;
	memset(m, 0, sizeof(*m));
	if (!mailbox_name_wsize(base, &m->size)) {
		if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
			return -1;
		if (mailbox_count_wire(fd, &m->size) == -1) {
			close(fd);
			return -1;
		}
		close(fd);
	}
	m->name = xstrdup(path);
	m->seen = mailbox_has_flag(base, 'S');
	mailbox_uidl(base, m->uidl);
	mailbox_name_time(base, &m->sec, &m->usec);
	return 0;
}

/* Append every message file of dir sub ("new" or "cur"). 0 or -1. */
static int
mailbox_scan(struct mailbox *mb, const char *sub, size_t *cap, char *err, size_t errlen)
{
	struct dirent *de;
	DIR *d;

	if ((d = opendir(sub)) == NULL) {
		str_fmt(err, errlen, "opendir %s: %s", sub, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;	/* ., .., and hidden files are not mail */
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (mb->n == *cap) {
			if (*cap >= MAILBOX_MAXMSGS) {
				str_fmt(err, errlen, "too many messages");
				closedir(d);
				return -1;
			}
			*cap = *cap ? *cap * 2 : 256;
			mb->msgs = xreallocarray(mb->msgs, *cap, sizeof(*mb->msgs));
		}
		if (mailbox_msg_init(&mb->msgs[mb->n], sub, de->d_name) == 0)
			mb->n++;
	}
	closedir(d);
	return 0;
}

/* Take the session lock in the Maildir. 0, -1, or MAILBOX_INUSE. */
static int
mailbox_lock(struct mailbox *mb, char *err, size_t errlen)
{
	const char *path = MAILBOX_LOCKFILE;

	mb->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (mb->lockfd == -1) {
		str_fmt(err, errlen, "open %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(mb->lockfd, LOCK_EX | LOCK_NB) == -1) {
		int e = errno;
		close(mb->lockfd);
		mb->lockfd = -1;
		if (e == EWOULDBLOCK)
			return MAILBOX_INUSE;
		str_fmt(err, errlen, "flock %s: %s", path, strerror(e));
		return -1;
	}
	return 0;
}

int
mailbox_open(struct mailbox *mb, int lock, char *err, size_t errlen)
{
	static const char *subs[] = { "new", "cur", "tmp" };
	size_t cap = 0, i;
	int r;

	memset(mb, 0, sizeof(*mb));
	mb->lockfd = -1;
	for (i = 0; i < NELEM(subs); i++) {
		if (mkdir(subs[i], 0700) == -1 && errno != EEXIST) {
			str_fmt(err, errlen, "mkdir %s: %s", subs[i], strerror(errno));
			return -1;
		}
	}
	if (lock && (r = mailbox_lock(mb, err, errlen)) != 0)
		return r;
	(void)maildir_clean_tmp(".", time(NULL));	/* what a killed writer left */
	if (mailbox_scan(mb, "new", &cap, err, errlen) == -1 ||
	    mailbox_scan(mb, "cur", &cap, err, errlen) == -1) {
		mailbox_close(mb);
		return -1;
	}
	if (mb->n > 1)
		qsort(mb->msgs, mb->n, sizeof(*mb->msgs), mailbox_cmp);
	return 0;
}

void
mailbox_close(struct mailbox *mb)
{
	size_t i;

	for (i = 0; i < mb->n; i++)
		free(mb->msgs[i].name);
	free(mb->msgs);
	mb->msgs = NULL;
	mb->n = 0;
	if (mb->lockfd != -1)
		close(mb->lockfd);	/* releases the flock */
	mb->lockfd = -1;
}

void
mailbox_stat(const struct mailbox *mb, size_t *count, unsigned long long *octets)
{
	size_t i;

	*count = 0;
	*octets = 0;
	for (i = 0; i < mb->n; i++) {
		if (mb->msgs[i].deleted)
			continue;
		(*count)++;
		*octets += mb->msgs[i].size;
	}
}

/* Find the file of m again after someone renamed it. 0 or -1. */
static int
mailbox_refind(struct mailbox_msg *m)
{
	static const char *subs[] = { "cur", "new" };
	const char *base = strchr(m->name, '/') + 1;
	size_t ulen = mailbox_name_uniq_len(base), i;
	struct dirent *de;
	DIR *d;

	for (i = 0; i < NELEM(subs); i++) {
		if ((d = opendir(subs[i])) == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, base, ulen) == 0 &&
			    (de->d_name[ulen] == ',' || de->d_name[ulen] == ':' ||
				de->d_name[ulen] == '\0')) {
				char path[4096];
				if (str_fmt(path, sizeof(path), "%s/%s", subs[i],
				    de->d_name) == -1)
					break;
				free(m->name);
				m->name = xstrdup(path);
				m->seen = mailbox_has_flag(de->d_name, 'S');
				closedir(d);
				return 0;
			}
		}
		closedir(d);
	}
	return -1;
}

int
mailbox_msg_open(struct mailbox *mb, size_t i)
{
	struct mailbox_msg *m;
	int fd;

	if (i >= mb->n)
		return -1;
	m = &mb->msgs[i];
	fd = open(m->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1 && errno == ENOENT && mailbox_refind(m) == 0)
		fd = open(m->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	return fd;
}

/* The new name of m with flag S added, into out. 0 or -1. */
static int
mailbox_seen_name(const struct mailbox_msg *m, char *out, size_t outlen)
{
	const char *base = strchr(m->name, '/') + 1;
	const char *info = strstr(base, ":2,");
	char flags[64];
	size_t n, i, j;

	if (info == NULL)
		return str_fmt(out, outlen, "cur/%s:2,S", base) == -1 ? -1 : 0;
	/* Maildir flags stay in ASCII order (the Maildir spec). */
	n = strlen(info + 3);
	if (n + 2 > sizeof(flags))
		return -1;
	for (i = j = 0; i < n; i++) {
		if (j == i && info[3 + i] > 'S')
			flags[j++] = 'S';
		flags[j++] = info[3 + i];
	}
	if (j == n)
		flags[j++] = 'S';
	flags[j] = '\0';
	return str_fmt(out, outlen, "cur/%.*s:2,%s", (int)(info - base), base,
	    flags) == -1 ? -1 : 0;
}

int
mailbox_msg_seen(struct mailbox *mb, size_t i)
{
	struct mailbox_msg *m;
	char to[4096];

	if (i >= mb->n)
		return -1;
	m = &mb->msgs[i];
	if (m->seen && strncmp(m->name, "cur/", 4) == 0)
		return 0;
	if (mailbox_seen_name(m, to, sizeof(to)) == -1)
		return -1;
	if (rename(m->name, to) == -1) {
		if (errno != ENOENT || mailbox_refind(m) == -1)
			return -1;
		if (m->seen)
			return 0;
		if (mailbox_seen_name(m, to, sizeof(to)) == -1 ||
		    rename(m->name, to) == -1)
			return -1;
	}
	free(m->name);
	m->name = xstrdup(to);
	m->seen = 1;
	return 0;
}

size_t
mailbox_expunge(struct mailbox *mb)
{
	size_t i, fail = 0;

	for (i = 0; i < mb->n; i++) {
		struct mailbox_msg *m = &mb->msgs[i];
		if (!m->deleted)
			continue;
		if (unlink(m->name) == -1 && !(errno == ENOENT &&
		    (mailbox_refind(m) == -1 || unlink(m->name) == 0))) {
			log_warn("unlink %s: %s", m->name, strerror(errno));
			fail++;
		}
	}
	/* Make the removals durable before QUIT is answered. */
	if (fsync_dir("cur") == -1 || fsync_dir("new") == -1)
		log_warn("fsync of the Maildir: %s", strerror(errno));
	return fail;
}
