/*
 * notify: the systemd readiness protocol (sd_notify(3)) written out by
 * hand, so that postern needs no libsystemd. Used by the master.
 */
#ifndef POSTERN_NOTIFY_H
#define POSTERN_NOTIFY_H

/*
 * Send state (e.g. "READY=1", "STOPPING=1") to $NOTIFY_SOCKET. The first
 * call takes NOTIFY_SOCKET out of the environment (the daemons the master
 * spawns later must not inherit it) and keeps it for the next calls. 0 when sent or when there is no
 * socket (not under systemd), -1 on error (logged; never fatal).
 */
int notify_send(const char *state);

#endif
