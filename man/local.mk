## mdoc(7) pages; `make check` lints them with mandoc when it is installed.
dist_man_MANS += man/postern.7 man/postern.8 man/postern.conf.5 \
	man/smtpd.8 man/qmgr.8 man/deliver.8 man/lookupd.8
