#!/bin/bash
# Runs the fuzz targets built by `make fuzz-build` (tests/fuzz/README.md).
#
#   tests/fuzz/run.sh [-b BUILD] [-t SECONDS] [-j JOBS] [-w WORKDIR] [TARGET...]
#
# For each target (all of them when none is named): first replays every
# file of tests/fuzz/regressions/TARGET/ (each must pass), then fuzzes for
# SECONDS from the seeds of tests/fuzz/corpus/TARGET/, JOBS targets at a
# time.  New inputs go to WORKDIR/TARGET (kept, so that runs build on one
# another; a fresh temporary directory, removed afterwards, when -w is not
# given); the seed corpus is never written to.  A crash, leak, timeout or
# broken invariant fails the run: its input is left in
# BUILD/artifacts/TARGET/, ready to be copied into regressions/TARGET/.
#
# Exit status: 0 when every target passed, 1 otherwise.
set -u

here=$(cd "$(dirname "$0")" && pwd)
build=build/fuzz
seconds=60
jobs=2
workdir=

while getopts b:t:j:w: opt; do
	case $opt in
	b) build=$OPTARG ;;
	t) seconds=$OPTARG ;;
	j) jobs=$OPTARG ;;
	w) workdir=$OPTARG ;;
	*) echo "usage: $0 [-b BUILD] [-t SECONDS] [-j JOBS] [-w WORKDIR] [TARGET...]" >&2
	   exit 2 ;;
	esac
done
shift $((OPTIND - 1))

all="fuzz_jws fuzz_acme_body fuzz_csr fuzz_dn fuzz_router fuzz_ca_reply fuzz_clientcert"
targets=${*:-$all}

# Longest input per target: bounded so that time goes to structure, not
# length; each is above the largest seed of its corpus.
max_len() {
	case $1 in
	fuzz_jws | fuzz_acme_body | fuzz_ca_reply) echo 8192 ;;
	*) echo 4096 ;;
	esac
}

# The target's dictionary, with the JSON one for JSON inputs; its path,
# or nothing when there is none.
dict() {
	local out=$1/$2.dict
	case $2 in
	fuzz_jws | fuzz_acme_body | fuzz_ca_reply) cat "$here/dict/json.dict" ;;
	esac >"$out"
	[ -f "$here/dict/$2.dict" ] && cat "$here/dict/$2.dict" >>"$out"
	[ -s "$out" ] && echo "$out"
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/upki-fuzz-run.XXXXXX") || exit 1
# The harness's store and data directory go under TMPDIR: tmpfs when
# there is one, since every ACME request writes a used nonce.
shm=
if [ -d /dev/shm ] && [ -w /dev/shm ] && shm=$(mktemp -d /dev/shm/upki-fuzz.XXXXXX); then
	export TMPDIR=$shm
else
	export TMPDIR=$tmp
fi
trap 'rm -rf "$tmp" ${shm:+"$shm"}' EXIT
[ -n "$workdir" ] || workdir=$tmp/work
# A leak or a UBSan report is a failure; reports name source lines.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_one() {
	local t=$1 bin=$build/$1 log=$tmp/$1.log art=$build/artifacts/$1
	local regs=() status=0 f d

	if [ ! -x "$bin" ]; then
		echo "== $t: $bin is missing (make fuzz-build)"
		return 1
	fi
	mkdir -p "$workdir/$t" "$art"
	for f in "$here/regressions/$t"/*; do
		[ -f "$f" ] && regs+=("$f")
	done
	if [ ${#regs[@]} -gt 0 ]; then
		if ! "$bin" -timeout=20 "${regs[@]}" >"$log" 2>&1; then
			echo "== $t: FAILED replaying tests/fuzz/regressions/$t/"
			tail -n 60 "$log"
			return 1
		fi
	fi
	d=$(dict "$tmp" "$t")
	"$bin" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
	    -max_len="$(max_len "$t")" ${d:+-dict="$d"} \
	    -artifact_prefix="$art/" -print_final_stats=1 \
	    "$workdir/$t" "$here/corpus/$t" >"$log" 2>&1 || status=$?
	if [ $status -ne 0 ]; then
		echo "== $t: FAILED (exit $status) after replaying ${#regs[@]} regression(s)"
		grep -v '^#[0-9]' "$log" | tail -n 80
		echo "== $t: input(s) in $art/:"
		ls -1 "$art"
		return 1
	fi
	# The last status line, e.g. "#123456 DONE cov: 1234 ft: 5678 corp: ..."
	echo "== $t: ok, ${#regs[@]} regression(s), ${seconds}s:" \
	    "$(grep -E '^#[0-9]+' "$log" | tail -n 1)"
	grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" |
	    sed 's/^/   /'
}

# JOBS targets at a time; the result of each in $tmp/TARGET.rc.
running=0
for t in $targets; do
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
	(run_one "$t" >"$tmp/$t.out"; echo $? >"$tmp/$t.rc"; cat "$tmp/$t.out") &
	running=$((running + 1))
done
wait

failed=0
passed=0
for t in $targets; do
	if [ "$(cat "$tmp/$t.rc" 2>/dev/null)" = 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
done
echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
