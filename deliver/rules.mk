## (fragment, issue 10) per-user delivery rules, postern.rules(5): the
## parser, the evaluator, the message view and the Maildir++ folders.
DELIVER_RULES = deliver/rules.h deliver/rules_int.h deliver/rules_parse.c \
	deliver/rules_eval.c deliver/rules_msg.c deliver/rules_folder.c
