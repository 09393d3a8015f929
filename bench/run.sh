#!/usr/bin/env bash
# bench/run.sh: drover's benchmark suite, every figure behind the
# targets of docs/benchmarks.md measured side by side in one run on one machine.
#
#   1. throughput: drover run square (quiet and with per-job output) against
#      the Go reference program (bench/goref), Python's multiprocessing.Pool
#      (bench/mp.py) and drover submit to a warm droverd, 10^5..10^7 jobs;
#   2. the gap to the raw C pipeline (bench/rawpipe.c, poll and libevent),
#      interleaved with 1;
#   3. --exec per job against xargs -P (direct and sh -c) and GNU parallel;
#   4. droverd's round trip for one job (bench/rtt.c) against raw Unix-socket
#      round trips (bench/unixrtt.c), free and pinned;
#   5. the supervisor's peak RSS from 10^5 to 10^7 jobs (bench/peakrss.c);
#   6. restart latency after SIGKILL of a worker;
#   7. the adaptive window: a slow/fast mix and micro-jobs;
#   8. http: the http handler against xargs -P curl and GNU parallel curl
#      on one local nginx (bench/http.py);
#   9. durable: drover submit to a durable pool against plain SQLite;
#  10. shared: two droverd nodes on one Redis against Celery 5 on the same
#      Redis (bench/shared.py).
#
# Section 1 runs here: each run is timed from outside (wall clock around the
# process, $EPOCHREALTIME), its exit status and the exact sum of squares in
# its summary line are checked, and an untimed pass first checks the per-job
# output of both printing benchmarks; benchmarks are interleaved run by run.
# Sections 2-7 run in bench/suite.py (python3, stdlib only).  The C helpers
# are compiled here with cc -O2 into bench/work/bin; nothing in bench/ is
# part of the meson build.  The markdown report goes to stdout and
# bench/out/latest.md; every run is kept in bench/out/runs.tsv.
# BENCH_QUICK=1 is a smoke run of about a minute.  Knobs: see bench/README.md.
set -euo pipefail
export LC_ALL=C

bench=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$bench")
work=$bench/work
out=$bench/out
build=${BENCH_BUILD_DIR:-$root/build}

quick=${BENCH_QUICK:-0}
if [[ $quick == 1 ]]; then
	runs=${BENCH_RUNS:-3}
else
	runs=${BENCH_RUNS:-5}
fi
workers=${BENCH_WORKERS:-2}
if [[ -n ${BENCH_SIZES:-} ]]; then
	sizes=$BENCH_SIZES
elif [[ ${BENCH_FULL:-1} == 1 && $quick != 1 ]]; then
	sizes="100000 1000000 10000000"
else
	sizes="100000 1000000"
fi
sections=${BENCH_SECTIONS:-"throughput exec rtt rss restart window durable http shared"}

labels=(drover-quiet drover-out drover-submit goref goref-print mp rawpipe)

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
	[[ $quick == [01] ]] || die "BENCH_QUICK must be 0 or 1"
	for v in $sections; do
		[[ " throughput exec rtt rss restart window durable http shared " == *" $v "* ]] ||
			die "unknown section '$v' in BENCH_SECTIONS (throughput exec rtt rss restart window durable http shared)"
	done
}

