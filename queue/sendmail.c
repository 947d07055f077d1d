/*
 * postern-sendmail: the sendmail(1)-compatible interface for local
 * programs (also run as mailq and newaliases). Runs as the invoking user
 * with no privilege of its own: it reads the message, finds recipients
 * in the header with -t, and hands the message to the setgid postdrop,
 * whose exit status it maps to sysexits(3). The queue is never touched
 * here, so mail is accepted while the master is down (it waits in
 * maildrop/ until pickup runs). -bp runs `postern queue list`; -bs is in
 * sendmail_bs.c.
 */
#include "config.h"

#include <sys/wait.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "addrlist.h"
#include "aliases.h"
#include "cmdline.h"
#include "log.h"
#include "maildrop.h"
#include "msgfix.h"
#include "sendmail.h"
#include "strbuf.h"
#include "util.h"

#define SM_HDR_MAX	(1024 * 1024)	/* header kept for -t */
#define SM_PIECE	65536

/* Standard input as LF-ended pieces; "." alone ends it unless -i. */
struct sm_in {
	char	 buf[SM_PIECE];
	size_t	 pos, len;
	int	 eof, bol, done, ignore_dots;
};

static const char *sm_prog = "sendmail";

static void
sm_die(int code, const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", sm_prog);
	fprintf(stderr, fmt, arg != NULL ? arg : "");
	fprintf(stderr, "\n");
	exit(code);
}

/* One piece (a line, or part of a long one) into out. Its length; 0 at the end. */
static size_t
sm_getline(struct sm_in *in, char *out, size_t max)
{
	size_t n = 0;
	ssize_t r;

	while (!in->done && n < max - 1) {
		if (in->pos == in->len) {
			if (in->eof)
				break;
			r = read(STDIN_FILENO, in->buf, sizeof(in->buf));
			if (r == -1 && errno == EINTR)
				continue;
			if (r <= 0) {
				in->eof = 1;
				break;
			}
			in->pos = 0;
			in->len = (size_t)r;
		}
		out[n++] = in->buf[in->pos++];
		if (out[n - 1] == '\n')
			break;
	}
	if (n >= 2 && out[n - 1] == '\n' && out[n - 2] == '\r')
		out[--n - 1] = '\n';	/* CR LF -> LF */
	if (in->bol && !in->ignore_dots && ((n == 2 && memcmp(out, ".\n", 2) == 0) ||
	    (n == 1 && out[0] == '.' && in->eof && in->pos == in->len))) {
		in->done = 1;
		return 0;
	}
	in->bol = n > 0 && out[n - 1] == '\n';
	return n;
}

static void
sm_add_rcpt(struct sendmail *sm, const char *a, size_t n)
{
	if (addrlist_add(&sm->rcpt, &sm->nrcpt, a, n) == -1)
		sm_die(EX_DATAERR, "too many recipients%s", NULL);
}

/* The recipients of a header section (To, Cc, Bcc; fields unfolded). */
static void
sm_extract(struct sendmail *sm, const char *hdr, size_t len)
{
	if (addrlist_extract(&sm->rcpt, &sm->nrcpt, hdr, len) == -1)
		sm_die(EX_DATAERR, "too many recipients%s", NULL);
}

/* <dir of this binary>/<name> in the build tree, else installed. 0 or -1. */
static int
sm_program(const char *name, const char *installed, char *out, size_t outlen)
{
	char exe[PATH_MAX], status[PATH_MAX + 32], *slash;
	ssize_t n;

	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL) {
			*slash = '\0';
			/* The build tree: queue/postern-sendmail, ../config.status. */
			if (str_fmt(status, sizeof(status), "%s/../config.status", exe) != -1 &&
			    access(status, F_OK) == 0)
				return str_fmt(out, outlen, "%s/%s", exe, name) == -1 ? -1 : 0;
		}
	}
	return str_fmt(out, outlen, "%s", installed) == -1 ? -1 : 0;
}

