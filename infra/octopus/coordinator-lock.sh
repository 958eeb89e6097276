#!/usr/bin/env bash
# coordinator-lock.sh: take, renew and free Octopus Coordinator locks from any shell (Octopus script
# steps, GitHub Actions, Azure Pipelines, cron). Needs bash and curl; uses jq when present.
#
#   coordinator-lock.sh acquire <lock> [--holder TEXT] [--permits N] [--ttl SECONDS] [--wait SECONDS]
#                                      [--task ServerTasks-N] [--priority 0-9] [--request-id ID]
#   coordinator-lock.sh renew   <lock> <leaseId> [--ttl SECONDS]
#   coordinator-lock.sh release <lock> <leaseId>
#   coordinator-lock.sh status  [<lock>]
#
# Settings (environment): COORDINATOR_URL (e.g. https://my-coordinator.azurewebsites.net), and
# COORDINATOR_KEY (a function key; not needed against the dev host).
#
# acquire prints the lease id on stdout (diagnostics go to stderr), so: lease=$(coordinator-lock.sh acquire …)
# Exit codes: 0 done; 1 error (bad input, coordinator unreachable); 2 not granted within --wait;
#             3 renew/release refused: this lease does not hold the lock (expired, freed, or not ours).
set -euo pipefail

die() { echo "coordinator-lock: $*" >&2; exit 1; }
say() { echo "coordinator-lock: $*" >&2; }

# usage [0]: the header above as help; asked for (0) on stdout, after a mistake on stderr with exit 1.
usage() {
  if [[ ${1:-1} == 0 ]]; then sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0; fi
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 1
}

json_escape() {
  local s=$1 out='' c i code
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
      '"') out+='\"' ;;
      '\') out+='\\' ;;
      $'\n') out+='\n' ;;
      $'\r') out+='\r' ;;
      $'\t') out+='\t' ;;
      *)
        printf -v code '%d' "'$c"
        if ((code >= 0 && code < 32)); then printf -v c '\\u%04x' "$code"; fi
        out+=$c
        ;;
    esac
  done
  printf '"%s"' "$out"
}

urlencode() {
  local LC_ALL=C s=$1 out='' c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
      [a-zA-Z0-9.~_-]) out+=$c ;;
      *) printf -v c '%%%02X' "'$c"; out+=$c ;;
    esac
  done
  printf '%s' "$out"
}

# json_field <json> <name>: a top-level string/number/boolean field (jq when available).
json_field() {
  if command -v jq >/dev/null 2>&1; then
    jq -r --arg f "$2" 'if type == "object" and has($f) and .[$f] != null then .[$f] | tostring else empty end' <<<"$1" 2>/dev/null || true
  else
    sed -n "s/.*\"$2\":\(\"\([^\"\\\\]\|\\\\.\)*\"\|[-0-9.eE+]*\|true\|false\).*/\1/p" <<<"$1" | head -n1 | sed 's/^"\(.*\)"$/\1/'
  fi
}

error_message() {
  local m
  if command -v jq >/dev/null 2>&1; then m=$(jq -r '.error.message // empty' <<<"$1" 2>/dev/null || true)
  else m=$(sed -n 's/.*"message":"\(\([^"\\]\|\\.\)*\)".*/\1/p' <<<"$1" | head -n1); fi
  printf '%s' "${m:-$1}"
}

# call <method> <path> <body> <max seconds>: sets STATUS and BODY; STATUS=000 when nothing came back.
call() {
  local method=$1 path=$2 body=$3 max=$4 out
  local -a args=(-sS -X "$method" --max-time "$max" -H 'accept: application/json' -w $'\n%{http_code}')
  [[ -n ${COORDINATOR_KEY:-} ]] && args+=(-H "x-functions-key: $COORDINATOR_KEY")
  [[ -n $body ]] && args+=(-H 'content-type: application/json' --data-binary "$body")
  if out=$(curl "${args[@]}" "${COORDINATOR_URL%/}/api/$path" 2>/dev/null); then
    STATUS=${out##*$'\n'}
    BODY=${out%$'\n'*}
  else
    STATUS=000
    BODY=''
  fi
}

[[ $# -ge 1 ]] || usage
case $1 in -h | --help | help) usage 0 ;; esac
command=$1
shift
[[ -n ${COORDINATOR_URL:-} ]] || die "COORDINATOR_URL is not set: set it to the coordinator's address, e.g. https://my-coordinator.azurewebsites.net"
command -v curl >/dev/null 2>&1 || die "curl is not installed; install it or use the PowerShell template"

lock='' lease='' holder='' permits='' ttl='' wait=0 task='' priority='' request_id=''
positional=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --holder) holder=${2:?--holder needs a value}; shift 2 ;;
    --permits) permits=${2:?--permits needs a number}; shift 2 ;;
    --ttl) ttl=${2:?--ttl needs seconds}; shift 2 ;;
    --wait) wait=${2:?--wait needs seconds}; shift 2 ;;
    --task) task=${2-}; shift 2 ;;
    --priority) priority=${2:?--priority needs 0-9}; shift 2 ;;
    --request-id) request_id=${2:?--request-id needs a value}; shift 2 ;;
    -h | --help) usage 0 ;;
    --*) die "unknown option $1 (see --help)" ;;
    *) positional+=("$1"); shift ;;
  esac
