## (fragment, issue 10) per-user delivery rules, postern.rules(5): the
## evaluator, the message view and the Maildir++ folders. The parser is
## in libpostern (common/rules.mk): `postern check` uses it too.
DELIVER_RULES = deliver/rules_eval.h deliver/rules_eval.c \
	deliver/rules_msg.c deliver/rules_folder.c
