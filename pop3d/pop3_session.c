/*
 * pop3d after authentication: the TRANSACTION and UPDATE states of
 * RFC 1939 over the user's Maildir. Runs in the session process as the
 * mail owner (vmail_user when started as root; DESIGN.md rule 4), with
 * the Maildir as cwd; the client is reached through the login process,
 * which relays (and does TLS).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "mailbox.h"
#include "pop3.h"
#include "util.h"

#define POP3_SESSION_ERRORS	20	/* bad commands in a row */

struct pop3_sess {
	struct stream	*s;
	struct mailbox	 mb;
	const char	*user;
	const char	*peer;
	size_t		 retrieved, deleted;
	int		 errors;
};

/* Output state of the LF -> CRLF + dot-stuffing filter. */
struct pop3_filter {
	int		 bol;		/* at the beginning of a line */
	int		 prev_cr;
	int		 in_body;	/* past the empty line after the header */
	long long	 body_lines;	/* TOP: body lines still to send (-1: all) */
	int		 done;
};

/* RFC 1939 3: CRLF line ends and byte-stuffed dots. 0 or -1. */
static int
pop3_filter_chunk(struct stream *s, struct pop3_filter *f, const char *buf, size_t n)
{
	char out[16384];
	size_t o = 0, i;

	for (i = 0; i < n && !f->done; i++) {
		char c = buf[i];
		if (o + 3 > sizeof(out)) {
			if (stream_write(s, out, o) == -1)
				return -1;
			o = 0;
		}
		if (f->bol) {
			if (f->in_body && f->body_lines >= 0 && f->body_lines-- == 0) {
				f->done = 1;
				break;
			}
			if (!f->in_body && (c == '\n' || (c == '\r' && i + 1 < n &&
			    buf[i + 1] == '\n')))
				f->in_body = 1;	/* this is the empty line */
			if (c == '.')
				out[o++] = '.';
		}
		if (c == '\n' && !f->prev_cr)
			out[o++] = '\r';
		out[o++] = c;
		f->prev_cr = c == '\r';
		f->bol = c == '\n';
	}
	return stream_write(s, out, o);
}

/* Send message i (all of it, or the header plus lines body lines). 0 or -1. */
static int
pop3_send(struct pop3_sess *ps, size_t i, long long lines)
{
	struct pop3_filter f = { 1, 0, 0, lines, 0 };
	char buf[65536];
	ssize_t r;
	int fd;

	if ((fd = mailbox_msg_open(&ps->mb, i)) == -1) {
		stream_puts(ps->s, "-ERR [SYS/TEMP] Message is gone\r\n");
		return 0;
	}
	if (lines < 0)
		stream_printf(ps->s, "+OK %llu octets\r\n", ps->mb.msgs[i].size);
	else
		stream_puts(ps->s, "+OK\r\n");
	while (!f.done && (r = read(fd, buf, sizeof(buf))) != 0) {
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 || pop3_filter_chunk(ps->s, &f, buf, (size_t)r) == -1) {
			close(fd);
			return -1;	/* mid-message: only hanging up is honest */
		}
	}
	close(fd);
	if (!f.bol && !f.done)
		stream_puts(ps->s, "\r\n");
	return stream_puts(ps->s, ".\r\n");
}

/* Parse a message number argument. Index, or -1 with the -ERR queued. */
static long
pop3_msgno(struct pop3_sess *ps, const char *arg, int allow_deleted)
{
	unsigned long long n;

	if (parse_ullong(arg, 1, ps->mb.n ? ps->mb.n : 1, &n) == -1 || n > ps->mb.n) {
		stream_puts(ps->s, "-ERR No such message\r\n");
		return -1;
	}
	if (!allow_deleted && ps->mb.msgs[n - 1].deleted) {
		stream_printf(ps->s, "-ERR Message %llu already deleted\r\n", n);
		return -1;
	}
	return (long)(n - 1);
}

static int
pop3_cmd_stat(struct pop3_sess *ps, char *arg)
{
	unsigned long long octets;
	size_t count;

	(void)arg;
	mailbox_stat(&ps->mb, &count, &octets);
	return stream_printf(ps->s, "+OK %zu %llu\r\n", count, octets);
}

/* LIST and UIDL share their shape: one message, or all not deleted. */
static int
pop3_listing(struct pop3_sess *ps, char *arg, int uidl)
{
	long i;
	size_t k;

	if (*arg != '\0') {
		if ((i = pop3_msgno(ps, arg, 0)) == -1)
			return 1;
		if (uidl)
			return stream_printf(ps->s, "+OK %ld %s\r\n", i + 1,
			    ps->mb.msgs[i].uidl);
		return stream_printf(ps->s, "+OK %ld %llu\r\n", i + 1,
		    ps->mb.msgs[i].size);
	}
	stream_puts(ps->s, "+OK\r\n");
	for (k = 0; k < ps->mb.n; k++) {
		if (ps->mb.msgs[k].deleted)
			continue;
		if (uidl)
			stream_printf(ps->s, "%zu %s\r\n", k + 1, ps->mb.msgs[k].uidl);
		else
			stream_printf(ps->s, "%zu %llu\r\n", k + 1, ps->mb.msgs[k].size);
	}
	return stream_puts(ps->s, ".\r\n");
}

static int
pop3_cmd_list(struct pop3_sess *ps, char *arg)
{
	return pop3_listing(ps, arg, 0);
}

static int
pop3_cmd_uidl(struct pop3_sess *ps, char *arg)
{
	return pop3_listing(ps, arg, 1);
}