done
for n in "$permits" "$ttl" "$wait" "$priority"; do
  [[ -z $n || $n =~ ^[0-9]+$ ]] || die "'$n' is not a whole number (permits, ttl, wait and priority are whole numbers)"
done
lock=${positional[0]:-}
lease=${positional[1]:-}

case $command in
  acquire)
    [[ -n $lock ]] || die "acquire needs a lock name"
    holder=${holder:-${USER:-someone}@$(hostname) pid $$}
    # Without --request-id the holder text identifies the request: asking again with the same holder
    # (a retry, or a new call after --wait ran out) gets the same grant or the same place in the queue.
    body="{\"holder\":$(json_escape "$holder")"
    [[ -n $request_id ]] && body+=",\"requestId\":$(json_escape "$request_id")"
    [[ -n $permits ]] && body+=",\"permits\":$permits"
    [[ -n $ttl ]] && body+=",\"ttlSeconds\":$ttl"
    [[ -n $task ]] && body+=",\"octopusTaskId\":$(json_escape "$task")"
    [[ -n $priority ]] && body+=",\"priority\":$priority"
    deadline=$(($(date +%s) + wait))
    path="locks/$(urlencode "$lock")/acquire"
    while :; do
      left=$((deadline - $(date +%s)))
      ((left < 0)) && left=0
      chunk=$((left > 180 ? 180 : left))
      # Same holder/request id on every try: a grant whose answer was lost is returned, never doubled.
      call POST "$path" "$body,\"wait\":$chunk}" $((chunk + 30))
      case $STATUS in
        200)
          leaseId=$(json_field "$BODY" leaseId)
          say "granted \"$lock\" to $holder (fence $(json_field "$BODY" fence), expires $(json_field "$BODY" expiresAt))"
          printf '%s\n' "$leaseId"
          exit 0
          ;;
        202)
          position=$(json_field "$BODY" position)
          if (($(date +%s) >= deadline)); then
            say "not granted within ${wait}s: \"$lock\" is held; this request was at position ${position:-?} in the queue"
            exit 2
          fi
          say "waiting for \"$lock\": position $position"
          ;;
        000 | 429 | 5??)
          (($(date +%s) >= deadline)) && die "the coordinator did not answer (status $STATUS) at $COORDINATOR_URL; check the URL and that the app is running"
          say "no answer from the coordinator (status $STATUS); retrying"
          sleep 2
          ;;
        *) die "acquire refused ($STATUS): $(error_message "$BODY")" ;;
      esac
    done
    ;;
  renew | release)
    [[ -n $lock && -n $lease ]] || die "$command needs a lock name and a lease id"
    body="{\"leaseId\":$(json_escape "$lease")"
    [[ $command == renew && -n $ttl ]] && body+=",\"ttlSeconds\":$ttl"
    body+='}'
    for attempt in 1 2 3 4 5; do
      call POST "locks/$(urlencode "$lock")/$command" "$body" 30
      case $STATUS in
        200)
          if [[ $command == release ]]; then
            say "released \"$lock\" (fence $(json_field "$BODY" fence))"
          else
            say "renewed \"$lock\" until $(json_field "$BODY" expiresAt)"
          fi
          exit 0
          ;;
        409) say "$(error_message "$BODY")"; exit 3 ;;
        000 | 429 | 5??) say "no answer from the coordinator (status $STATUS), attempt $attempt of 5"; sleep 2 ;;
        *) die "$command refused ($STATUS): $(error_message "$BODY")" ;;
      esac
    done
    die "the coordinator did not answer at $COORDINATOR_URL; the lease will expire by its TTL"
    ;;
  status)
    if [[ -n $lock ]]; then call GET "locks/$(urlencode "$lock")" '' 30; else call GET locks '' 30; fi
    [[ $STATUS == 200 ]] || die "status failed ($STATUS): $(error_message "$BODY")"
    if command -v jq >/dev/null 2>&1; then jq . <<<"$BODY"; else printf '%s\n' "$BODY"; fi
    ;;
  *) usage ;;
esac
