## The delivery request between qmgr and its agents (deliver, smtp).
COMMON_AGENT = common/agent.c common/agent.h common/sysuser.c common/sysuser.h
