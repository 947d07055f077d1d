/*
 * lookup: the client half of the recipient check. smtpd (as `postern`,
 * chrooted to the queue directory) and qmgr ask lookupd over the unix
 * socket private/lookup, on one kept connection (lookup_rcpt); every
 * step has the caller's time limit, and any failure is LOOKUP_TEMPFAIL
 * (451 4.3.0), never a wrong "no such user". Answers are kept while
 * lookupd's generation stays the same (common/lookup.h). lookup_postmaster asks
 * lookupd, which alone reads the sasldb, for qmgr's postmaster routing.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "lookup.h"
#include "util.h"

#define LOOKUP_ADDR_MAX	512

/* Wait for fd to be ready for events until deadline (now_ms). */
static int
lookup_wait(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { fd, events, 0 };
	int64_t left;
	int r;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return -1;
		r = poll(&pfd, 1, (int)left);
		if (r == 1)
			return 0;
		if (r == -1 && errno != EINTR)
			return -1;
	}
}

static int
lookup_connect(const char *sockpath)
{
	return unix_connect(sockpath, SOCK_NONBLOCK);
}

/* Read one reply line into buf. 0 or -1. */
static int
lookup_read_line(int fd, char *buf, size_t len, int64_t deadline)
{
	size_t got = 0;
	ssize_t n;

	while (got + 1 < len) {
		if (lookup_wait(fd, POLLIN, deadline) == -1)
			return -1;
		n = read(fd, buf + got, len - 1 - got);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
		buf[got] = '\0';
		if (memchr(buf, '\n', got) != NULL)
			return 0;
	}
	return -1;
}

/*
 * The connection to lookupd is kept between questions (lookupd answers
 * many lines on one connection and drops a client idle for 30 s), so a
 * session, or a reused smtpd worker, pays for connect() once. A question
 * is idempotent: when the kept connection turns out dead before any reply
 * byte, it is asked once more on a new one.
 */
static int	lookup_fd = -1;
static char	lookup_path[108];

