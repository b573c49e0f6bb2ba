#!/usr/bin/env bash
# Monthly segtool run for cron.
#
#   segtool-monthly.sh CONFIG OUT_ROOT [more `segtool run` options, e.g. --as-of today]
#
# Writes this month's results to OUT_ROOT/YYYY-MM, passes the latest earlier month's folder
# (normally last month's) as --previous when there is one (optional with the contact
# history, which knows the last run; harmless, and on the first month with a history it
# carries last month's marks over), appends everything segtool says
# to OUT_ROOT/logs/segtool-YYYY-MM.log and exits with segtool's exit code:
#   0 done; 1 done but too many rejected rows; 2 config/usage; 3 input unreadable;
#   75 another run holds the lock; 70 internal error; 128+N killed by signal N.
# Silent on success; on failure prints one line and the end of the log to stdout, so cron's
# MAILTO mails it to you.
#
# Environment:
#   SEGTOOL               the command to run (default: segtool on PATH)
#   SEGTOOL_MONTH         YYYY-MM to file the run under (default: the current month)
#   SEGTOOL_LOG_DIR       log folder (default: OUT_ROOT/logs)
#   SEGTOOL_LOCK_RETRIES  how many times to retry, 60 s apart, while locked (default: 0)
#   SEGTOOL_HISTORY       contact history file, passed as --history (default: the config's
#                         history.path, segtool-history.db next to the config)
set -u -o pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 CONFIG OUT_ROOT [segtool run options...]" >&2
  exit 2
fi
config=$1
root=$2
shift 2

segtool_cmd=${SEGTOOL:-segtool}
month=${SEGTOOL_MONTH:-$(date +%Y-%m)}
case $month in
  [0-9][0-9][0-9][0-9]-[0-1][0-9]) ;;
  *) echo "SEGTOOL_MONTH=$month: expected YYYY-MM" >&2; exit 2 ;;
esac
log_dir=${SEGTOOL_LOG_DIR:-$root/logs}
retries=${SEGTOOL_LOCK_RETRIES:-0}

mkdir -p "$root" "$log_dir" || exit 3
out=$root/$month
log=$log_dir/segtool-$month.log

# the latest earlier month folder that holds a finished run (normally last month's)
previous=""
for dir in "$root"/[0-9][0-9][0-9][0-9]-[0-1][0-9]; do
  [ -d "$dir" ] || continue
  name=${dir##*/}
  if [[ "$name" < "$month" ]] && [ -f "$dir/segments.csv" ]; then
    previous=$dir
  fi
done

args=(run --config "$config" --out "$out" --json)
[ -n "$previous" ] && args+=(--previous "$previous")
[ -n "${SEGTOOL_HISTORY:-}" ] && args+=(--history "$SEGTOOL_HISTORY")
args+=("$@")

attempt=0
while :; do
  {
    echo "=== $(date '+%Y-%m-%d %H:%M:%S') $segtool_cmd ${args[*]}"
  } >>"$log"
  # stdout (the --json summary) and stderr (progress, warnings, errors) both go to the log
  # shellcheck disable=SC2086 # SEGTOOL may be a command with arguments, e.g. "python -m segtool"
  $segtool_cmd "${args[@]}" >>"$log" 2>&1
  code=$?
  echo "=== $(date '+%Y-%m-%d %H:%M:%S') exit $code" >>"$log"
  if [ "$code" -eq 75 ] && [ "$attempt" -lt "$retries" ]; then
    attempt=$((attempt + 1))
    sleep 60
    continue
  fi
  break
done

if [ "$code" -ne 0 ]; then
  echo "segtool monthly run for $month failed with exit code $code (log: $log)"
  tail -n 20 "$log"
fi
exit "$code"
