#!/usr/bin/env bash
# bench/run.sh: drover against the Go reference program, side by side in one run
# (DESIGN.md section 7, "Targets").
#
# Builds drover and bench/goref, generates seq inputs in bench/work/, then for each
# size runs four benchmarks BENCH_RUNS times each, interleaved run by run so that
# drift on the machine hits all of them alike:
#
#   drover run -w W --quiet square < in
#   drover run -w W square < in > /dev/null
#   goref -w W < in
#   goref -w W -print < in > /dev/null
#
# Each run is timed from outside (wall clock around the process, $EPOCHREALTIME),
# its exit status and the exact sum of squares in its summary line are checked, and
# an untimed pass first checks the per-job output of both printing benchmarks.
# The markdown table goes to stdout and bench/out/latest.md; every run is kept in
# bench/out/runs.tsv.  Knobs: see bench/README.md.
set -euo pipefail
export LC_ALL=C

bench=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$bench")
work=$bench/work
out=$bench/out
build=${BENCH_BUILD_DIR:-$root/build}

runs=${BENCH_RUNS:-5}
workers=${BENCH_WORKERS:-2}
if [[ -n ${BENCH_SIZES:-} ]]; then
	sizes=$BENCH_SIZES
elif [[ ${BENCH_FULL:-1} == 1 ]]; then
	sizes="100000 1000000 10000000"
else
	sizes="100000 1000000"
fi

labels=(drover-quiet drover-out goref goref-print)

# die prints its arguments as an error and exits.
die() {
	printf 'bench: %s\n' "$*" >&2
	exit 1
}

# note prints a progress message on stderr.
note() {
	printf 'bench: %s\n' "$*" >&2
}

# check_settings rejects knob values that are not positive integers.
check_settings() {
	local v
	for v in "$runs" "$workers" $sizes; do
		[[ $v =~ ^[1-9][0-9]*$ ]] || die "not a positive integer: '$v' (BENCH_RUNS, BENCH_WORKERS, BENCH_SIZES)"
	done
	[[ -n $sizes ]] || die "BENCH_SIZES is empty"
}

# ensure_tools installs what is missing when that is allowed (root, not in CI),
# and otherwise says what to install.
ensure_tools() {
	local missing=() t
	command -v go >/dev/null || missing+=(golang-go)
	for t in ninja seq awk sort; do
		command -v "$t" >/dev/null || die "'$t' not found"
	done
	command -v bc >/dev/null || command -v python3 >/dev/null || missing+=(bc)
	((${#missing[@]} == 0)) && return 0
	if [[ $(id -u) == 0 && -z ${CI:-} ]] && command -v apt-get >/dev/null; then
		note "installing ${missing[*]}"
		apt-get install -y "${missing[@]}" >&2 || die "unable to install ${missing[*]}"
	else
		die "missing ${missing[*]}: install them (apt-get install ${missing[*]})"
	fi
}

# build_all builds drover (configuring the build directory if needed) and goref.
build_all() {
	if [[ ! -f $build/build.ninja ]]; then
		command -v meson >/dev/null || die "'meson' not found, needed to configure $build"
		note "configuring $build"
		meson setup "$build" "$root" >&2
	fi
	ninja -C "$build" >&2 || die "unable to build drover"
	drover=$build/drover
	[[ -x $drover ]] || die "no drover binary at $drover"

	mkdir -p "$work" "$out"
	goref=$work/goref
	(cd "$bench/goref" &&
		GOCACHE=$work/gocache GOPATH=$work/gopath GOFLAGS=-mod=mod \
			GOPROXY=off GO111MODULE=on go build -o "$goref" .) ||
		die "unable to build bench/goref"
}

# make_input writes seq 1..N to bench/work/in.N unless it is already there.
make_input() {
	local n=$1 f=$work/in.$1
	if [[ ! -f $f ]] || (($(wc -l <"$f") != n)); then
		note "generating $f"
		seq 1 "$n" >"$f.tmp"
		mv "$f.tmp" "$f"
	fi
}

# expected_sum prints n(n+1)(2n+1)/6 exactly.
expected_sum() {
	if command -v bc >/dev/null; then
		echo "$1 * ($1 + 1) * (2 * $1 + 1) / 6" | BC_LINE_LENGTH=0 bc
	else
		python3 -c "import sys; n = int(sys.argv[1]); print(n * (n + 1) * (2 * n + 1) // 6)" "$1"
	fi
}

# exec_bench runs benchmark $1 on input $2 with stdout to $3 and stderr to $4.
exec_bench() {
	case $1 in
	drover-quiet) "$drover" run -w "$workers" --quiet square <"$2" >"$3" 2>"$4" ;;
	drover-out) "$drover" run -w "$workers" square <"$2" >"$3" 2>"$4" ;;
	goref) "$goref" -w "$workers" <"$2" >"$3" 2>"$4" ;;
	goref-print) "$goref" -w "$workers" -print <"$2" >"$3" 2>"$4" ;;
	*) die "unknown benchmark $1" ;;
	esac
}

