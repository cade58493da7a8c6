#!/bin/sh
# Installs the Debian packages a make target needs, and only those missing.
# Usage: tests/deps.sh build|run|test|bench
set -eu

build="gcc make pkg-config libfcgi-dev libssl-dev libjson-c-dev libsqlite3-dev libzmq3-dev libcurl4-openssl-dev libc-ares-dev"
run="$build nginx openssl python3"
test="$run pebble certbot lego uacme libcmocka-dev python3-pytest python3-cryptography python3-zmq python3-jsonschema python3-yaml curl sqlite3 spawn-fcgi libfcgi-bin clang libclang-rt-14-dev systemd groff-base man-db strace"
bench="$test wrk"

case "${1:-build}" in
build) want=$build ;;
run) want=$run ;;
test) want=$test ;;
bench) want=$bench ;;
*) echo "usage: $0 build|run|test|bench" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "missing Debian packages:$missing (run as root, or: sudo apt-get install$missing)" >&2
	exit 1
fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >/dev/null