/* Send all of req; MSG_NOSIGNAL: a dead lookupd is EPIPE, not SIGPIPE. */
static int
lookup_send(int fd, const char *req, size_t n, int64_t deadline)
{
	ssize_t w;

	while (n > 0) {
		/* Send first: a request fits the socket buffer, so no poll. */
		w = send(fd, req, n, MSG_NOSIGNAL);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && errno == EAGAIN) {
			if (lookup_wait(fd, POLLOUT, deadline) == -1)
				return -1;
			continue;
		}
		if (w <= 0)
			return -1;
		req += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Send req on the kept connection and read the answer. 0, or -1 (closed). */
static int
lookup_ask(const char *req, size_t n, char *rep, size_t replen, int64_t deadline)
{
	if (lookup_send(lookup_fd, req, n, deadline) == -1 ||
	    lookup_read_line(lookup_fd, rep, replen, deadline) == -1) {
		close(lookup_fd);
		lookup_fd = -1;
		return -1;
	}
	return 0;
}

void
lookup_close(void)
{
	if (lookup_fd != -1)
		close(lookup_fd);
	lookup_fd = -1;
}

/*
 * The answer cache (common/lookup.h): LOOKUP_CACHE_N answers, placed by a
 * hash of the address (a newer one takes the place of an older), each
 * with the generation it was asked in. Addresses longer than the slot
 * are not kept. About 5 kB, touched only once RCPT is checked.
 */
#define LOOKUP_CACHE_N		32
#define LOOKUP_CACHE_ADDR	136
#define LOOKUP_REMAP_MS		1000	/* retry a missing or stale file */

static struct lookup_slot {
	char		 addr[LOOKUP_CACHE_ADDR];	/* "" empty */
	uint64_t	 gen;
	enum lookup_result r;
} lookup_cache[LOOKUP_CACHE_N];
static const struct lookup_gen *lookup_genp;	/* mmap of LOOKUP_GEN_FILE */
static int64_t lookup_map_tried;	/* now_ms() of the last try, 0 none */

static void
lookup_unmap(void)
{
	if (lookup_genp != NULL)
		munmap((void *)lookup_genp, sizeof(*lookup_genp));
	lookup_genp = NULL;
}

/* Map LOOKUP_GEN_FILE (relative to the queue directory). 0 or -1. */
static int
lookup_map(int64_t now)
{
	struct stat st;
	void *m;
	int fd;

	if (lookup_map_tried != 0 && now - lookup_map_tried < LOOKUP_REMAP_MS)
		return -1;
	lookup_map_tried = now;
	if ((fd = open(LOOKUP_GEN_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	m = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size >= (off_t)sizeof(*lookup_genp) ?
	    mmap(NULL, sizeof(*lookup_genp), PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
	close(fd);
	if (m == MAP_FAILED)
		return -1;
	lookup_genp = m;
	return 0;
}

/* The generation now, if lookupd is alive (heartbeat). 0 or -1. */
static int
lookup_gen_now(uint64_t *gen)
{
	int64_t now = now_ms(), beat;

	for (int tries = 0; tries < 2; tries++) {
		if (lookup_genp == NULL && lookup_map(now) == -1)
			return -1;
		beat = __atomic_load_n(&lookup_genp->beat, __ATOMIC_ACQUIRE);
		if (now - beat <= LOOKUP_BEAT_MS && beat - now <= LOOKUP_BEAT_MS) {
			*gen = __atomic_load_n(&lookup_genp->gen, __ATOMIC_ACQUIRE);
			return 0;
		}
		lookup_unmap();	/* lookupd stopped, or made the file anew */
	}
	return -1;
}

static struct lookup_slot *
lookup_slot(const char *address)
{
	uint32_t h = 2166136261u;	/* FNV-1a */
	const unsigned char *p;

	for (p = (const unsigned char *)address; *p; p++)
		h = (h ^ *p) * 16777619u;
	return &lookup_cache[h % LOOKUP_CACHE_N];
}

/* Parse lookupd's answer; *keep 0 for a "volatile" one. */
static enum lookup_result
lookup_parse(const char *rep, int *keep)
{
	static const struct {
		const char *word;
		enum lookup_result r;
	} words[] = {
		{ "ok", LOOKUP_OK }, { "nouser", LOOKUP_NOUSER },
		{ "notlocal", LOOKUP_NOTLOCAL },
	};
	size_t i, n;

	for (i = 0; i < NELEM(words); i++) {
		n = strlen(words[i].word);
		if (strncmp(rep, words[i].word, n) != 0)
			continue;
		if (strcmp(rep + n, "\n") == 0) {
			*keep = 1;
			return words[i].r;
		}
		if (strcmp(rep + n, " volatile\n") == 0) {
			*keep = 0;
			return words[i].r;
		}
	}
	*keep = 0;
	return LOOKUP_TEMPFAIL;
}

static enum lookup_result lookup_ask_rcpt(const char *, const char *, int, int *);

enum lookup_result
lookup_rcpt(const char *sockpath, const char *address, int timeout_ms)
{
	struct lookup_slot *slot = lookup_slot(address);
	enum lookup_result r;
	uint64_t gen = 0;
	int cacheable, keep;

	/* The generation is read before asking: a later change voids the answer. */
	cacheable = strlen(address) < sizeof(slot->addr) && lookup_gen_now(&gen) == 0;
	if (cacheable && slot->gen == gen && strcmp(slot->addr, address) == 0)
		return slot->r;
	r = lookup_ask_rcpt(sockpath, address, timeout_ms, &keep);
	if (cacheable && keep && r != LOOKUP_TEMPFAIL) {
		str_copy(slot->addr, address, sizeof(slot->addr));
		slot->gen = gen;
		slot->r = r;
	}
	return r;
}

/* Ask lookupd (no cache). */
static enum lookup_result
lookup_ask_rcpt(const char *sockpath, const char *address, int timeout_ms, int *keep)
{
	char req[LOOKUP_ADDR_MAX + 16], rep[64];
	const unsigned char *p;
	int64_t deadline = now_ms() + timeout_ms;
	enum lookup_result r;
	int n, kept;

	*keep = 0;
	for (p = (const unsigned char *)address; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return LOOKUP_NOUSER;	/* no mailbox has such a name */
	if ((n = str_fmt(req, sizeof(req), "rcpt %s\n", address)) == -1)
		return LOOKUP_NOUSER;
	if (lookup_fd != -1 && strcmp(lookup_path, sockpath) != 0)
		lookup_close();
	kept = lookup_fd != -1;
	rep[0] = '\0';
	if (kept && lookup_ask(req, (size_t)n, rep, sizeof(rep), deadline) == -1 &&
	    rep[0] != '\0')
		return LOOKUP_TEMPFAIL;	/* a partial answer: do not ask twice */
	if (lookup_fd == -1) {
		if (str_copy(lookup_path, sockpath, sizeof(lookup_path)) == -1 ||
		    (lookup_fd = lookup_connect(sockpath)) == -1 ||
		    lookup_ask(req, (size_t)n, rep, sizeof(rep), deadline) == -1)
			return LOOKUP_TEMPFAIL;
	}
	if ((r = lookup_parse(rep, keep)) == LOOKUP_TEMPFAIL)
		lookup_close();	/* "temp": lookupd closes after an unknown line */
	return r;
}

int
lookup_postmaster(const char *sockpath, const char *address, char *first,
    size_t firstlen, int timeout_ms)
{
	char req[LOOKUP_ADDR_MAX + 16], rep[LOOKUP_ADDR_MAX + 16];
	const unsigned char *p;
	int64_t deadline = now_ms() + timeout_ms;
	int fd, n, r = -1;

	for (p = (const unsigned char *)address; *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return -1;
	if ((n = str_fmt(req, sizeof(req), "postmaster %s\n", address)) == -1 ||
	    (fd = lookup_connect(sockpath)) == -1)
		return -1;
	if (lookup_send(fd, req, (size_t)n, deadline) == 0 &&
	    lookup_read_line(fd, rep, sizeof(rep), deadline) == 0) {
		rep[strcspn(rep, "\n")] = '\0';
		if (strcmp(rep, "self") == 0)
			r = 1;
		else if (strcmp(rep, "none") == 0)
			r = str_copy(first, "", firstlen);
		else if (strncmp(rep, "first ", 6) == 0 && rep[6] != '\0')
			r = str_copy(first, rep + 6, firstlen);
	}
	close(fd);
	return r;
}