# describe prints the command line of benchmark $1 for the table.
describe() {
	case $1 in
	drover-quiet) echo "\`drover run -w $workers --quiet square\`" ;;
	drover-out) echo "\`drover run -w $workers square > /dev/null\`" ;;
	goref) echo "\`goref -w $workers\`" ;;
	goref-print) echo "\`goref -w $workers -print > /dev/null\`" ;;
	esac
}

# check_summary fails unless the stderr file $3 of benchmark $1 on $2 jobs holds a
# summary line with all jobs done and the exact sum $4.
check_summary() {
	local label=$1 n=$2 err=$3 want=$4 line got
	case $label in
	drover-*)
		line=$(grep '^drover: [0-9]* jobs,' "$err" | tail -n 1) || true
		[[ $line == "drover: $n jobs, $n ok, 0 failed, "* ]] ||
			die "$label n=$n: bad summary: '${line:-none}'; stderr: $(head -c 2000 "$err")"
		;;
	goref*)
		line=$(grep '^goref: [0-9]* jobs' "$err" | tail -n 1) || true
		[[ $line == "goref: $n jobs in "* ]] ||
			die "$label n=$n: bad summary: '${line:-none}'; stderr: $(head -c 2000 "$err")"
		;;
	esac
	got=$(sed -n 's/.*; sum \([0-9]*\).*/\1/p' <<<"$line")
	[[ $got == "$want" ]] ||
		die "$label n=$n: wrong sum '${got:-none}', expected $want"
}

# check_output fails unless file $3 from benchmark $1 holds $2 lines summing to $4.
# The sum is exact: squares below 2^53 are exact doubles, summed in 10^9 limbs
# (the low limb is carried before it can pass 2^53).
check_output() {
	local label=$1 n=$2 f=$3 want=$4 got
	got=$(awk '{ v = $1 + 0; lo += v % 1e9; hi += int(v / 1e9)
			if (lo >= 1e15) { hi += int(lo / 1e9); lo %= 1e9 } }
		END { hi += int(lo / 1e9); lo %= 1e9
			if (hi > 0) printf "%d lines, sum %.0f%09.0f\n", NR, hi, lo
			else printf "%d lines, sum %.0f\n", NR, lo }' "$f")
	[[ $got == "$n lines, sum $want" ]] ||
		die "$label n=$n: per-job output is '$got', expected '$n lines, sum $want'"
}

# verify_output runs the printing benchmarks once, untimed, and checks what they
# print; it also warms the page cache and the binaries.
verify_output() {
	local n=$1 want=$2 label
	(( n < 90000000 )) || { note "n=$n: squares too large for the output check, skipped"; return 0; }
	for label in drover-out goref-print; do
		exec_bench "$label" "$work/in.$n" "$work/stdout" "$work/stderr" ||
			die "$label n=$n: exit status $? in the output check; stderr: $(head -c 2000 "$work/stderr")"
		check_summary "$label" "$n" "$work/stderr" "$want"
		check_output "$label" "$n" "$work/stdout" "$want"
	done
	rm -f "$work/stdout"
	exec_bench drover-quiet "$work/in.$n" /dev/null "$work/stderr" ||
		die "drover-quiet n=$n: exit status $? in the warm-up run"
}

# time_run runs benchmark $1 once on $2 jobs, checks it and appends to runs.tsv.
time_run() {
	local label=$1 n=$2 run=$3 want=$4 t0 t1 rc=0 wall rate self
	t0=$EPOCHREALTIME
	exec_bench "$label" "$work/in.$n" /dev/null "$work/stderr" || rc=$?
	t1=$EPOCHREALTIME
	((rc == 0)) ||
		die "$label n=$n run $run: exit status $rc; stderr: $(head -c 2000 "$work/stderr")"
	check_summary "$label" "$n" "$work/stderr" "$want"
	read -r wall rate < <(awk -v a="$t0" -v b="$t1" -v n="$n" \
		'BEGIN { w = b - a; printf "%.6f %.0f\n", w, n / w }')
	self=$(grep -E '^(drover|goref): [0-9]+ jobs' "$work/stderr" | tail -n 1)
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$n" "$run" "$wall" "$rate" "$self" >>"$tsv"
	note "$(printf '%-12s n=%-9s run %s/%s: %8.3f s %12s jobs/s' "$label" "$n" "$run" "$runs" "$wall" "$rate")"
}

