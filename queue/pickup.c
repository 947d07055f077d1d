/*
 * pickup: queues the messages that postern-sendmail left in maildrop/
 * (through postdrop). Runs as mail_owner (started as root it drops at
 * once, before it reads a maildrop file), not chrooted: it maps the
 * submitting uid to a login name for the default sender. It wakes on a
 * byte in the FIFO public/pickup, on a rescan timer, and scans at start,
 * so mail dropped while the master was down goes out when it starts. A
 * file it could not queue (a full queue file system) stays in maildrop/
 * and is retried after PICKUP_RETRY_MS.
 *
 * A maildrop file is written by an ordinary user: its content is
 * untrusted. The envelope is parsed strictly with bounded records
 * (maildrop.h); the only thing believed is the uid that postdrop took
 * from getuid(), and only when it is also the file's owner. The sender
 * given with -f is allowed (as Postfix allows it) and logged with the
 * uid. Each message is written through the qfile writer (tmp/, fsync,
 * incoming/) with a Received field, the Message-ID/Date/From fix-ups and
 * without Bcc fields; the maildrop file is removed only after the queue
 * file is committed (a crash in between delivers it twice, never zero).
 */
#include "config.h"

#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "conf.h"
#include "log.h"
#include "maildrop.h"
#include "msgfix.h"
#include "priv.h"
#include "qfile.h"
#include "smtp_server.h"
#include "strbuf.h"
#include "util.h"

#define PICKUP_RESCAN_MS	60000		/* scan even without a wake-up */
#define PICKUP_RETRY_MS		5000		/* rescan after a temporary failure */
#define PICKUP_STALE_SECS	86400		/* remove abandoned t.* files */
#define PICKUP_PER_SCAN		10000		/* files per scan, at most */
#define PICKUP_HDR_MAX		(1024 * 1024)	/* header section kept for fix-ups */

static volatile sig_atomic_t pickup_stop;
static int pickup_kept;		/* a file could not be queued (full queue?) */
static struct conf pickup_conf;

static void
pickup_on_term(int sig)
{
	(void)sig;
	pickup_stop = 1;
}
/* The default sender: the login name of the uid, at hostname. */
static void
pickup_default_sender(struct maildrop_env *m)
{
	struct passwd *pw = getpwuid((uid_t)m->uid);
	const char *why;

	if (pw == NULL || maildrop_addr(pw->pw_name, 0, pickup_conf.hostname,
	    m->sender, sizeof(m->sender), &why) == -1)
		str_fmt(m->sender, sizeof(m->sender), "uid%lu@%s", m->uid,
		    pickup_conf.hostname);
}

/* "From:" when missing: the full name (printable ASCII only) and the sender. */
static int
pickup_from(struct strbuf *out, const struct maildrop_env *m)
{
	const char *addr = *m->sender ? m->sender : "MAILER-DAEMON";
	const char *p;
	int ascii = m->fullname[0] != '\0';

	for (p = m->fullname; *p; p++)
		if ((unsigned char)*p >= 0x7f)
			ascii = 0;
	if (!ascii)
		return strbuf_printf(out, "From: <%s>\n", addr);
	if (strbuf_puts(out, "From: \"") == -1)
		return -1;
	for (p = m->fullname; *p; p++)
		if ((*p == '"' || *p == '\\') ? strbuf_putc(out, '\\') == -1 ||
		    strbuf_putc(out, *p) == -1 : strbuf_putc(out, *p) == -1)
			return -1;
	return strbuf_printf(out, "\" <%s>\n", addr);
}

/* Read the header section (up to the empty line). 1 if the empty line
 * ended it, 0 if EOF or the cap did (the rest is copied as it is). */
static int
pickup_read_header(FILE *fp, struct strbuf *hdr)
{
	int c, bol = 1;

	while ((c = getc(fp)) != EOF) {
		if (bol && c == '\n')
			return 1;
		if (strbuf_putc(hdr, (char)c) == -1) {
			ungetc(c, fp);
			return 0;
		}
		bol = c == '\n';
	}
	return 0;
}

/* The header without Bcc fields (RFC 5322 3.6.3: blind copies stay blind). */
static int
pickup_put_header(struct qfile_writer *w, const struct strbuf *hdr)
{
	const char *p = hdr->data, *end = hdr->data + hdr->len, *lf;
	int skip = 0;
	size_t n;

	while (p < end) {
		lf = memchr(p, '\n', (size_t)(end - p));
		n = lf != NULL ? (size_t)(lf - p) + 1 : (size_t)(end - p);
		if (*p != ' ' && *p != '\t')
			skip = msgfix_is_field(p, n, "Bcc");
		if (!skip && qfile_write(w, p, n) == -1)
			return -1;
		p += n;
	}
	return 0;
}

