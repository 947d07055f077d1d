## Reading message content, shared by several daemons: PCRE2 with limits
## (regex: content checks in smtpd and submitd, delivery rules in deliver)
## and the MIME decoders (mime_decode: imapd and deliver's rules).
COMMON_CONTENT = common/regex.c common/regex.h common/mime_decode.c common/mime_decode.h
