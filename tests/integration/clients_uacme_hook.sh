#!/bin/sh
# uacme's challenge hook for the client tests: uacme runs
#   clients_uacme_hook.sh begin|done|failed TYPE IDENT TOKEN AUTH
# once per challenge it is offered; a non-zero exit on "begin" declines it.
# Only the type in CLIENTS_CHALLENGE is accepted:
#   http-01  the key authorization goes to
#            $CLIENTS_WEBROOT/.well-known/acme-challenge/TOKEN, which the test
#            serves on the RA's http-01 port;
#   dns-01   AUTH (already the base64url digest) becomes the TXT record of
#            _acme-challenge.IDENT through the management API of the tests'
#            pebble-challtestsrv at CLIENTS_CHALLTESTSRV (host:port).
set -eu
[ $# -eq 5 ] || { echo "usage: $0 method type ident token auth" >&2; exit 85; }
method=$1 type=$2 ident=$3 token=$4 auth=$5
[ "$type" = "${CLIENTS_CHALLENGE:-}" ] || exit 1
echo "$method $type $ident $token" >>"${CLIENTS_HOOK_LOG:-/dev/null}"
case "$method:$type" in
begin:http-01)
	dir=$CLIENTS_WEBROOT/.well-known/acme-challenge
	mkdir -p "$dir"
	printf %s "$auth" >"$dir/$token"
	;;
done:http-01 | failed:http-01)
	rm -f "$CLIENTS_WEBROOT/.well-known/acme-challenge/$token"
	;;
begin:dns-01)
	host="_acme-challenge.${ident#\*.}."
	curl -fsS --max-time 10 -o /dev/null -d "{\"host\":\"$host\",\"value\":\"$auth\"}" \
		"http://$CLIENTS_CHALLTESTSRV/set-txt"
	;;
done:dns-01 | failed:dns-01)
	host="_acme-challenge.${ident#\*.}."
	curl -fsS --max-time 10 -o /dev/null -d "{\"host\":\"$host\"}" \
		"http://$CLIENTS_CHALLTESTSRV/clear-txt"
	;;
*)
	echo "$0: unexpected $method $type" >&2
	exit 1
	;;
esac