static int
pop3_cmd_retr(struct pop3_sess *ps, char *arg)
{
	long i = pop3_msgno(ps, arg, 0);

	if (i == -1)
		return 1;
	if (pop3_send(ps, (size_t)i, -1) == -1)
		return -1;
	ps->retrieved++;
	/* Seen, so that IMAP shows it as read later. */
	if (mailbox_msg_seen(&ps->mb, (size_t)i) == -1)
		log_warn("%s: cannot set Seen on %s: %s", ps->user,
		    ps->mb.msgs[i].name, strerror(errno));
	return 0;
}

static int
pop3_cmd_top(struct pop3_sess *ps, char *arg)
{
	char *nlines = pop3_split(arg);
	unsigned long long lines;
	long i;

	if ((i = pop3_msgno(ps, arg, 0)) == -1)
		return 1;
	if (parse_ullong(nlines, 0, (1ULL << 62), &lines) == -1) {
		stream_puts(ps->s, "-ERR Bad line count\r\n");
		return 1;
	}
	return pop3_send(ps, (size_t)i, (long long)lines);
}

static int
pop3_cmd_dele(struct pop3_sess *ps, char *arg)
{
	long i = pop3_msgno(ps, arg, 0);

	if (i == -1)
		return 1;
	ps->mb.msgs[i].deleted = 1;
	ps->deleted++;
	return stream_printf(ps->s, "+OK Message %ld deleted\r\n", i + 1);
}

static int
pop3_cmd_rset(struct pop3_sess *ps, char *arg)
{
	size_t k;

	(void)arg;
	for (k = 0; k < ps->mb.n; k++)
		ps->mb.msgs[k].deleted = 0;
	ps->deleted = 0;
	return stream_puts(ps->s, "+OK\r\n");
}

static int
pop3_cmd_noop(struct pop3_sess *ps, char *arg)
{
	(void)arg;
	return stream_puts(ps->s, "+OK\r\n");
}

/* RFC 2449 5: the TRANSACTION state's capabilities. */
static int
pop3_cmd_capa(struct pop3_sess *ps, char *arg)
{
	(void)arg;
	return stream_puts(ps->s, "+OK Capability list follows\r\nTOP\r\nUIDL\r\n"
	    "RESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\n"
	    "IMPLEMENTATION postern\r\n.\r\n");
}

/* RFC 1939 6: the UPDATE state. Always ends the session (-1). */
static int
pop3_cmd_quit(struct pop3_sess *ps, char *arg)
{
	size_t fail;

	(void)arg;
	fail = mailbox_expunge(&ps->mb);
	log_info("%s: pop3 logout user=%s retrieved=%zu deleted=%zu", ps->peer,
	    ps->user, ps->retrieved, ps->deleted - fail);
	if (fail > 0)
		stream_printf(ps->s, "-ERR [SYS/PERM] %zu messages not deleted\r\n", fail);
	else
		stream_puts(ps->s, "+OK Bye\r\n");
	return -1;
}

static const struct {
	const char	*verb;
	int		(*fn)(struct pop3_sess *, char *);
} pop3_sess_cmds[] = {
	{ "STAT", pop3_cmd_stat }, { "LIST", pop3_cmd_list },
	{ "RETR", pop3_cmd_retr }, { "DELE", pop3_cmd_dele },
	{ "NOOP", pop3_cmd_noop }, { "RSET", pop3_cmd_rset },
	{ "QUIT", pop3_cmd_quit }, { "TOP", pop3_cmd_top },
	{ "UIDL", pop3_cmd_uidl }, { "CAPA", pop3_cmd_capa },
};

/* One command: 0 fine, 1 refused (-ERR queued), -1 end. */
static int
pop3_sess_dispatch(struct pop3_sess *ps, char *line)
{
	char *arg = pop3_split(line);
	size_t i;

	for (i = 0; i < NELEM(pop3_sess_cmds); i++)
		if (str_ieq(line, pop3_sess_cmds[i].verb))
			return pop3_sess_cmds[i].fn(ps, arg);
	stream_puts(ps->s, "-ERR Unknown command\r\n");
	return 1;
}

void
pop3_session(struct stream *s, const struct conf *c, const char *address,
    const char *peer)
{
	struct pop3_sess ps;
	char err[512], line[POP3_LINE_MAX + 1];
	unsigned long long octets;
	size_t count;
	int r;

	(void)c;
	memset(&ps, 0, sizeof(ps));
	ps.s = s;
	ps.user = address;
	ps.peer = peer;
	r = mailbox_open(&ps.mb, 1, err, sizeof(err));
	if (r == MAILBOX_INUSE) {
		log_info("%s: pop3 user=%s: mailbox in use", peer, address);
		stream_puts(s, "-ERR [IN-USE] Mailbox is locked by another session\r\n");
		return;
	}
	if (r == -1) {
		log_err("%s: pop3 user=%s: %s", peer, address, err);
		stream_puts(s, "-ERR [SYS/TEMP] Cannot open the mailbox\r\n");
		return;
	}
	mailbox_stat(&ps.mb, &count, &octets);
	stream_printf(s, "+OK Logged in, %zu messages (%llu octets)\r\n", count, octets);
	while (ps.errors < POP3_SESSION_ERRORS) {
		if ((r = pop3_getline(s, line, POP3_LINE_MAX)) == -1)
			break;	/* dropped or timed out: no UPDATE, nothing deleted */
		if (r == 0) {
			ps.errors++;
			continue;
		}
		if ((r = pop3_sess_dispatch(&ps, line)) == -1)
			break;
		ps.errors = r == 0 ? 0 : ps.errors + 1;
	}
	if (ps.errors >= POP3_SESSION_ERRORS)
		stream_puts(s, "-ERR Too many errors\r\n");
	mailbox_close(&ps.mb);
}
