#!/usr/bin/env bash
# A brawl external client (protocol 1, docs/client-protocol.md) for the register workload on
# etcd, in bash with jq and etcdctl: the protocol needs nothing but reading and writing lines.
# brawl starts one process per worker and sends a hello, then one request per line; this
# script answers each on one line of stdout. Anything on stderr goes to brawl's run log.
#
#   read  [k, null]       -> etcdctl get (linearizable): ok [k, v], or [k, null] when absent
#   write [k, v]          -> etcdctl put: ok [k, v]
#   cas   [k, [old, new]] -> etcdctl txn: if value(k) = old then put k new; FAILURE -> fail
# Exit 124 in an error is `timeout` stopping etcdctl just before brawl's deadline.
#
# The rules of info: a read that errs changed nothing (fail); a put or txn that errs may have
# been applied (info); a txn that answers FAILURE surely was not (fail).
set -u

prefix=/brawl/shell-register

IFS= read -r hello || exit 2
proto=$(jq -r '.protocol' <<<"$hello")
workload=$(jq -r '.workload' <<<"$hello")
addr=$(jq -r '.node.address' <<<"$hello")
if [ "$proto" != 1 ] || [ "$workload" != register ]; then
  echo "this client speaks protocol 1 for the register workload; got $hello" >&2
  exit 2
fi
printf '{"type":"hello","protocol":1}\n'
endpoint="http://$addr:2379"
# etcdctl's stderr (warnings, errors), kept apart from its answer on stdout, in a file that is
# deleted at once (brawl may SIGKILL this script; nothing is left behind). Linux's /dev/fd/3
# reopens it: `2>"$err"` truncates it for each command.
tmp=$(mktemp)
exec 3<>"$tmp"
rm -f "$tmp"
err=/dev/fd/3
echo "client for $workload on $addr" >&2

# reply ID TYPE VALUE-JSON [ERROR]; an error keeps its last line (etcdctl logs warnings first).
reply() {
  if [ $# -ge 4 ]; then
    local e
    e=$(tail -n 1 "$err")
    jq -cn --argjson id "$1" --arg t "$2" --argjson v "$3" --arg e "$4${e:+: $e}" \
      '{id: $id, type: $t, value: $v, error: $e}'
  else
    printf '{"id":%s,"type":"%s","value":%s}\n' "$1" "$2" "$3"
  fi
}

while IFS= read -r req; do
  eval "$(jq -r '@sh "id=\(.id) f=\(.f) key=\(.value[0]) ms=\(.timeout_ms)
    a=\(.value[1] | if type == "array" then .[0] else . end)
    b=\(.value[1] | if type == "array" then .[1] else "" end)"' <<<"$req")"
  # Bound etcdctl (dial, retries and all) well under brawl's deadline, since jq and bash need
  # time too on a busy machine, so this script answers in time; `timeout` exits 124 when it
  # has to stop etcdctl.
  left=$((ms > 2400 ? ms - 1200 : ms / 2))
  ctl=(timeout -k 0.2 "$((left / 1000)).$((left % 1000 / 100))" etcdctl --endpoints="$endpoint"
    --dial-timeout="$((left / 2))ms" --command-timeout="${left}ms")
  k="$prefix/$key"
  case "$f" in
    read)
      if out=$("${ctl[@]}" get "$k" --print-value-only 2>"$err"); then
        reply "$id" ok "[$key,${out:-null}]"
      else
        reply "$id" fail "[$key,null]" "get: exit $?"
      fi
      ;;
    write)
      if out=$("${ctl[@]}" put "$k" "$a" 2>"$err"); then
        reply "$id" ok "[$key,$a]"
      else
        reply "$id" info "[$key,$a]" "put: exit $?"
      fi
      ;;
    cas)
      # etcdctl txn reads compares, a blank line, the success requests, a blank line, the
      # failure requests.
      if out=$(printf 'value("%s") = "%s"\n\nput %s %s\n\n\n' "$k" "$a" "$k" "$b" |
        "${ctl[@]}" txn 2>"$err"); then
        case "$out" in
          SUCCESS*) reply "$id" ok "[$key,[$a,$b]]" ;;
          FAILURE*) : >"$err" && reply "$id" fail "[$key,[$a,$b]]" "precondition failed" ;;
          *) reply "$id" info "[$key,[$a,$b]]" "txn answered $out" ;;
        esac
      else
        reply "$id" info "[$key,[$a,$b]]" "txn: exit $?"
      fi
      ;;
    *)
      reply "$id" fail "null" "unknown op $f"
      ;;
  esac
done
