#!/bin/sh
# Build the Debian package of this checkout as a packager would, without
# touching the work tree: copy the files git knows (tracked, and new ones
# not ignored) into a temporary directory, `dpkg-buildpackage -us -uc -b`
# there, run lintian on the .deb and the .changes, and leave them in OUTDIR.
# Build dependencies: `sh tools/deps.sh --pkg` (as root).
#
#   sh tools/build-deb.sh [OUTDIR]       (default OUTDIR: ./deb-out)
#
# Exit status 0 only when the build succeeded and lintian printed no error
# and no warning (overrides, with their reasons: debian/*lintian-overrides).
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-deb-out}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/postern-deb.XXXXXX")
[ -n "${POSTERN_DEB_KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
mkdir "$work/postern"
# (A tracked file deleted in the work tree is left out, not an error.)
(cd "$src" && git ls-files -co --exclude-standard | while IFS= read -r f; do
	[ -e "$f" ] && printf '%s\0' "$f"; done | tar cf - --no-recursion --null -T -) |
	(cd "$work/postern" && tar xf -)
cd "$work/postern"
echo "=== dpkg-buildpackage -us -uc -b (in $work/postern)"
dpkg-buildpackage -us -uc -b > "$work/build.log" 2>&1 || {
	tail -60 "$work/build.log"; echo "dpkg-buildpackage failed"; exit 1; }
grep -E '^(# (TOTAL|PASS|FAIL|SKIP|ERROR)|[0-9]+ passed, )' "$work/build.log" || true
# Everything the .changes names (the package, its -dbgsym, .buildinfo).
cp "$work"/postern*.deb "$work"/postern_*.changes "$work"/postern_*.buildinfo "$out"/
deb=$(ls "$out"/postern_*.deb | tail -1)
echo "=== lintian $(basename "$deb") and the .changes"
# The verdict comes from a run without --show-overrides: with it, lintian
# 2.116 counts an overridden warning against --fail-on (exit 2).
lintian --fail-on error,warning --display-info \
	"$work"/postern_*.changes "$deb" > "$work/lintian.out" 2>&1 && lst=0 || lst=$?
cat "$work/lintian.out"
echo "=== lintian overrides in force (debian/postern.lintian-overrides)"
lintian --show-overrides "$deb" 2>&1 | grep -E '^(O|N):' || true
[ "$lst" -eq 0 ] || { echo "lintian: exit $lst: errors or warnings (above)"; exit 1; }
echo "lintian: no error, no warning"
echo "built: $deb"
