#!/bin/sh
# lego's "exec" DNS provider for the client tests: lego runs
#   clients_lego_dns.sh present|cleanup FQDN VALUE
# (FQDN is "_acme-challenge.NAME." with its final dot).  The TXT record is set
# and cleared through the management API of the tests' pebble-challtestsrv,
# whose address (host:port) is in CLIENTS_CHALLTESTSRV.
set -eu
: "${CLIENTS_CHALLTESTSRV:?CLIENTS_CHALLTESTSRV is not set}"
[ $# -ge 2 ] || { echo "usage: $0 present|cleanup FQDN [VALUE]" >&2; exit 2; }
fqdn=$2
value=${3:-}
case "$1" in
present) path=set-txt; body="{\"host\":\"$fqdn\",\"value\":\"$value\"}" ;;
cleanup) path=clear-txt; body="{\"host\":\"$fqdn\"}" ;;
timeout) exit 0 ;;
*) echo "$0: unknown command $1" >&2; exit 2 ;;
esac
exec curl -fsS --max-time 10 -o /dev/null -d "$body" "http://$CLIENTS_CHALLTESTSRV/$path"
