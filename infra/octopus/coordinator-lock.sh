#!/usr/bin/env bash
# coordinator-lock.sh: take, renew and free Octopus Coordinator locks from any shell (Octopus script
# steps, GitHub Actions, Azure Pipelines, cron). Needs bash and curl; uses jq when present.
#
#   coordinator-lock.sh acquire <lock> [--holder TEXT] [--permits N] [--ttl SECONDS] [--wait SECONDS]
#                                      [--task ServerTasks-N] [--priority 0-9] [--request-id ID]
#   coordinator-lock.sh renew   <lock> <leaseId> [--ttl SECONDS]
#   coordinator-lock.sh release <lock> <leaseId>
#   coordinator-lock.sh leave   <lock> --request-id ID
#   coordinator-lock.sh acquire-any <lock> <lock>... [same options as acquire, but --permits]
#   coordinator-lock.sh leave-any   <lock> <lock>... --request-id ID
#   coordinator-lock.sh status  [<lock>]
#
# Settings (environment): COORDINATOR_URL (e.g. https://my-coordinator.azurewebsites.net), and
# COORDINATOR_KEY (a function key; not needed against the dev host).
#
# acquire prints the lease id on stdout (diagnostics go to stderr), so: lease=$(coordinator-lock.sh acquire …)
# acquire-any (a pool: whichever lock of the list is free first) prints "<lease id><TAB><lock name>".
# Each acquire is its own request (a random request id, or --request-id to resume an earlier one); when
# --wait runs out it leaves the queue. leave gives up the place of an acquire run with --request-id.
# Exit codes: 0 done; 1 error (bad input, coordinator unreachable); 2 not granted within --wait;
#             3 renew/release refused: this lease does not hold the lock (expired, freed, or not ours).
set -euo pipefail

die() { echo "coordinator-lock: $*" >&2; exit 1; }
say() { echo "coordinator-lock: $*" >&2; }

# help_text: the comment block at the top of this file, without the leading '# '.
help_text() { sed -n '2,/^[^#]/p' "$0" | sed -n 's/^# \{0,1\}//p'; }

# usage [0]: the header above as help; asked for (0) on stdout, after a mistake on stderr with exit 1.
usage() {
  if [[ ${1:-1} == 0 ]]; then help_text; exit 0; fi
  help_text >&2
  exit 1
}

# new_request_id: a random id for one acquire (never shown in the lock listings).
new_request_id() {
  local id=''
  [[ -r /proc/sys/kernel/random/uuid ]] && id=$(</proc/sys/kernel/random/uuid)
  [[ -z $id ]] && command -v uuidgen >/dev/null 2>&1 && id=$(uuidgen)
  [[ -z $id ]] && id=$(od -An -N16 -tx1 /dev/urandom 2>/dev/null | tr -d ' \n')
  [[ -n $id ]] || die "cannot make a random request id (no /proc/sys/kernel/random/uuid, uuidgen or /dev/urandom); pass --request-id"
  printf '%s' "$id"
}

# leave_queue <lock> <body>: give up the place of a request, saying what happened on stderr; 1 if it could not.
leave_queue() {
  call POST "locks/$(urlencode "$1")/leave" "$2" 30
  case $STATUS in
    200)
      if [[ $(json_field "$BODY" left) == true ]]; then say "left the queue of \"$1\""
      else say "no place in the queue of \"$1\" to leave"; fi
      return 0
      ;;
    000 | 429 | 5??) say "could not leave the queue of \"$1\" (status $STATUS); the place lapses by itself within 30 s" ;;
    *) say "could not leave the queue of \"$1\" ($STATUS): $(error_message "$BODY")" ;;
  esac
  return 1
}

# leave_pool <body>: give up the place of a pool request (acquire-any); 1 if it could not.
leave_pool() {
  call POST locks/leave-any "$1" 30
  case $STATUS in
    200) say "left the pool's queue"; return 0 ;;
    *) say "could not leave the pool's queue ($STATUS): $(error_message "$BODY"); the place lapses by itself within 30 s" ;;
  esac
  return 1
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

