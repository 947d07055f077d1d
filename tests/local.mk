## Unit tests (cmocka, TAP) and integration tests (Python, TAP).
