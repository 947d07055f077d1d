#!/bin/sh
# test_manpages: the manual pages against the code (TAP).
#  1. every page in man/ is clean under `mandoc -Tlint -Wwarning`
#     (SKIP when mandoc is not installed);
#  2. every page in man/ is listed in man/local.mk and every page listed
#     there exists;
#  3. every key that `postern config` prints is documented in
#     postern.conf(5) as
#         .It Cm KEY No = Li "DEFAULT"     (or `.It Cm KEY No = Pq empty`)
#         .Pq Ar TYPE
#     where DEFAULT is the raw default of conf_params[] in common/conf.c
#     (C string concatenation undone: LOCALSTATEDIR "/lib/postern" is
#     written LOCALSTATEDIR/lib/postern), TYPE is the key's type, and the
#     default expanded with the build's directories and $name references
#     equals what `postern config -c EMPTYFILE` prints;
#  4. postern.conf(5) documents no key that the program does not know.
# Environment: top_srcdir, top_builddir (default: the tree holding this script).

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
man="$top_srcdir/man"
conf5="$man/postern.conf.5"
postern="$top_builddir/postern"

n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); echo "not ok $n - $*"; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $*"; }
diag() { sed 's/^/# /'; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_manpages.XXXXXX") || {
	echo "Bail out! mktemp failed"
	exit 1
}
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

# --- 1. lint -------------------------------------------------------------
pages=$(cd "$man" && ls -- *.[1-8] 2>/dev/null | sort)
if [ -z "$pages" ]; then
	notok "man/ holds manual pages"
fi
mandoc=$(command -v mandoc 2>/dev/null)
for p in $pages; do
	if [ -z "$mandoc" ]; then
		skip "mandoc -Tlint $p: mandoc is not installed"
		continue
	fi
	"$mandoc" -Tlint -Wwarning "$man/$p" >"$tmp/lint" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && [ ! -s "$tmp/lint" ]; then
		ok "mandoc -Tlint -Wwarning $p"
	else
		notok "mandoc -Tlint -Wwarning $p (exit $rc)"
		diag <"$tmp/lint"
	fi
done

# --- 2. man/local.mk and man/ agree --------------------------------------
# Pages named in man/local.mk, with line continuations joined.
listed=$(sed -e ':a' -e '/\\$/{N;s/\\\n//;ba' -e '}' "$man/local.mk" |
	grep -v '^[[:space:]]*#' | tr ' \t' '\n\n' |
	sed -n 's|^man/\([^/]*\.[1-8]\)$|\1|p' | sort -u)
if [ -z "$listed" ]; then
	notok "man/local.mk lists manual pages"
fi
for p in $listed; do
	if [ -f "$man/$p" ]; then
		ok "man/local.mk: $p exists"
	else
		notok "man/local.mk: $p exists"
	fi
done
for p in $pages; do
	if echo "$listed" | grep -qx -- "$p"; then
		ok "man/$p is installed (listed in man/local.mk)"
	else
		notok "man/$p is installed (listed in man/local.mk)"
	fi
done

# --- 3. every key of `postern config` in postern.conf(5) ------------------
# The build's directories, for the placeholders in the raw defaults.
cat >"$tmp/dirs.in" <<'EOF'
prefix="@prefix@"
exec_prefix="@exec_prefix@"
sysconfdir="@sysconfdir@"
localstatedir="@localstatedir@"
libexecdir="@libexecdir@"
PACKAGE="@PACKAGE@"
EOF
dirs_ok=0
if (cd "$tmp" && "$top_builddir/config.status" --file=dirs.sh:dirs.in) \
    >"$tmp/cs.out" 2>&1 && . "$tmp/dirs.sh"; then
	SYSCONFDIR=$sysconfdir
	LOCALSTATEDIR=$localstatedir
	PKGLIBEXECDIR=$libexecdir/$PACKAGE
	dirs_ok=1
else
	notok "config.status gives the build's directories"
	diag <"$tmp/cs.out"
fi

