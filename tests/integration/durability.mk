## Durability under SIGKILL at random instants of the load, 20 rounds of
## kill, restart and drain (issue 12).
TESTS += tests/integration/test_kill_random.py
EXTRA_DIST += tests/integration/test_kill_random.py