# ensure_tools installs what is missing when that is allowed (root, not in
# CI), and otherwise says what to install; GNU parallel and GNU time are
# optional (their figures are left out without them).
ensure_tools() {
	local missing=() optional=() t
	command -v go >/dev/null || missing+=(golang-go)
	command -v python3 >/dev/null || missing+=(python3)
	command -v cc >/dev/null || missing+=(gcc)
	for t in ninja seq awk sort xargs; do
		command -v "$t" >/dev/null || die "'$t' not found"
	done
	command -v bc >/dev/null || command -v python3 >/dev/null || missing+=(bc)
	command -v parallel >/dev/null || optional+=(parallel)
	if [[ " $sections " == *" http "* ]]; then
		command -v curl >/dev/null || missing+=(curl)
		command -v nginx >/dev/null || missing+=(nginx-light)
	fi
	if [[ " $sections " == *" shared "* ]]; then
		command -v redis-server >/dev/null || missing+=(redis-server)
		# Debian's Celery, under Debian's python3 (bench/shared.py).
		/usr/bin/python3 -c 'import celery, redis' 2>/dev/null ||
			missing+=(python3-celery python3-redis)
	fi
	[[ -x /usr/bin/time ]] || optional+=(time)
	((${#missing[@]} + ${#optional[@]} == 0)) && return 0
	if [[ $(id -u) == 0 && -z ${CI:-} ]] && command -v apt-get >/dev/null; then
		note "installing ${missing[*]} ${optional[*]}"
		if ! apt-get install -y "${missing[@]}" "${optional[@]}" >&2; then
			apt-get update >&2 || true
			apt-get install -y "${missing[@]}" "${optional[@]}" >&2 ||
				((${#missing[@]} == 0)) ||
				die "unable to install ${missing[*]}"
		fi
	elif ((${#missing[@]} != 0)); then
		die "missing ${missing[*]}: install them (apt-get install ${missing[*]})"
	else
		note "without ${optional[*]} (apt-get install ${optional[*]}): those figures are left out"
	fi
}

# build_all builds drover (configuring the build directory if needed),
# goref and the C helpers of bench/.
build_all() {
	local cflags h
	if [[ ! -f $build/build.ninja ]]; then
		command -v meson >/dev/null || die "'meson' not found, needed to configure $build"
		note "configuring $build"
		meson setup "$build" "$root" >&2
	fi
	ninja -C "$build" >&2 || die "unable to build drover"
	if has_section durable; then
		ninja -C "$build" bench-journal >&2 ||
			die "unable to build bench-journal"
	fi
	drover=$build/drover
	for h in drover droverd drover-worker; do
		[[ -x $build/$h ]] || die "no $h binary in $build"
	done

	mkdir -p "$work" "$out" "$work/bin"
	goref=$work/goref
	(cd "$bench/goref" &&
		GOCACHE=$work/gocache GOPATH=$work/gopath GOFLAGS=-mod=mod \
			GOPROXY=off GO111MODULE=on go build -o "$goref" .) ||
		die "unable to build bench/goref"

	cflags="-O2 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -I$root/common"
	rawpipe=$work/bin/rawpipe
	if pkg-config --exists libevent 2>/dev/null; then
		# shellcheck disable=SC2046,SC2086
		cc $cflags -DRAWPIPE_LIBEVENT $(pkg-config --cflags libevent) \
			-o "$rawpipe" "$bench/rawpipe.c" $(pkg-config --libs libevent) >&2 ||
			die "unable to build bench/rawpipe.c"
		labels+=(rawpipe-ev)
	else
		# shellcheck disable=SC2086
		cc $cflags -o "$rawpipe" "$bench/rawpipe.c" >&2 ||
			die "unable to build bench/rawpipe.c"
	fi
	for h in rtt unixrtt peakrss; do
		# shellcheck disable=SC2086
		cc $cflags -o "$work/bin/$h" "$bench/$h.c" >&2 ||
			die "unable to build bench/$h.c"
	done
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
	drover-submit) DROVER_SOCKET=$dsock "$drover" submit --pool square \
		--quiet <"$2" >"$3" 2>"$4" ;;
	goref) "$goref" -w "$workers" <"$2" >"$3" 2>"$4" ;;
	goref-print) "$goref" -w "$workers" -print <"$2" >"$3" 2>"$4" ;;
	mp) python3 "$bench/mp.py" -w "$workers" <"$2" >"$3" 2>"$4" ;;
	rawpipe) "$rawpipe" -w "$workers" <"$2" >"$3" 2>"$4" ;;
	rawpipe-ev) "$rawpipe" -e -w "$workers" <"$2" >"$3" 2>"$4" ;;
	*) die "unknown benchmark $1" ;;
	esac
}

# describe prints the command line of benchmark $1 for the table.
describe() {
	case $1 in
	drover-quiet) echo "\`drover run -w $workers --quiet square\`" ;;
	drover-out) echo "\`drover run -w $workers square > /dev/null\`" ;;
	drover-submit) echo "\`drover submit --quiet\` (droverd, $workers square workers)" ;;
	goref) echo "\`goref -w $workers\`" ;;
	goref-print) echo "\`goref -w $workers -print > /dev/null\`" ;;
	mp) echo "\`mp.py -w $workers\` (Python multiprocessing, chunksize 1000)" ;;
	rawpipe) echo "\`rawpipe -w $workers\` (raw C, poll)" ;;
	rawpipe-ev) echo "\`rawpipe -e -w $workers\` (raw C, libevent)" ;;
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
	goref* | rawpipe* | mp)
		line=$(grep -E '^(goref|rawpipe|mp): [0-9]* jobs' "$err" | tail -n 1) || true
		[[ $line == "${label%%-*}: $n jobs in "* ]] ||
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
	for label in drover-quiet drover-submit; do
		exec_bench "$label" "$work/in.$n" /dev/null "$work/stderr" ||
			die "$label n=$n: exit status $? in the warm-up run; stderr: $(head -c 2000 "$work/stderr")"
		check_summary "$label" "$n" "$work/stderr" "$want"
	done
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
	self=$(grep -E '^(drover|goref|rawpipe|mp): [0-9]+ jobs' "$work/stderr" | tail -n 1)
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
	bt=$(python3 -c 'import json, sys
o = {x["name"]: x["value"] for x in json.load(open(sys.argv[1]))}
print("-O%s%s" % (o["optimization"], ", LTO" if o["b_lto"] else ""))' \
		"$build/meson-info/intro-buildoptions.json" 2>/dev/null)
	rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
	echo "# drover benchmark suite"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')$([[ $quick == 1 ]] && echo ' (BENCH_QUICK=1 smoke run: fewer runs and smaller sizes)')"
	echo "- machine: $(nproc) CPUs, ${cpu:-unknown CPU}; $(awk '/^MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo); kernel $(uname -sr) $(uname -m); load at start $load0"
	echo "- drover: $("$drover" --version 2>&1 | head -n 1) at $rev$(git -C "$root" diff --quiet HEAD -- 2>/dev/null || echo ' (working tree differs)'), built ${bt:-unknown}; libevent $(pkg-config --modversion libevent 2>/dev/null || echo '?')"
	echo "- goref: $(go version | sed 's/^go version //'), stdlib only; helpers: $(cc --version | head -n 1), -O2"
	echo "- others: $(xargs --version 2>/dev/null | head -n 1); $(parallel --version 2>/dev/null | head -n 1 || echo 'GNU parallel not installed'); $(python3 --version)"
	echo "- one command: \`bench/run.sh\`$([[ $quick == 1 ]] && echo ' with BENCH_QUICK=1'); took ${elapsed}s"
	echo
}