/* Received, fix-ups, header, then the body as it is. 0 or -1 (errno). */
static int
pickup_content(FILE *fp, struct qfile_writer *w, const struct maildrop_env *m)
{
	struct strbuf hdr, top;
	char date[64], buf[65536];
	unsigned present;
	int blank, r;
	size_t n;

	strbuf_init(&hdr, PICKUP_HDR_MAX);
	strbuf_init(&top, 8192);
	blank = pickup_read_header(fp, &hdr);
	present = msgfix_present(hdr.data ? hdr.data : "", hdr.len);
	r = strbuf_printf(&top, "Received: by %s (postern pickup, from userid %lu)\n"
	    "\tid %s; %s\n", pickup_conf.hostname, m->uid, w->qid,
	    smtp_date(date, sizeof(date), (long long)time(NULL)));
	if (r == 0)
		r = msgfix_add(&top, present, pickup_conf.hostname);
	if (r == 0 && !(present & MSGFIX_FROM))
		r = pickup_from(&top, m);
	if (r == 0)
		r = qfile_write(w, top.data, top.len);
	if (r == 0 && hdr.len > 0)
		r = pickup_put_header(w, &hdr);
	if (r == 0 && blank)
		r = qfile_write(w, "\n", 1);
	while (r == 0 && (n = fread(buf, 1, sizeof(buf), fp)) > 0)
		r = qfile_write(w, buf, n);
	if (r == 0 && ferror(fp)) {
		errno = EIO;
		r = -1;
	}
	strbuf_free(&hdr);
	strbuf_free(&top);
	return r;
}

/* Queue one parsed message. The queue id, or -1 (temporary: keep the file). */
static int
pickup_queue(FILE *fp, const struct maildrop_env *m, char *qid)
{
	struct qfile_writer w;
	size_t i;

	if (qfile_create(&w) == -1) {
		log_err("cannot create a queue file: %s", strerror(errno));
		return -1;
	}
	str_copy(qid, w.qid, QID_LEN + 1);
	if (qfile_put_attr(&w, "protocol", "local") == -1 ||
	    qfile_put_sender(&w, m->sender) == -1)
		goto fail;
	for (i = 0; i < m->nrcpt; i++)
		if (qfile_put_rcpt(&w, m->rcpt[i], NULL, NULL) == -1)
			goto fail;
	if (qfile_begin_data(&w) == -1 || pickup_content(fp, &w, m) == -1)
		goto fail;
	if (qfile_commit(&w) == -1) {
		log_err("%s: queue file commit failed: %s", qid, strerror(errno));
		return -1;
	}
	return 0;
fail:
	log_err("%s: cannot write the queue file: %s", qid, strerror(errno));
	qfile_abort(&w);
	return -1;
}

/* Open maildrop/name and check what the kernel says about it. fd or -1. */
static int
pickup_open(const char *path, struct stat *st)
{
	unsigned long long max = pickup_conf.message_size_limit;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			log_warn("%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, st) == -1 || !S_ISREG(st->st_mode) || st->st_nlink != 1 ||
	    (max != 0 && (unsigned long long)st->st_size > max +
	    (unsigned long long)(MAILDROP_RCPT_MAX + 4) * (MAILDROP_LINE_MAX + 8))) {
		log_warn("%s: not a regular file of an acceptable size; removed", path);
		unlink(path);
		close(fd);
		return -1;
	}
	return fd;
}

/* Parse and queue one maildrop file; remove it when queued or invalid. */
static void
pickup_file(const char *name)
{
	struct maildrop_env m;
	char path[64], qid[QID_LEN + 1] = "", from[ADDR_BUF];
	const char *why = NULL;
	struct stat st;
	FILE *fp;
	int fd, bad;

	if (str_fmt(path, sizeof(path), "%s/%s", MAILDROP_DIR, name) == -1 ||
	    (fd = pickup_open(path, &st)) == -1)
		return;
	if ((fp = fdopen(fd, "r")) == NULL) {
		close(fd);
		return;
	}
	memset(&m, 0, sizeof(m));
	bad = maildrop_read_envelope(fp, pickup_conf.hostname, &m, &why) == -1;
	if (!bad && m.uid != (unsigned long)st.st_uid) {
		why = "the recorded uid is not the file's owner";
		bad = 1;
	}
	if (bad) {
		log_warn("%s: rejected (owner uid %lu): %s; removed", path,
		    (unsigned long)st.st_uid, why);
		unlink(path);
	} else {
		if (!m.sender_given)
			pickup_default_sender(&m);
		if (pickup_queue(fp, &m, qid) == 0) {
			log_info("%s: uid=%lu from=<%s>%s, nrcpt=%zu (maildrop %s)", qid,
			    m.uid, log_sanitize(from, sizeof(from), m.sender,
			    strlen(m.sender)), m.sender_given ? " (set with -f)" : "",
			    m.nrcpt, name);
			if (unlink(path) == -1)
				log_err("%s: cannot remove %s: %s", qid, path, strerror(errno));
		} else {
			log_warn("%s: kept in %s/, retried in %d s", path, MAILDROP_DIR,
			    PICKUP_RETRY_MS / 1000);
			pickup_kept = 1;
		}
	}
	fclose(fp);
	free(m.rcpt);
}

