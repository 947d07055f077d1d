## (issue 11) the Debian package: debian/ (with its systemd units) ships
## in the tarball; test_package.sh builds or takes the .deb, installs it in
## a copy-on-write overlay of this system, runs it, and purges it (as
## root; see the top of the script). It takes minutes (a package build),
## so .ci/run runs it as a step of its own, not `make check`.
EXTRA_DIST += debian tests/integration/test_package.sh

## The C unit tests (for debian/rules: they need neither root nor ports).
print-unit-tests:
	@for t in $(TESTS); do case $$t in tests/unit/*) printf '%s ' "$$t" ;; esac; done; echo
.PHONY: print-unit-tests