# stats prints "median min max median_wall" of benchmark $1 at size $2 from runs.tsv.
stats() {
	awk -F '\t' -v l="$1" -v n="$2" '$1 == l && $2 == n { print $5, $4 }' "$tsv" |
		sort -g | awk '{ r[NR] = $1; w[NR] = $2 }
		END {
			m = (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
			mw = (NR % 2) ? w[(NR + 1) / 2] : (w[NR / 2] + w[NR / 2 + 1]) / 2
			printf "%.0f %.0f %.0f %.4f\n", m, r[1], r[NR], mw
		}'
}

# group prints integer $1 with thousands separators.
group() {
	sed ':a; s/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/; ta' <<<"$1"
}

# machine prints the header block describing where and what was measured.
machine() {
	local cpu bt rev
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
	bt=$(sed -n 's/.*"name": "buildtype", [^}]*"value": "\([a-z]*\)".*/\1/p' \
		"$build/meson-info/intro-buildoptions.json" 2>/dev/null | head -n 1)
	rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
	echo "# drover benchmark: trivial jobs against the Go reference"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "- machine: $(nproc) CPUs, ${cpu:-unknown CPU}; kernel $(uname -sr) $(uname -m); load $(cut -d ' ' -f 1-3 /proc/loadavg)"
	echo "- drover: $("$drover" --version 2>&1 | head -n 1) at $rev (working tree may differ), buildtype ${bt:-unknown}"
	echo "- goref: $(go version | sed 's/^go version //'), stdlib only"
	echo "- $runs timed runs per cell after one untimed check/warm-up pass; $workers workers; input \`seq 1 N\` on stdin"
	echo "- jobs/s = N / wall time of the whole process (start-up included), timed from outside"
	echo
}

# table prints the markdown results table from runs.tsv.
table() {
	local n label ref med lo hi mw rmed ratio target
	echo "| benchmark | N | median jobs/s | min–max jobs/s | median wall s | vs Go reference | target |"
	echo "|---|--:|--:|--:|--:|--:|---|"
	for n in $sizes; do
		for label in "${labels[@]}"; do
			read -r med lo hi mw < <(stats "$label" "$n")
			case $label in
			drover-quiet) ref="goref" ;;
			drover-out) ref="goref-print" ;;
			*) ref= ;;
			esac
			ratio="(reference)"
			target=
			if [[ -n $ref ]]; then
				read -r rmed _ < <(stats "$ref" "$n")
				ratio=$(awk -v a="$med" -v b="$rmed" -v r="$ref" 'BEGIN { printf "%.2fx `%s`", a / b, r }')
				if ((n >= 1000000)); then
					local need=2
					[[ $label == drover-out ]] && need=1
					if awk -v a="$med" -v b="$rmed" -v k="$need" 'BEGIN { exit !(a >= k * b) }'; then
						target="≥ ${need}x: met"
					else
						target="≥ ${need}x: **missed**"
					fi
				fi
			fi
			printf '| %s | %s | %s | %s – %s | %s | %s | %s |\n' \
				"$(describe "$label")" "$(group "$n")" "$(group "$med")" \
				"$(group "$lo")" "$(group "$hi")" "$mw" "$ratio" "$target"
		done
	done
	echo
	echo "Targets (DESIGN.md section 7) apply at N ≥ 10^6: \`--quiet\` at least 2x \`goref\`;"
	echo "per-job output at least as fast as \`goref -print\`."
}

main() {
	local n run label want
	check_settings
	ensure_tools
	build_all
	tsv=$out/runs.tsv
	printf 'benchmark\tn\trun\twall_s\tjobs_per_s\tsummary\n' >"$tsv"
	for n in $sizes; do
		make_input "$n"
		want=$(expected_sum "$n")
		verify_output "$n" "$want"
		for ((run = 1; run <= runs; run++)); do
			for label in "${labels[@]}"; do
				time_run "$label" "$n" "$run" "$want"
			done
		done
	done
	{
		machine
		table
	} >"$out/latest.md.tmp"
	mv "$out/latest.md.tmp" "$out/latest.md"
	cat "$out/latest.md"
}

main "$@"