# ratio_of prints, for the row of benchmark $1, "NUM DEN NEED NAME": the
# benchmarks whose medians the row's ratio divides, the target it must
# reach at N >= 10^6, and how the ratio is named; nothing for a reference.
ratio_of() {
	case $1 in
	drover-quiet) echo "drover-quiet goref 2 \`goref\`" ;;
	drover-out) echo "drover-out goref-print 1.5 \`goref-print\`" ;;
	drover-submit) echo "drover-submit drover-quiet 0.8 \`drover run --quiet\`" ;;
	mp) echo "drover-quiet mp 5 drover-run-quiet/mp" ;;
	esac
}

# table prints section 1's markdown table from runs.tsv and records its
# targets.
table() {
	local n label med lo hi mw nmed dmed ratio target num den need name fig
	echo "## 1. Trivial jobs: drover against the Go reference and its peers"
	echo
	echo "Host: $host."
	echo
	echo "Input \`seq 1 N\` on stdin; $runs timed runs per cell after one untimed check/warm-up"
	echo "pass; $workers workers; jobs/s = N / wall time of the whole process (start-up"
	echo "included), timed from outside; all benchmarks interleaved run by run."
	echo "\`drover submit\` goes to a droverd started before the runs (a pool \`square\`"
	echo "of $workers workers, no journal), warm for every run; \`mp.py\` is"
	echo "\`multiprocessing.Pool($workers).imap_unordered(f, stdin, chunksize=1000)\`."
	echo
	echo "| benchmark | N | median jobs/s | min–max jobs/s | median wall s | ratio | target |"
	echo "|---|--:|--:|--:|--:|--:|---|"
	for n in $sizes; do
		for label in "${labels[@]}"; do
			read -r med lo hi mw < <(stats "$label" "$n")
			ratio="(reference)"
			[[ $label == rawpipe* ]] && ratio="(raw reference)"
			target=
			read -r num den need name < <(ratio_of "$label"; echo)
			if [[ -n $num ]]; then
				read -r nmed _ < <(stats "$num" "$n")
				read -r dmed _ < <(stats "$den" "$n")
				if [[ $label == mp ]]; then
					ratio=$(awk -v a="$nmed" -v b="$dmed" 'BEGIN { printf "drover --quiet is %.2fx it", a / b }')
					fig="\`drover run -w $workers --quiet square\` vs \`mp.py\` (Python multiprocessing)"
				else
					ratio=$(awk -v a="$nmed" -v b="$dmed" -v r="$name" 'BEGIN { printf "%.2fx %s", a / b, r }')
					fig="$(describe "$label" | sed 's/ > \/dev\/null//') vs $name"
				fi
				if ((n >= 1000000)); then
					if awk -v a="$nmed" -v b="$dmed" -v k="$need" 'BEGIN { exit !(a >= k * b) }'; then
						target="≥ ${need}x: met"
					else
						target="≥ ${need}x: **missed**"
					fi
					printf '1 throughput\t%s, N=%s\t≥ %sx\t%s\t%s\n' \
						"$fig" "$(group "$n")" "$need" \
						"$(awk -v a="$nmed" -v b="$dmed" 'BEGIN { printf "%.2fx", a / b }')" \
						"${target#*: }" >>"$out/targets.tsv"
				fi
			fi
			printf '| %s | %s | %s | %s – %s | %s | %s | %s |\n' \
				"$(describe "$label")" "$(group "$n")" "$(group "$med")" \
				"$(group "$lo")" "$(group "$hi")" "$mw" "$ratio" "$target"
		done
	done
	echo
	echo "Targets apply at N ≥ 10^6: \`--quiet\` at least 2x \`goref\` and at least 5x"
	echo "Python multiprocessing; per-job output at least 1.5x \`goref -print\`;"
	echo "\`drover submit\` to a warm droverd at least 0.8x \`drover run --quiet\`."
	echo "The raw C pipeline is section 2."
	echo
}