# name<TAB>type<TAB>raw default, from conf_params[] in conf.c.
awk '
/^const struct conf_param conf_params\[\] = \{/ { intable = 1; next }
intable && /^\};/ { intable = 0 }
!intable || !/^[ \t]*\{ "/ { next }
{
	line = $0
	sub(/^[ \t]*\{ "/, "", line)
	name = substr(line, 1, index(line, "\"") - 1)
	if (!match(line, /CONF_[A-Z]+, /)) { print "BAD\t" $0; next }
	type = substr(line, RSTART + 5, RLENGTH - 7)
	rest = substr(line, RSTART + RLENGTH)
	e = index(rest, ", F(")
	if (e == 0) { print "BAD\t" $0; next }
	expr = substr(rest, 1, e - 1)
	# Undo C string concatenation: MACRO "text" "more" -> MACROtextmore.
	val = ""
	while (length(expr) > 0) {
		c = substr(expr, 1, 1)
		if (c == " " || c == "\t") { expr = substr(expr, 2); continue }
		if (c == "\"") {
			expr = substr(expr, 2)
			q = index(expr, "\"")
			val = val substr(expr, 1, q - 1)
			expr = substr(expr, q + 1)
			continue
		}
		match(expr, /^[A-Za-z_][A-Za-z0-9_]*/)
		if (RLENGTH <= 0) { val = "BAD:" expr; break }
		val = val substr(expr, 1, RLENGTH)
		expr = substr(expr, RLENGTH + 1)
	}
	print name "\t" type "\t" val
}' "$top_srcdir/common/conf.c" >"$tmp/table"
if [ ! -s "$tmp/table" ] || grep -q '^BAD' "$tmp/table"; then
	notok "conf_params[] in common/conf.c can be read"
	grep '^BAD' "$tmp/table" | diag
fi

# What the program prints with an empty configuration file.
printf '# empty: every key at its default\n' >"$tmp/postern.conf"
if "$postern" config -c "$tmp/postern.conf" >"$tmp/config" 2>"$tmp/config.err" &&
    [ -s "$tmp/config" ]; then
	ok "postern config -c EMPTYFILE prints the settings"
else
	notok "postern config -c EMPTYFILE prints the settings"
	diag <"$tmp/config.err"
fi

# The effective value of a key, as postern config printed it.
effective() {
	sed -n "s/^$1 = //p" "$tmp/config"
}

# Expand a raw default as conf.c does, using the build's directories and
# the printed values of referenced keys.
expand() {
	v=$1
	out=
	while [ -n "$v" ]; do
		case $v in
		SYSCONFDIR*) out=$out$SYSCONFDIR; v=${v#SYSCONFDIR} ;;
		LOCALSTATEDIR*) out=$out$LOCALSTATEDIR; v=${v#LOCALSTATEDIR} ;;
		PKGLIBEXECDIR*) out=$out$PKGLIBEXECDIR; v=${v#PKGLIBEXECDIR} ;;
		'${'*)
			ref=${v#??}; ref=${ref%%\}*}
			out=$out$(effective "$ref"); v=${v#??"$ref"\}} ;;
		'$'*)
			ref=$(printf '%s\n' "${v#?}" | sed 's/[^A-Za-z0-9_].*//')
			out=$out$(effective "$ref"); v=${v#?"$ref"} ;;
		*)
			c=${v%"${v#?}"}
			out=$out$c; v=${v#?} ;;
		esac
	done
	printf '%s\n' "$out"
}

typename() {
	case $1 in
	STR) echo string ;; PATH) echo path ;; LIST) echo list ;;
	LISTEN) echo addresses ;; UINT) echo number ;; SIZE) echo size ;;
	DURATION) echo duration ;; MSEC) echo milliseconds ;; BOOL) echo boolean ;;
	*) echo "?$1" ;;
	esac
}

keys=$(sed -n 's/^\([a-z0-9_]*\) = .*/\1/p' "$tmp/config")
for key in $keys; do
	why=
	row=$(awk -F '\t' -v k="$key" '$1 == k' "$tmp/table")
	head=$(grep -n "^\.It Cm $key No = " "$conf5" | head -n 2)
	if [ -z "$row" ]; then
		why="not in conf_params[] of common/conf.c"
	elif [ -z "$head" ]; then
		why="no '.It Cm $key No = ...' in postern.conf.5"
	elif [ "$(echo "$head" | wc -l)" -ne 1 ]; then
		why="documented twice in postern.conf.5"
	fi
	if [ -z "$why" ]; then
		type=$(typename "$(echo "$row" | cut -f 2)")
		raw=$(echo "$row" | cut -f 3)
		lineno=${head%%:*}
		head=${head#*:}
		case $head in
		".It Cm $key No = Pq empty") doc= ;;
		".It Cm $key No = Li \""*'"') doc=${head#*Li \"}; doc=${doc%\"} ;;
		*) doc="?unparsable: $head" ;;
		esac
		doctype=$(sed -n "$((lineno + 1))s/^\.Pq Ar //p" "$conf5")
		want=$(expand "$raw")
		# conf.c: an empty hostname means gethostname(2).
		if [ "$key" = hostname ] && [ -z "$raw" ]; then
			want=$(uname -n)
		fi
		got=$(effective "$key")
		if [ "$doc" != "$raw" ]; then
			why="page says default '$doc', conf.c has '$raw'"
		elif [ "$doctype" != "$type" ]; then
			why="page says type '$doctype', conf.c has '$type'"
		elif [ $dirs_ok -eq 1 ] && [ "$want" != "$got" ]; then
			why="default '$raw' expands to '$want', postern config prints '$got'"
		fi
	fi
	if [ -z "$why" ]; then
		ok "postern.conf.5 documents $key with its type and default"
	else
		notok "postern.conf.5 documents $key with its type and default"
		echo "$why" | diag
	fi
done

# --- 4. no stale keys in the page ----------------------------------------
stale=
for key in $(sed -n 's/^\.It Cm \([a-z0-9_]*\) No = .*/\1/p' "$conf5"); do
	echo "$keys" | grep -qx -- "$key" || stale="$stale $key"
done
if [ -n "$keys" ] && [ -z "$stale" ]; then
	ok "postern.conf.5 documents only keys postern config knows"
else
	notok "postern.conf.5 documents only keys postern config knows"
	echo "unknown:$stale" | diag
fi

echo "1..$n"
