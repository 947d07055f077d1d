## PCRE2 with limits (regex): content checks (smtpd, submitd) and delivery
## rules (deliver) share it.
COMMON_REGEX = common/regex.c common/regex.h