# call <method> <path> <body> <max seconds>: sets STATUS, BODY and RETRY_AFTER (seconds the answer
# asked us to wait, 2 when it named none, at most 60); STATUS=000 when nothing came back.
call() {
  local method=$1 path=$2 body=$3 max=$4 out headers
  headers=$(mktemp)
  local -a args=(-sS -X "$method" --max-time "$max" -H 'accept: application/json' -D "$headers" -w $'\n%{http_code}')
  [[ -n ${COORDINATOR_KEY:-} ]] && args+=(-H "x-functions-key: $COORDINATOR_KEY")
  [[ -n $body ]] && args+=(-H 'content-type: application/json' --data-binary "$body")
  if out=$(curl "${args[@]}" "${COORDINATOR_URL%/}/api/$path" 2>/dev/null); then
    STATUS=${out##*$'\n'}
    BODY=${out%$'\n'*}
  else
    STATUS=000
    BODY=''
  fi
  RETRY_AFTER=$(tr -d '\r' <"$headers" | sed -n 's/^[Rr][Ee][Tt][Rr][Yy]-[Aa][Ff][Tt][Ee][Rr]:[[:space:]]*\([0-9][0-9]*\)[[:space:]]*$/\1/p' | tail -n1)
  rm -f "$headers"
  RETRY_AFTER=${RETRY_AFTER:-2}
  ((RETRY_AFTER > 60)) && RETRY_AFTER=60
  # Azure answers a missing or wrong function key with an empty 401: say which key and where it goes.
  if [[ $STATUS == 401 && -z $BODY ]]; then
    BODY="no valid function key: set COORDINATOR_KEY to a function key of the app (Azure portal: the Function App's App keys, or az functionapp keys list); it is sent as the x-functions-key header${COORDINATOR_KEY:+; the key set now was refused}"
  fi
  return 0
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
  acquire | acquire-any)
    [[ -n $lock ]] || die "$command needs a lock name"
    holder=${holder:-${USER:-someone}@$(hostname) pid $$}
    # The request id identifies this request: only it gets the grant or the place back (the holder
    # text is shown to everyone). A random one per run, unless --request-id resumes an earlier run.
    request_id=${request_id:-$(new_request_id)}
    body="{\"holder\":$(json_escape "$holder"),\"requestId\":$(json_escape "$request_id")"
    [[ -n $permits && $command == acquire ]] && body+=",\"permits\":$permits"
    [[ -n $ttl ]] && body+=",\"ttlSeconds\":$ttl"
    [[ -n $task ]] && body+=",\"octopusTaskId\":$(json_escape "$task")"
    [[ -n $priority ]] && body+=",\"priority\":$priority"
    deadline=$(($(date +%s) + wait))
    path="locks/$(urlencode "$lock")/acquire"
    if [[ $command == acquire-any ]]; then
      names=''; for n in "${positional[@]}"; do names+="${names:+,}$(json_escape "$n")"; done
      body+=",\"names\":[$names]"; path=locks/acquire-any; lock="a lock of the pool ${positional[*]}"
    fi
    while :; do
      left=$((deadline - $(date +%s)))
      ((left < 0)) && left=0
      chunk=$((left > 180 ? 180 : left))
      # Same request id on every try: a grant whose answer was lost is returned, never doubled.
      call POST "$path" "$body,\"wait\":$chunk}" $((chunk + 30))
      case $STATUS in
        200)
          leaseId=$(json_field "$BODY" leaseId)
          [[ $command == acquire-any ]] && lock=$(json_field "$BODY" lock)
          say "granted \"$lock\" to $holder (fence $(json_field "$BODY" fence), expires $(json_field "$BODY" expiresAt))"
          if [[ $command == acquire-any ]]; then printf '%s\t%s\n' "$leaseId" "$lock"; else printf '%s\n' "$leaseId"; fi
          exit 0
          ;;
        202)
          position=$(json_field "$BODY" position)
          if (($(date +%s) >= deadline)); then
            say "not granted within ${wait}s: \"$lock\" is held; this request was at position ${position:-?} in the queue"
            # Give the place up now, so a later call does not queue behind it until it lapses.
            if [[ $command == acquire-any ]]; then leave_pool "{\"names\":[$names],\"requestId\":$(json_escape "$request_id")}" || true
            else leave_queue "$lock" "{\"requestId\":$(json_escape "$request_id")}" || true; fi
            exit 2
          fi
          say "waiting for \"$lock\": position $position"
          ;;
        429)
          # Shedding load (webhooks come first): wait as long as it asks, then ask again with the same request id.
          (($(date +%s) >= deadline)) && die "the coordinator is overloaded (429) at $COORDINATOR_URL and the wait is over"
          say "the coordinator is busy (429); retrying in ${RETRY_AFTER}s"
          sleep "$RETRY_AFTER"
          ;;
        000 | 5??)
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
        429) say "the coordinator is busy (429), attempt $attempt of 5; retrying in ${RETRY_AFTER}s"; sleep "$RETRY_AFTER" ;;
        000 | 5??) say "no answer from the coordinator (status $STATUS), attempt $attempt of 5"; sleep 2 ;;
        *) die "$command refused ($STATUS): $(error_message "$BODY")" ;;
      esac
    done
    die "the coordinator did not answer at $COORDINATOR_URL; the lease will expire by its TTL"
    ;;
  leave-any)
    [[ -n $lock ]] || die "leave-any needs the lock names of the pool"
    [[ -n $request_id ]] || die "leave-any needs --request-id (the one the acquire-any was run with)"
    names=''; for n in "${positional[@]}"; do names+="${names:+,}$(json_escape "$n")"; done
    leave_pool "{\"names\":[$names],\"requestId\":$(json_escape "$request_id")}" || exit 1
    ;;
  leave)
    [[ -n $lock ]] || die "leave needs a lock name"
    [[ -n $request_id ]] || die "leave needs --request-id (the one the acquire was run with)"
    leave_queue "$lock" "{\"requestId\":$(json_escape "$request_id")}" || exit 1
    ;;
  status)
    if [[ -n $lock ]]; then call GET "locks/$(urlencode "$lock")" '' 30; else call GET locks '' 30; fi
    [[ $STATUS == 200 ]] || die "status failed ($STATUS): $(error_message "$BODY")"
    if command -v jq >/dev/null 2>&1; then jq . <<<"$BODY"; else printf '%s\n' "$BODY"; fi
    ;;
  *) usage ;;
esac
