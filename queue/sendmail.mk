## (fragment, issue 3) local submission: postern-sendmail(1) (with the
## mailq and newaliases names), the setgid postdrop(8) helper that writes
## into maildrop/, and the pickup(8) daemon that queues from it.
bin_PROGRAMS += queue/postern-sendmail
queue_postern_sendmail_SOURCES = queue/sendmail.c queue/sendmail_bs.c \
	queue/sendmail.h queue/maildrop.h queue/maildrop.c \
	queue/addrlist.h queue/addrlist.c
queue_postern_sendmail_LDADD = $(POSTERN_LIBS)
pkglibexec_PROGRAMS += queue/postdrop queue/pickup
queue_postdrop_SOURCES = queue/postdrop.c queue/maildrop.h queue/maildrop.c
queue_postdrop_LDADD = $(POSTERN_LIBS)
queue_pickup_SOURCES = queue/pickup.c queue/maildrop.h queue/maildrop.c
queue_pickup_LDADD = $(POSTERN_LIBS)

# postdrop is setgid maildrop_group (see postdrop(8)). As root `make
# install` sets that up; otherwise (DESTDIR, packaging as a user) it only
# warns, and the packager or the admin does it. mailq and newaliases are
# names of postern-sendmail.
install-exec-hook: install-exec-sendmail
install-exec-sendmail:
	@pd="$(DESTDIR)$(pkglibexecdir)/postdrop"; \
	if chgrp $(MAILDROP_GROUP) "$$pd" 2>/dev/null && chmod 2755 "$$pd"; then \
		echo "postdrop: setgid $(MAILDROP_GROUP)"; \
	else \
		echo "warning: could not make $$pd setgid $(MAILDROP_GROUP);" \
		    "as root: chgrp $(MAILDROP_GROUP) $$pd && chmod 2755 $$pd" >&2; \
	fi
	cd "$(DESTDIR)$(bindir)" && for n in mailq newaliases; do \
		rm -f $$n && ln -s postern-sendmail $$n; done
uninstall-hook: uninstall-sendmail
uninstall-sendmail:
	rm -f "$(DESTDIR)$(bindir)/mailq" "$(DESTDIR)$(bindir)/newaliases"
.PHONY: install-exec-sendmail uninstall-sendmail