pid_t
sendmail_postdrop_start(const struct sendmail *sm, const char *sender,
    char *const *rcpt, size_t nrcpt, int *wfd)
{
	char path[PATH_MAX + 16], inst[PATH_MAX + 16];
	char **argv;
	size_t i, n = 0;
	int p[2];
	pid_t pid;

	if (str_fmt(inst, sizeof(inst), "%s/postdrop", sm->conf.daemon_directory) == -1 ||
	    sm_program("postdrop", inst, path, sizeof(path)) == -1)
		sm_die(EX_SOFTWARE, "path of postdrop too long%s", NULL);
	argv = xcalloc(nrcpt + 10, sizeof(*argv));
	argv[n++] = "postdrop";
	if (sm->conffile != NULL) {
		argv[n++] = "-c";
		argv[n++] = (char *)sm->conffile;
	}
	if (sender != NULL) {
		argv[n++] = "-f";
		argv[n++] = (char *)sender;
	}
	if (sm->fullname != NULL) {
		argv[n++] = "-F";
		argv[n++] = (char *)sm->fullname;
	}
	argv[n++] = "--";
	for (i = 0; i < nrcpt; i++)
		argv[n++] = rcpt[i];
	if (pipe(p) == -1 || (pid = fork()) == -1) {
		fprintf(stderr, "%s: cannot run postdrop: %s\n", sm_prog, strerror(errno));
		free(argv);
		return -1;
	}
	if (pid == 0) {
		close(p[1]);
		if (dup2(p[0], STDIN_FILENO) == -1)
			_exit(POSTDROP_EX_WRITE);
		close(p[0]);
		execv(path, argv);
		fprintf(stderr, "%s: cannot run %s: %s\n", sm_prog, path, strerror(errno));
		_exit(POSTDROP_EX_WRITE);
	}
	free(argv);
	close(p[0]);
	*wfd = p[1];
	return pid;
}

int
sendmail_postdrop_wait(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return POSTDROP_EX_WRITE;
	return WIFEXITED(st) ? WEXITSTATUS(st) : POSTDROP_EX_WRITE;
}

const char *
sendmail_postdrop_text(int status)
{
	switch (status) {
	case POSTDROP_EX_OK:
		return "queued";
	case POSTDROP_EX_USAGE:
		return "bad arguments";
	case POSTDROP_EX_ADDR:
		return "bad address";
	case POSTDROP_EX_TOOBIG:
		return "message too large";
	case POSTDROP_EX_NRCPT:
		return "no recipients, or too many";
	case POSTDROP_EX_NOPERM:
		return "not permitted";
	case POSTDROP_EX_CONFIG:
		return "configuration error";
	case POSTDROP_EX_READ:
		return "read error";
	default:
		return "cannot write to the maildrop";
	}
}

/* postdrop's status as sysexits(3). */
static int
sm_sysexit(int status)
{
	switch (status) {
	case POSTDROP_EX_OK:
		return EX_OK;
	case POSTDROP_EX_USAGE:
		return EX_USAGE;
	case POSTDROP_EX_ADDR:
	case POSTDROP_EX_TOOBIG:
	case POSTDROP_EX_NRCPT:
		return EX_DATAERR;
	case POSTDROP_EX_NOPERM:
		return EX_NOPERM;
	case POSTDROP_EX_CONFIG:
		return EX_CONFIG;
	case POSTDROP_EX_READ:
		return EX_IOERR;
	default:
		return EX_TEMPFAIL;
	}
}

/* -bp, mailq: `postern queue list` does the listing. */
static int
sm_mailq(const struct sendmail *sm)
{
	char path[PATH_MAX + 16], err[8192];
	char *argv[6] = { "postern", "queue", "list", NULL, NULL, NULL };
	size_t n = 0;
	ssize_t r;
	int p[2], st;
	pid_t pid;

	if (sm_program("../postern", SBINDIR "/postern", path, sizeof(path)) == -1)
		sm_die(EX_SOFTWARE, "path of postern too long%s", NULL);
	if (sm->conffile != NULL) {
		argv[3] = "-c";
		argv[4] = (char *)sm->conffile;
	}
	if (pipe(p) == -1 || (pid = fork()) == -1)
		sm_die(EX_OSERR, "cannot run postern: %s", strerror(errno));
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], STDERR_FILENO);
		execv(path, argv);
		fprintf(stderr, "cannot run %s: %s\n", path, strerror(errno));
		_exit(EX_UNAVAILABLE);
	}
	close(p[1]);
	while (n < sizeof(err) - 1 && ((r = read(p[0], err + n, sizeof(err) - 1 - n)) > 0 ||
	    (r == -1 && errno == EINTR)))
		n += r > 0 ? (size_t)r : 0;
	err[n] = '\0';
	close(p[0]);
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 2 && strstr(err, "unknown command") != NULL)
		sm_die(EX_UNAVAILABLE, "listing the queue needs `postern queue list`, "
		    "which this postern does not have yet%s", NULL);
	write_all(STDERR_FILENO, err, n);
	return WIFEXITED(st) ? WEXITSTATUS(st) : EX_SOFTWARE;
}