/* A name postdrop makes: an id of [0-9A-Z], or "t." and one (being written). */
static int
pickup_name_ok(const char *name, int *tmp)
{
	size_t i;

	*tmp = strncmp(name, MAILDROP_TMP, strlen(MAILDROP_TMP)) == 0;
	if (*tmp)
		name += strlen(MAILDROP_TMP);
	if (strlen(name) != QID_LEN)
		return 0;
	for (i = 0; i < QID_LEN; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'A' && name[i] <= 'Z')))
			return 0;
	return 1;
}

/* A file being written is left alone unless it was abandoned long ago. */
static void
pickup_stale(const char *name)
{
	char path[64];
	struct stat st;

	if (str_fmt(path, sizeof(path), "%s/%s", MAILDROP_DIR, name) != -1 &&
	    lstat(path, &st) == 0 && time(NULL) - st.st_mtime > PICKUP_STALE_SECS) {
		log_warn("%s: abandoned by postdrop; removed", path);
		unlink(path);
	}
}

static void
pickup_scan(void)
{
	struct dirent *de;
	size_t n = 0;
	DIR *dir;
	int tmp;

	if ((dir = opendir(MAILDROP_DIR)) == NULL) {
		log_err("%s: %s", MAILDROP_DIR, strerror(errno));
		return;
	}
	pickup_kept = 0;
	while (!pickup_stop && n < PICKUP_PER_SCAN && (de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		n++;
		if (!pickup_name_ok(de->d_name, &tmp))
			log_warn("%s/%s: not a maildrop file name; ignored", MAILDROP_DIR,
			    log_sanitize((char[64]){ 0 }, 64, de->d_name,
			    strlen(de->d_name)));
		else if (tmp)
			pickup_stale(de->d_name);
		else
			pickup_file(de->d_name);
	}
	closedir(dir);
}

/* Wait for the FIFO or the rescan timer; drain the FIFO. */
static void
pickup_wait(int fifo)
{
	struct pollfd pfd = { fifo, POLLIN, 0 };
	char buf[512];
	int ms = pickup_kept ? PICKUP_RETRY_MS : PICKUP_RESCAN_MS;

	if (fifo == -1) {
		poll(NULL, 0, ms);
		return;
	}
	if (poll(&pfd, 1, ms) > 0)
		while (read(fifo, buf, sizeof(buf)) > 0)
			;
}

int
main(int argc, char **argv)
{
	struct priv_id id;
	const char *conffile = NULL;
	char err[4096];
	int ch, fifo;

	while ((ch = getopt(argc, argv, "c:")) != -1) {
		if (ch != 'c') {
			fprintf(stderr, "usage: pickup [-c config-file]\n");
			return 2;
		}
		conffile = optarg;
	}
	log_init("postern/pickup", LOG_DEST_SYSLOG);
	if (conf_load(&pickup_conf, conffile, err, sizeof(err)) == -1)
		fatal("%s", err);
	memset(&id, 0, sizeof(id));
	id.uid = getuid();
	id.gid = getgid();
	if (priv_is_root() && priv_lookup(pickup_conf.mail_owner, &id, err,
	    sizeof(err)) == -1)
		fatal("%s", err);
	/* Rule 1: the maildrop's content is never read as root. */
	if (priv_drop(&id, pickup_conf.queue_dir, 0, err, sizeof(err)) == -1)
		fatal("%s", err);
	signal(SIGPIPE, SIG_IGN);
	signal_set(SIGTERM, pickup_on_term);
	signal_set(SIGINT, pickup_on_term);
	if ((fifo = open(MAILDROP_FIFO, O_RDWR | O_NONBLOCK | O_CLOEXEC)) == -1)
		log_err("%s: %s (rescanning every %d s instead)", MAILDROP_FIFO,
		    strerror(errno), PICKUP_RESCAN_MS / 1000);
	log_info("ready");
	while (!pickup_stop) {
		pickup_scan();
		if (!pickup_stop)
			pickup_wait(fifo);
	}
	return 0;
}
