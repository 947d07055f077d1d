## The parser of delivery rules, postern.rules(5) (issue 10): deliver
## evaluates the rules (deliver/rules.mk), `postern check` reports errors.
common_libpostern_a_SOURCES += common/rules.h common/rules_int.h \
	common/rules_parse.c common/rules_name.c