/* -bi, newaliases: nothing to build; check the file and say so. */
static int
sm_newaliases(const struct sendmail *sm)
{
	int n = aliases_check(sm->conf.alias_file, STDERR_FILENO);

	if (n < 0)
		return EX_NOINPUT;
	printf("%s: postern reads %s directly: changes take effect without "
	    "rebuilding anything (%d problem%s found)\n", sm_prog,
	    *sm->conf.alias_file ? sm->conf.alias_file : "(no alias_file)", n,
	    n == 1 ? "" : "s");
	return n == 0 ? EX_OK : EX_DATAERR;
}

/* Read the header for -t: recipients from To, Cc and Bcc. */
static void
sm_read_header(struct sendmail *sm, struct sm_in *in, struct strbuf *hdr, char *piece)
{
	size_t n;

	while ((n = sm_getline(in, piece, SM_PIECE)) > 0) {
		if (strbuf_append(hdr, piece, n) == -1)
			sm_die(EX_DATAERR, "message header larger than 1 MiB%s", NULL);
		if (n == 1 && piece[0] == '\n' && (hdr->len == 1 ||
		    hdr->data[hdr->len - 2] == '\n'))
			break;	/* the empty line ends the header */
	}
	sm_extract(sm, hdr->data ? hdr->data : "", hdr->len);
}

/* The default mode: the message to postdrop. */
static int
sm_deliver(struct sendmail *sm)
{
	static struct sm_in in;
	struct strbuf hdr;
	char *piece = xmalloc(SM_PIECE);
	int wfd, ok = 1, status;
	size_t n;
	pid_t pid;

	in.bol = 1;
	in.ignore_dots = sm->ignore_dots;
	strbuf_init(&hdr, SM_HDR_MAX);
	if (sm->extract)
		sm_read_header(sm, &in, &hdr, piece);
	if (sm->nrcpt == 0)
		sm_die(EX_USAGE, "no recipients given%s", sm->extract ?
		    " (none in To, Cc or Bcc either)" : "");
	if ((pid = sendmail_postdrop_start(sm, sm->sender, sm->rcpt, sm->nrcpt, &wfd)) == -1)
		return EX_TEMPFAIL;
	if (hdr.len > 0 && write_all(wfd, hdr.data, hdr.len) == -1)
		ok = 0;
	while (ok && (n = sm_getline(&in, piece, SM_PIECE)) > 0)
		if (write_all(wfd, piece, n) == -1)
			ok = 0;	/* postdrop stopped reading: its status says why */
	close(wfd);
	strbuf_free(&hdr);
	free(piece);
	status = sendmail_postdrop_wait(pid);
	if (status != POSTDROP_EX_OK)
		sm_die(sm_sysexit(status), "message not sent: %s",
		    sendmail_postdrop_text(status));
	if (sm->verbose)
		fprintf(stderr, "%s: queued for %zu recipient%s; pickup delivers it "
		    "(at once, or when postern runs)\n", sm_prog, sm->nrcpt,
		    sm->nrcpt == 1 ? "" : "s");
	return EX_OK;
}

/*
 * sendmail's options, Postfix's set: those we act on, and the rest taken
 * and ignored. Any other option is an error (EX_USAGE), as with Postfix.
 * -q takes an optional interval (-q30m).
 */
#define SM_OPTSTRING	"A:B:C:F:GIL:N:O:R:UV:X:b:ce:f:h:imno:p:q::r:tvx"

static void
sm_help(void)
{
	if (strcmp(sm_prog, "sendmail") != 0) {
		printf("usage: %s [-C FILE]\n"
		    "The same as postern-sendmail %s; options may come in any order.\n"
		    "  -C FILE   the configuration (else $POSTERN_CONF)\n"
		    "  --help    this text\n", sm_prog,
		    strcmp(sm_prog, "mailq") == 0 ? "-bp" : "-bi");
		return;
	}
	printf("usage: %s [-itv] [-C FILE] [-f SENDER] [-F FULLNAME] [-oi] "
	    "[RECIPIENT ...]\n"
	    "       %s -bs|-bp|-bi [-C FILE]\n"
	    "Options may come before or after the recipients; -- ends them.\n"
	    "  -t           recipients also from To:, Cc:, Bcc:\n"
	    "  -i, -oi      a line with a single dot does not end the message\n"
	    "  -f SENDER    envelope sender (-r too); -F NAME: full name\n"
	    "  -C FILE      the configuration (else $POSTERN_CONF)\n"
	    "  -v           say what was done\n"
	    "  -bm          send a message (the default); -bs: SMTP on stdin/stdout\n"
	    "  -bp          list the queue (mailq); -bi: check the aliases (newaliases)\n"
	    "  --help       this text\n"
	    "Other sendmail options (-B -N -R -V -X -L -h -O -p -A -e -o X -c -m -n -x\n"
	    "-G -I -U) are accepted and ignored.\n", sm_prog, sm_prog);
}

