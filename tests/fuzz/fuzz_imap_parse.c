/*
 * libFuzzer target for imapd's command reader and parser
 * (imapd/imap_parse.c, imap_parse_read.c) and the sequence-set parser
 * (imap_seqset.c). The first byte picks the mode: even, the rest is one
 * command text for imap_cmd_parse; odd, it is what a client sends,
 * read by imap_cmd_read over a socketpair with small limits until EOF.
 * Every accepted command must have a valid tag, an upper-case name and
 * a well-formed argument tree (NUL-terminated strings, list counts that
 * match their EOL, bounded depth and count); every string written back
 * with imap_put_string / imap_put_astring must parse to itself; every
 * atom that is a sequence set must print to a set that parses the same.
 * Build: see imapd/core.mk.
 */
#include "config.h"

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imap_parse.h"
#include "imap_seqset.h"
#include "strbuf.h"
#include "stream.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t
check_list(const struct imap_arg *a, size_t n, int depth)
{
	size_t i, total = n;

	if (depth > IMAP_DEPTH_MAX)
		abort();
	for (i = 0; i < n; i++) {
		switch (a[i].type) {
		case IMAP_ARG_ATOM:
		case IMAP_ARG_QUOTED:
		case IMAP_ARG_LITERAL:
		case IMAP_ARG_NIL:
			if (a[i].str == NULL || a[i].str[a[i].len] != '\0')
				abort();
			if (a[i].type == IMAP_ARG_ATOM && (a[i].len == 0 ||
			    memchr(a[i].str, '\0', a[i].len) != NULL))
				abort();
			if (a[i].type == IMAP_ARG_NIL && !imap_arg_atom_is(&a[i], "NIL"))
				abort();
			break;
		case IMAP_ARG_LIST:
			total += check_list(a[i].list, a[i].n, depth + 1);
			break;
		default:
			abort();
		}
	}
	if (a[n].type != IMAP_ARG_EOL)
		abort();
	return total;
}

/* What imap_put_* writes must read back as the same string. */
static void
check_put(const struct imap_arg *a)
{
	struct imap_cmd cmd;
	struct strbuf sb;
	char err[128];

	strbuf_init(&sb, 1 << 20);
	imap_cmd_init(&cmd);
	if (strbuf_puts(&sb, "t X ") == -1 ||
	    imap_put_astring(&sb, a->str, a->len) == -1 || strbuf_putc(&sb, ' ') == -1 ||
	    imap_put_string(&sb, a->str, a->len) == -1 || strbuf_puts(&sb, "\r\n") == -1)
		abort();
	if (imap_cmd_parse(&cmd, sb.data, sb.len, err, sizeof(err)) != IMAP_READ_OK ||
	    cmd.nargs != 2 || cmd.args[0].type == IMAP_ARG_NIL ||
	    cmd.args[0].len != a->len || cmd.args[1].len != a->len ||
	    memcmp(cmd.args[0].str, a->str, a->len) != 0 ||
	    memcmp(cmd.args[1].str, a->str, a->len) != 0)
		abort();
	imap_cmd_free(&cmd);
	strbuf_free(&sb);
}

static void
check_seqset(const struct imap_arg *a)
{
	struct imap_seqset s1, s2;
	struct strbuf sb;
	size_t i;

	imap_seqset_init(&s1);
	imap_seqset_init(&s2);
	strbuf_init(&sb, 4 << 20);
	if (imap_seqset_parse(&s1, a->str, a->len, 1000) == 0 && s1.n > 0) {
		for (i = 1; i < s1.n; i++)
			if (s1.r[i].lo <= s1.r[i - 1].hi + 1 || s1.r[i].lo > s1.r[i].hi)
				abort();
		if (imap_seqset_print(&s1, &sb) == -1 ||
		    imap_seqset_parse(&s2, sb.data, sb.len, 7) == -1 ||
		    s2.n != s1.n || memcmp(s1.r, s2.r, s1.n * sizeof(*s1.r)) != 0 ||
		    imap_seqset_count(&s1) != imap_seqset_count(&s2) ||
		    !imap_seqset_contains(&s2, s1.r[0].lo))
			abort();
	}
	strbuf_free(&sb);
	imap_seqset_free(&s1);
	imap_seqset_free(&s2);
}

static void
check_cmd(const struct imap_cmd *cmd)
{
	size_t i;

	if (cmd->tag[0] == '\0' || strlen(cmd->tag) > IMAP_TAG_MAX ||
	    strpbrk(cmd->tag, "+(){%*\"\\ \r\n") != NULL)
		abort();
	for (i = 0; cmd->name[i] != '\0'; i++)
		if (cmd->name[i] >= 'a' && cmd->name[i] <= 'z')
			abort();
	if (i == 0 || check_list(cmd->args, cmd->nargs, 0) > IMAP_ARGS_MAX)
		abort();
	for (i = 0; i < cmd->nargs && i < 8; i++) {
		/* NUL only travels in literal8, which the put helpers do not write */
		if (imap_arg_is_astring(&cmd->args[i]) &&
		    memchr(cmd->args[i].str, '\0', cmd->args[i].len) == NULL)
			check_put(&cmd->args[i]);
		if (cmd->args[i].type == IMAP_ARG_ATOM)
			check_seqset(&cmd->args[i]);
	}
}

static void
fuzz_read(const uint8_t *data, size_t size, uint8_t mode)
{
	struct imap_limits lim = { 256, 64, 512, mode & 2 };
	struct imap_cmd cmd;
	struct stream st;
	char err[128];
	int sv[2], r, i;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return;
	if (write_all(sv[1], data, size) == -1) {
		close(sv[0]);
		close(sv[1]);
		return;
	}
	shutdown(sv[1], SHUT_WR);
	stream_init(&st, sv[0], sv[0], 1000);
	imap_cmd_init(&cmd);
	for (i = 0; i < 10000; i++) {
		r = imap_cmd_read(&st, &cmd, &lim, err, sizeof(err));
		if (r == IMAP_READ_EOF)
			break;
		if (r == IMAP_READ_OK)
			check_cmd(&cmd);
		else if (r != IMAP_READ_BAD && r != IMAP_READ_TOOBIG)
			abort();
		else if (err[0] == '\0' || cmd.args == NULL || cmd.args[0].type != IMAP_ARG_EOL)
			abort();
	}
	imap_cmd_free(&cmd);
	stream_close(&st, 1);
	close(sv[1]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_cmd cmd;
	char err[128];

	if (size < 1 || size > 65536)
		return 0;
	if (data[0] & 1) {
		fuzz_read(data + 1, size - 1, data[0]);
		return 0;
	}
	imap_cmd_init(&cmd);
	if (imap_cmd_parse(&cmd, (const char *)data + 1, size - 1, err, sizeof(err)) ==
	    IMAP_READ_OK)
		check_cmd(&cmd);
	else if (err[0] == '\0' || cmd.nargs != 0 || cmd.args[0].type != IMAP_ARG_EOL)
		abort();
	imap_cmd_free(&cmd);
	return 0;
}
