/*
 * agent: the request qmgr sends to a delivery agent (deliver(8), the smtp
 * client) over a unix stream socket, and the agents' one reader of it.
 *
 * The queue file's open fd rides on the first byte (SCM_RIGHTS), then
 * LF-ended lines in this order:
 *   qid QID                   QID_LEN characters of [0-9A-Z]
 *   sender ADDRESS            empty value: the null sender
 *   data OFFSET SIZE          the content bytes in the passed file
 *   rcpt INDEX MAILBOX        1..AGENT_MAX_RCPT lines; INDEX in the queue file
 *   end
 * Nothing may follow "end". The agent answers with its own status lines.
 */
#ifndef POSTERN_AGENT_H
#define POSTERN_AGENT_H

#include <stddef.h>
#include <sys/types.h>

#include "qfile.h"

#define AGENT_REQ_MAX		(1024 * 1024)	/* request text, bytes */
#define AGENT_MAX_RCPT		1000		/* rcpt lines in one request */
#define AGENT_MAX_IDX		1000000		/* largest recipient index */
#define AGENT_TIMEOUT_MS	30000		/* to read a whole request */

struct agent_rcpt {
	unsigned long long idx;		/* index in the queue file */
	char	*addr;			/* the mailbox (at most QFILE_ADDR_MAX) */
};

struct agent_req {
	int	 fd;			/* the queue file, or -1 */
	char	 qid[QID_LEN + 1];
	char	*sender;		/* "" for the null sender */
	off_t	 off;			/* first content byte in fd */
	unsigned long long size;	/* content bytes */
	struct agent_rcpt *rcpt;
	size_t	 nrcpt;
};

/* An empty request (fd -1): what agent_req_free() accepts. */
void agent_req_init(struct agent_req *);

/*
 * Read one whole request from conn (blocking or not) within timeout_ms:
 * at most AGENT_REQ_MAX bytes, exactly one passed fd and no other control
 * data, then parse it and check that off/size lie inside the passed
 * regular file. r is initialised here. 0, or -1 with r left empty (any
 * fd received already closed); errno ENODATA when the peer closed the
 * connection before sending a byte (the end of a kept connection, not a
 * malformed request). agent_req_free() is safe either way.
 */
int agent_req_read(int conn, struct agent_req *r, int timeout_ms);

/*
 * Parse request text (len bytes, ending with "end\n"; modified in place)
 * into r, which must come from agent_req_init(). No I/O: r->fd is left
 * alone. 0 or -1; on -1, call agent_req_free().
 */
int agent_req_parse(struct agent_req *r, char *text, size_t len);

/* Close r->fd (unless -1) and free everything r owns; r is left empty. */
void agent_req_free(struct agent_req *r);

/*
 * qmgr's side: write r to conn in the format above, r->fd passed with
 * the first byte (r's strings are only read). 0, or -1 with errno
 * (EMSGSIZE when the text would exceed AGENT_REQ_MAX).
 */
int agent_req_send(int conn, const struct agent_req *r);

/*
 * The system-user header (private/deliver-user only, before the request
 * above): AGENT_USER_HDR_LEN bytes, "PSU1" then the recipient's uid and
 * gid as two 32-bit numbers in host byte order (both ends are on this
 * host), as qmgr resolved them with getpwnam (common/sysuser.h). It is
 * all deliver's root parent-side reads: fixed size, no text, no fd.
 */
#define AGENT_USER_HDR_LEN	12
#define AGENT_USER_MAGIC	"PSU1"

/* qmgr's side: write the header. 0, or -1 with errno. */
int agent_user_send(int conn, uid_t uid, gid_t gid);
/*
 * deliver's side: read exactly the header within timeout_ms, refusing
 * any passed fd (closed) or other control data and a wrong magic; never
 * reads a byte past it. 0, or -1.
 */
int agent_user_read(int conn, uid_t *uid, gid_t *gid, int timeout_ms);

#endif
