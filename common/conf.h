/*
 * conf: postern.conf, driven by one parameter table (conf.c: conf_params).
 * The parser, `postern config`, `postern check` and the man-page test all
 * read that table. A value may refer to another key as $name or ${name}.
 */
#ifndef POSTERN_CONF_H
#define POSTERN_CONF_H

#include <stddef.h>

enum conf_type {
	CONF_STR,	/* any string */
	CONF_PATH,	/* absolute path, or empty where allowed */
	CONF_LIST,	/* comma/space separated list, kept as a string */
	CONF_LISTEN,	/* comma separated addr:port list */
	CONF_UINT,	/* unsigned integer */
	CONF_SIZE,	/* bytes, with optional k/m/g */
	CONF_DURATION,	/* seconds, with optional s/m/h/d/w */
	CONF_MSEC,	/* milliseconds, with optional ms, or s */
	CONF_BOOL	/* yes/no */
};

struct conf {
	/* identity and places */
	char	*hostname;
	char	*local_domains;
	char	*state_dir;
	char	*queue_dir;		/* derived: $state_dir/queue */
	char	*mail_root;
	char	*sasl_db;
	char	*alias_file;
	char	*postmaster_address;	/* RFC 5321 4.5.1; "" = see common/postmaster.h */
	char	*daemon_directory;
	/* listeners */
	char	*smtp_listen;
	char	*submission_listen;
	char	*submissions_listen;
	char	*pop3_listen;
	char	*pop3s_listen;
	char	*imap_listen;
	char	*imaps_listen;
	unsigned long long listen_backlog;
	/* TLS */
	char	*tls_cert;
	char	*tls_key;
	/* routing (outbound: issue 4) */
	char	*transport_map;
	char	*relayhost;
	/* outbound smtp client and its scheduling (issue 4) */
	char	*relayhost_credentials;
	char	*tls_policy_map;
	unsigned long long smtp_concurrency;
	unsigned long long smtp_destination_concurrency;
	long long smtp_connect_timeout;
	long long smtp_helo_timeout;
	long long smtp_mail_timeout;
	long long smtp_rcpt_timeout;
	long long smtp_data_init_timeout;
	long long smtp_data_xfer_timeout;
	long long smtp_data_done_timeout;
	/* smtpd */
	unsigned long long message_size_limit;
	unsigned long long smtpd_recipient_limit;
	unsigned long long smtpd_error_limit;
	long long smtpd_timeout;
	unsigned long long smtpd_process_limit;
	/* process reuse: smtpd, submitd, deliver (common/listen_pool.c) */
	unsigned long long max_use;
	long long max_idle;
	/* queue */
	long long queue_retry_min;
	long long queue_retry_max;
	long long queue_lifetime;
	long long delay_warning_time;	/* 0: no delay notices */
	unsigned long long deliver_concurrency;
	long long queue_collect_delay;	/* ms: qmgr gathers new mail */
	/* delivery rules and plus-addressing (issue 10) */
	char	*delivery_rules;
	char	*recipient_delimiter;
	/* delivery to Unix accounts: ~/Maildir, ~/.postern.rules */
	char	*system_domains;
	/* pop3d */
	int	pop3_plaintext_auth;
	/* imapd (issue 9) */
	int	imap_plaintext_auth;
	unsigned long long mailbox_quota;		/* bytes, 0 = none */
	unsigned long long mailbox_quota_messages;	/* 0 = none */
	/* submitd, smtpd AUTH (issue 3) */
	char	*sender_login_map;
	int	smtpd_auth_enable;
	unsigned long long submission_auth_failures;
	/* content checks at SMTP time (issue 10) */
	char	*header_checks;
	char	*mime_header_checks;
	char	*body_checks;
	unsigned long long body_checks_size_limit;
	/* accounts used when started as root */
	char	*mail_owner;
	char	*login_user;
	char	*vmail_user;
	char	*maildrop_group;
	char	*auth_user;		/* authd, lookupd: the only reader of sasl_db */
	unsigned long long auth_block_prefix_ipv4;	/* authd's failure block: per network */
	unsigned long long auth_block_prefix_ipv6;
};

struct conf_param {
	const char	*name;
	enum conf_type	 type;
	const char	*def;		/* default, before $name expansion */
	size_t		 off;		/* offset of the field in struct conf */
	int		 empty_ok;	/* an empty value is allowed */
	const char	*doc;		/* one line of documentation */
};

extern const struct conf_param conf_params[];
extern const size_t conf_nparams;

/*
 * Load FILE (or the default) into c. The path is: the argument if not
 * NULL, else $POSTERN_CONF, else SYSCONFDIR/postern/postern.conf. A missing
 * file at the default path means all defaults; at an explicit path it is an
 * error. On error returns -1 with every problem described in err, one per
 * line ("postern.conf:12: unknown key 'foo'").
 */
int conf_load(struct conf *c, const char *path, char *err, size_t errlen);
/* The path conf_load used (for children and messages). */
const char *conf_path(void);
/* Defaults only, for tools that run before a file exists. */
void conf_defaults(struct conf *c);
/* Print "key = value" for every key (or only those set in the file). */
void conf_print(const struct conf *c, int only_set, int fd);
/* Is a key set explicitly in the file? */
int conf_is_set(const char *name);
/* The effective string value of a key (NULL if unknown key). */
const char *conf_value(const char *name);
/* The value as written in the file, before $name expansion (NULL if unknown). */
const char *conf_value_raw(const char *name);
/* Is domain (any case) one of local_domains or of system_domains? */
int conf_is_local_domain(const struct conf *c, const char *domain);
/* Is domain (any case) one of system_domains (local parts: Unix accounts)? */
int conf_is_system_domain(const struct conf *c, const char *domain);
/* Is system_domains set (Unix accounts get mail and log in)? */
int conf_has_system_domains(const struct conf *c);

#endif
