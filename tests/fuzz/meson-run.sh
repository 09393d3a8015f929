#!/bin/sh
# One fuzz target for `meson test --suite fuzz`: run it for SECONDS on a
# copy of its seed corpus (the repository is not written), with its
# dictionary.  A crash fails the test; the reproducer is kept in
# CRASHDIR and libFuzzer's report (the stack) is in the log.
#
#	meson-run.sh EXE SEEDS DICT SECONDS CRASHDIR [LIBFUZZER-OPTION...]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
exe=$1 seeds=$2 dict=$3 secs=$4 crashdir=$5
shift 5
name=$(basename "$exe")
work=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$crashdir"
cp "$seeds"/* "$work/corpus/"
set +e
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$here/ubsan.supp \
LSAN_OPTIONS=suppressions=$here/lsan.supp \
    "$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 \
    -dict="$dict" -artifact_prefix="$crashdir/$name-" -print_final_stats=1 \
    "$@" "$work/corpus"
rc=$?
set -e
# libFuzzer exits 77 on a finding (its -error_exitcode), which meson would
# take for a skip: a finding is a failure.
if [ "$rc" -eq 77 ]; then
	rc=1
fi
if [ "$rc" -ne 0 ]; then
	echo "$name: exit status $rc; reproducer(s) in $crashdir:" >&2
	ls -l "$crashdir" | grep -F "$name-" >&2 || true
	echo "replay: $exe $crashdir/$name-<file>" >&2
fi
exit "$rc"
