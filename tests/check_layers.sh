#!/bin/sh
# The layers of the code, checked (make check-layers):
#  - common/ is the library: it includes nothing of fcgi/ and no libfcgi;
#  - only the store (common/store*.c) speaks SQL, only the CA client
#    (common/ca.c) speaks ZeroMQ, and only the CA client calls ca_call:
#    everything else goes through their functions;
#  - handlers (the fcgi/ files that include handlers.h) call modules: no
#    SQL, no ZeroMQ, no CA request of their own.
# Prints each breach as FILE:LINE: what, and exits 1 if there is any.
set -u
cd "$(dirname "$0")/.." || exit 2

status=0
breach() {
	# $1: what is wrong; the rest: grep -n output lines
	what=$1
	shift
	for hit in "$@"; do
		echo "$hit: $what"
		status=1
	done
}

hits() {
	# grep -n PATTERN FILES..., one hit per line, nothing when none
	grep -nE "$@" 2>/dev/null || true
}

fcgi_headers=$(cd fcgi && ls ./*.h | sed 's|^\./||' | paste -sd'|' -)
old_ifs=$IFS
IFS='
'
breach "common/ includes a header of fcgi/" \
	$(hits "^#include \"($fcgi_headers)\"|^#include <fcgiapp.h>|^#include <fcgi_stdio.h>" common/*.c common/*.h)
for f in common/*.c common/*.h fcgi/*.c fcgi/*.h; do
	case $f in
	common/store*) ;;
	*) breach "SQL outside the store" $(hits -H "sqlite3_|#include <sqlite3.h>" "$f") ;;
	esac
	case $f in
	common/ca.c) ;;
	*) breach "ZeroMQ outside the CA client" $(hits -H "zmq_[a-z]+\(|#include <zmq.h>" "$f") ;;
	esac
	case $f in
	common/ca.c|common/ca.h) ;;
	*) breach "a raw CA request: call the typed CA function" $(hits -H "(^|[^a-z_])ca_call\(" "$f") ;;
	esac
done
for f in $(grep -l '^#include "handlers.h"' fcgi/*.c); do
	breach "a handler reaches into the store's internals" $(hits -H "#include \"store_impl.h\"" "$f")
done
IFS=$old_ifs
[ $status -eq 0 ] && echo "check-layers: common/ stands alone; SQL in the store, ZeroMQ and CA requests in the CA client, nowhere else"
exit $status