# daemon_start starts the droverd that drover-submit talks to: a temp
# config with one pool "square" of $workers workers and no journal; it
# is warm (its workers up) once the warm-up submit of verify_output ran.
daemon_start() {
	local i
	ddir=$(mktemp -d "$work/droverd.XXXXXX")
	dsock=$ddir/droverd.sock
	cat >"$ddir/droverd.conf" <<-EOF
		socket = "$dsock";
		log_level = "warning";
		pools = (
		  { name = "square"; workers = $workers; handler = "square"; }
		);
	EOF
	"$build/droverd" -c "$ddir/droverd.conf" >"$ddir/log" 2>&1 &
	dpid=$!
	for ((i = 0; i < 1000; i++)); do
		[[ -S $dsock ]] && return 0
		kill -0 "$dpid" 2>/dev/null ||
			die "droverd did not start: $(head -c 2000 "$ddir/log")"
		sleep 0.01
	done
	die "droverd did not make its socket within 10 s: $(head -c 2000 "$ddir/log")"
}

# daemon_stop stops that droverd (SIGTERM) and checks that it exited 0.
daemon_stop() {
	local rc=0
	[[ -n ${dpid:-} ]] || return 0
	kill -TERM "$dpid" 2>/dev/null || true
	wait "$dpid" || rc=$?
	dpid=
	((rc == 0)) || die "droverd exited $rc: $(head -c 2000 "$ddir/log")"
	rm -rf "$ddir"
}

