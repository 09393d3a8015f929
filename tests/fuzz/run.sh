#!/bin/sh
# A fuzzing campaign: every target (or those in $TARGETS) for SECONDS each
# (default 600), one after the other, then a coverage report of what the
# corpora reach, with llvm-cov.
#
#	tests/fuzz/run.sh [SECONDS]
#
# From the top of the source tree.  Builds, with clang, build-fuzz
# (-Dfuzz=enabled: libFuzzer, ASan, UBSan) and build-fuzz-cov
# (-Dfuzz_coverage=true: the same harnesses with llvm-cov's counters) if
# they are not there.  The corpora live in build-fuzz/corpus/NAME, seeded
# from tests/fuzz/corpus/NAME and kept from run to run (the repository is
# never written; copy what is worth keeping by hand, minimised with
# -merge=1); reproducers go to build-fuzz/crashes/NAME-*.  The report is
# build-fuzz/fuzz-report.txt: per target its run time, executions and
# exec/s, and `llvm-cov report` for the module files it exercises.
#
# Environment: TARGETS (default: all seven), FUZZ_JOBS (libFuzzer -fork=N,
# default 1: one fuzzer process), BUILD and COVBUILD (the two build
# directories), and the sanitizers' usual *_OPTIONS.
set -eu

secs=${1:-600}
src=$(cd "$(dirname "$0")/../.." && pwd)
here=$src/tests/fuzz
build=${BUILD:-$src/build-fuzz}
covbuild=${COVBUILD:-$src/build-fuzz-cov}
jobs=${FUZZ_JOBS:-1}
targets=${TARGETS:-"frame lines json config control_server control_client journal"}
nice="nice -n 15"

# What each target exercises, for the coverage report.
modules() {
	case $1 in
	frame)		echo common/frame.c ;;
	lines)		echo common/lsplit.c common/tagged.c ;;
	json)		echo common/jsonw.c ;;
	config)		echo config/conf.c config/settings.c config/poolconf.c ;;
	control_server)	echo daemon/control.c common/ctl.c daemon/pool.c \
			    common/buf.c ;;
	control_client)	echo cli/client.c cli/report.c common/ctl.c \
			    common/idset.c ;;
	journal)	echo daemon/journal.c ;;
	esac
}

dict() {
	case $1 in
	control_*)	echo "$here/control.dict" ;;
	*)		echo "$here/$1.dict" ;;
	esac
}

# drover submit prints a summary on stderr for every input.
extra() {
	case $1 in
	control_client)	echo -close_fd_mask=2 ;;
	esac
}

missing=
for p in clang meson ninja llvm-profdata-14 llvm-cov-14; do
	command -v "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "run.sh: missing:$missing" >&2
	echo "run.sh: on Debian 12: apt-get install clang libclang-rt-14-dev" \
	    "llvm-14 meson ninja-build (llvm-14 has llvm-profdata-14 and" \
	    "llvm-cov-14)" >&2
	exit 2
fi

if [ ! -d "$build/meson-info" ]; then
	CC=clang $nice meson setup "$build" "$src" -Dfuzz=enabled \
	    -Dtests=enabled
fi
if [ ! -d "$covbuild/meson-info" ]; then
	CC=clang $nice meson setup "$covbuild" "$src" -Dfuzz=enabled \
	    -Dfuzz_coverage=true -Dtests=enabled
fi
exes=
for t in $targets; do
	exes="$exes tests/fuzz/fuzz_$t"
done
# shellcheck disable=SC2086
$nice ninja -C "$build" $exes
# shellcheck disable=SC2086
$nice ninja -C "$covbuild" $exes

export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}:suppressions=$here/ubsan.supp"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$here/lsan.supp"
mkdir -p "$build/crashes" "$build/logs"
report=$build/fuzz-report.txt
: >"$report"
status=0

for t in $targets; do
	corpus=$build/corpus/$t
	log=$build/logs/$t.log
	mkdir -p "$corpus"
	cp -n "$here/corpus/$t/"* "$corpus/" 2>/dev/null || true
	fork=
	[ "$jobs" -gt 1 ] && fork="-fork=$jobs -ignore_crashes=1"
	echo "== fuzz_$t: $secs s, log in $log"
	set +e
	# shellcheck disable=SC2046,SC2086
	$nice "$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" \
	    -timeout=10 -rss_limit_mb=2048 -dict="$(dict "$t")" \
	    -artifact_prefix="$build/crashes/$t-" -print_final_stats=1 \
	    $fork $(extra "$t") "$corpus" >"$log" 2>&1
	rc=$?
	set -e
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
	    tail -1)
	tsecs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' \
	    "$log" | tail -1)
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	{
		echo "fuzz_$t: exit $rc, ${tsecs:-?} s, ${runs:-?} runs," \
		    "${eps:-?} exec/s, $(ls "$corpus" | wc -l) inputs in" \
		    "the corpus"
		if [ "$rc" -ne 0 ]; then
			echo "  FOUND: see $log; reproducers:"
			ls "$build/crashes" | grep -F "$t-" | sed 's/^/    /'
		fi
	} | tee -a "$report"
	[ "$rc" -eq 0 ] || status=1
done

# Coverage: replay each corpus through the llvm-cov build.
mkdir -p "$covbuild/prof"
echo >>"$report"
for t in $targets; do
	rm -f "$covbuild/prof/$t".*
	# shellcheck disable=SC2046
	LLVM_PROFILE_FILE="$covbuild/prof/$t.%p.profraw" \
	    $nice "$covbuild/tests/fuzz/fuzz_$t" -runs=0 $(extra "$t") \
	    "$build/corpus/$t" >"$build/logs/$t.cov.log" 2>&1 || true
	llvm-profdata-14 merge -sparse -o "$covbuild/prof/$t.profdata" \
	    "$covbuild/prof/$t".*.profraw
	files=
	for m in $(modules "$t"); do
		files="$files $src/$m"
	done
	{
		echo "coverage of fuzz_$t (its corpus, $(ls "$build/corpus/$t" |
		    wc -l) inputs):"
		# shellcheck disable=SC2086
		llvm-cov-14 report "$covbuild/tests/fuzz/fuzz_$t" \
		    -instr-profile="$covbuild/prof/$t.profdata" $files
		echo
	} | tee -a "$report"
done
echo "report: $report"
exit "$status"
