/*
 * notify: tell systemd that the master is ready (Type=notify units,
 * debian/systemd/postern.service). The protocol of sd_notify(3), without
 * libsystemd: one datagram with "READY=1" to the AF_UNIX socket named by
 * $NOTIFY_SOCKET, a path, or an abstract name when it begins with '@'.
 * Runs in the master (root on a real system) once every listener is
 * bound and every daemon spawned; it reads nothing.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"
#include "util.h"

static char notify_name[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];

/* sockaddr_un for name; its length in *len. 0, or -1 when it is unusable. */
static int
notify_addr(const char *name, struct sockaddr_un *sun, socklen_t *len)
{
	size_t n = strlen(name);

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	/* A path, or an abstract name ('@' stands for the leading NUL). */
	if ((name[0] != '/' && name[0] != '@') || n < 2 || n > sizeof(sun->sun_path))
		return -1;
	if (n == sizeof(sun->sun_path) && name[0] == '/')
		return -1;	/* no room for the terminating NUL */
	memcpy(sun->sun_path, name, n);
	if (name[0] == '@')
		sun->sun_path[0] = '\0';
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
	    (name[0] == '/'));
	return 0;
}

int
notify_send(const char *state)
{
	struct sockaddr_un sun;
	socklen_t len;
	const char *env = getenv("NOTIFY_SOCKET");
	int fd, rc = 0;

	/* Kept here, out of the environment the daemons inherit. */
	if (env != NULL && notify_name[0] == '\0' &&
	    str_copy(notify_name, env, sizeof(notify_name)) == -1)
		notify_name[0] = '\0';
	unsetenv("NOTIFY_SOCKET");
	if (notify_name[0] == '\0')
		return 0;
	if (notify_addr(notify_name, &sun, &len) == -1) {
		log_warn("NOTIFY_SOCKET: unusable address; systemd not told %s", state);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	    (struct sockaddr *)&sun, len) == -1) {
		log_warn("NOTIFY_SOCKET: %s; systemd not told %s", strerror(errno), state);
		rc = -1;
	}
	if (fd != -1)
		close(fd);
	return rc;
}