struct sm_parse {
	struct sendmail	*sm;
	int		 mode;
	int		 help;
};

static int
sm_opt(struct cmdline *cl, int opt, const char *arg, void *ctx)
{
	struct sm_parse *p = ctx;
	struct sendmail *sm = p->sm;

	switch (opt) {
	case CMDLINE_HELP: p->help = 1; break;
	case 't': sm->extract = 1; break;
	case 'i': sm->ignore_dots = 1; break;
	case 'v': sm->verbose++; break;
	case 'f': case 'r': sm->sender = arg; break;
	case 'F': sm->fullname = arg; break;
	case 'C': sm->conffile = arg; break;
	case 'q': p->mode = 'q'; break;
	case 'o':
		if (strcmp(arg, "i") == 0)
			sm->ignore_dots = 1;
		break;
	case 'b':
		if (strcmp(arg, "p") == 0 || strcmp(arg, "s") == 0 || strcmp(arg, "i") == 0)
			p->mode = arg[0];
		else if (strcmp(arg, "m") == 0)
			p->mode = 'm';
		else
			return cmdline_error(cl, "-b%s is not supported (postern runs its own "
			    "daemons: see postern(8))", arg);
		break;
	default:
		break;	/* one of Postfix's that we accept and ignore */
	}
	return 0;
}

/* Parse the command line (common/cmdline.h). Returns the mode: 'm' mail,
 * 'p' mailq, 's' SMTP, 'i' newaliases, 'q' queue run; operands are
 * recipients. A wrong argument: one line, EX_USAGE. */
static int
sm_options(struct sendmail *sm, int argc, char **argv, int mode)
{
	struct sm_parse p = { sm, mode, 0 };
	struct cmdline cl;
	int i;

	if (cmdline_parse(&cl, argc, argv, SM_OPTSTRING, sm_opt, &p) == -1)
		sm_die(EX_USAGE, "%s (--help lists the options)", cl.err);
	if (p.help) {
		sm_help();
		exit(EX_OK);
	}
	if (p.mode != 'm' && cl.noperands > 0)
		sm_die(EX_USAGE, "unexpected argument '%s' (recipients are for "
		    "sending mail)", cl.operands[0]);
	sm->rcpt = xcalloc((size_t)cl.noperands + 1, sizeof(*sm->rcpt));
	for (i = 0; i < cl.noperands; i++)
		sm_add_rcpt(sm, cl.operands[i], strlen(cl.operands[i]));
	cmdline_free(&cl);
	return p.mode;
}

int
main(int argc, char **argv)
{
	static struct sendmail sm;
	const char *base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	char err[8192];
	int mode = 'm';

	signal(SIGPIPE, SIG_IGN);
	log_init("postern/sendmail", LOG_DEST_STDERR);
	if (strcmp(base, "mailq") == 0)
		mode = 'p';
	else if (strcmp(base, "newaliases") == 0)
		mode = 'i';
	sm_prog = mode == 'p' ? "mailq" : mode == 'i' ? "newaliases" : "sendmail";
	mode = sm_options(&sm, argc, argv, mode);
	if (sm.conffile == NULL)
		sm.conffile = getenv("POSTERN_CONF");
	if (conf_load(&sm.conf, sm.conffile, err, sizeof(err)) == -1)
		sm_die(EX_CONFIG, "%s", str_trim(err));
	switch (mode) {
	case 'p':
		return sm_mailq(&sm);
	case 'i':
		return sm_newaliases(&sm);
	case 'q':
		sm_die(EX_USAGE, "-q: postern runs its queue itself (postern queue "
		    "flush)%s", NULL);
		break;
	case 's':
		return sendmail_bs(&sm);
	}
	return sm_deliver(&sm);
}