# throughput runs section 1 (and the raw pipeline of section 2) into runs.tsv.
throughput() {
	local n run label want
	daemon_start
	trap 'daemon_stop' EXIT
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
	daemon_stop
	trap - EXIT
}

# suite runs bench/suite.py section $1, its markdown into $work/md/$1.md.
suite() {
	local opts=(--build "$build" --helpers "$work/bin" --work "$work"
		--out "$out" --runs "$runs" --workers "$workers" --sizes "$sizes")
	[[ $quick == 1 ]] && opts+=(--quick)
	command -v parallel >/dev/null && opts+=(--have-parallel)
	[[ -x /usr/bin/time ]] && opts+=(--have-time)
	python3 "$bench/suite.py" "$1" "${opts[@]}" >"$work/md/$1.md" ||
		die "section $1 failed"
}

# has_section says whether section $1 is in BENCH_SECTIONS.
has_section() {
	[[ " $sections " == *" $1 "* ]]
}

main() {
	local s t0 t1 start=$EPOCHREALTIME
	check_settings
	ensure_tools
	build_all
	load0=$(cut -d ' ' -f 1-3 /proc/loadavg)
	host="$(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1); kernel $(uname -sr) $(uname -m)"
	export BENCH_HOST=$host
	tsv=$out/runs.tsv
	printf 'benchmark\tn\trun\twall_s\tjobs_per_s\tsummary\n' >"$tsv"
	: >"$out/targets.tsv"
	rm -rf "$work/md"
	mkdir -p "$work/md"
	if has_section throughput; then
		t0=$EPOCHREALTIME
		throughput
		table >"$work/md/1.md"
		suite gap
		t1=$EPOCHREALTIME
		note "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "throughput: %.0f s", b - a }')"
	fi
	for s in exec rtt rss restart window durable; do
		has_section "$s" || continue
		[[ -f $work/in.100000 ]] || make_input 100000
		t0=$EPOCHREALTIME
		suite "$s"
		t1=$EPOCHREALTIME
		note "$(awk -v a="$t0" -v b="$t1" -v s="$s" 'BEGIN { printf "%s: %.0f s", s, b - a }')"
	done
	if has_section http; then
		t0=$EPOCHREALTIME
		python3 "$bench/http.py" --build "$build" --work "$work" \
			--out "$out" --runs "$((runs < 3 ? runs : 3))" \
			$([[ $quick == 1 ]] && echo --n 500) >"$work/md/http.md" ||
			die "section http failed"
		t1=$EPOCHREALTIME
		note "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "http: %.0f s", b - a }')"
	fi
	if has_section shared; then
		t0=$EPOCHREALTIME
		python3 "$bench/shared.py" --build "$build" --work "$work" \
			--out "$out" --runs "$((runs < 3 ? runs : 3))" \
			$([[ $quick == 1 ]] && echo --n 50000 --celery-n 2000) \
			>"$work/md/shared.md" || die "section shared failed"
		t1=$EPOCHREALTIME
		note "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "shared: %.0f s", b - a }')"
	fi
	suite summary
	elapsed=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
	{
		machine
		cat "$work/md/summary.md"
		for s in 1 gap exec rtt rss restart window durable http shared; do
			[[ -f $work/md/$s.md ]] && cat "$work/md/$s.md"
		done
	} >"$out/latest.md.tmp"
	mv "$out/latest.md.tmp" "$out/latest.md"
	cat "$out/latest.md"
}

main "$@"
