#!/usr/bin/env bash
# A real single-node Slurm cluster on localhost (Debian 12's slurmctld, slurmd and munge), for
# tests and CI: no systemd, no cgroups, no accounting database. Needs root (or passwordless sudo).
#
#   scripts/slurm-local.sh up            install the packages when missing, start munged, slurmctld,
#                                        slurmd, run a probe job; idempotent (a running cluster is kept)
#   scripts/slurm-local.sh down          cancel every job, stop what `up` started (and nothing else)
#   scripts/slurm-local.sh status        exit 0 up, 3 down, 1 partly up
#   scripts/slurm-local.sh wait JOBID    poll every 0.5 s until every (array) task has ended; print
#                                        each task's state; exit 0 only if every task COMPLETED
#   scripts/slurm-local.sh env           print `export SLURM_CONF=...` (use: eval "$(... env)")
#   scripts/slurm-local.sh selftest      up, sinfo, srun hostname, an 8-task array checked, a failing
#                                        job detected; stops the cluster again if it started it
#
# Typical use:
#   scripts/slurm-local.sh up && trap 'scripts/slurm-local.sh down' EXIT
#   eval "$(scripts/slurm-local.sh env)"
#   job=$(sbatch --parsable --array=0-7 -o 'logs/%A_%a.out' job.sh)
#   scripts/slurm-local.sh wait "$job"
#
# Environment: SLURM_LOCAL_DIR (default /tmp/slurm-local: etc/ munge/ state/ spool/ log/ run/;
# each fresh `up` wipes it and writes a new munge key), SLURM_LOCAL_CTLD_PORT (6817),
# SLURM_LOCAL_SLURMD_PORT (6818), SLURM_LOCAL_AUTH (munge, or none: insecure, anyone reaching the
# ports can act as any user), SLURM_LOCAL_PROBE (1; 0 skips the probe job),
# SLURM_LOCAL_WAIT_TIMEOUT (seconds for `wait`, default 900).
#
# Exit codes: 0 success, 1 failure, 2 usage, 3 (status) down, 4 cannot run here (not root and no
# sudo, the packages cannot be installed, or a port is taken by another program).
#
# Background and the pitfalls this script avoids: the project's notes on a single-node Slurm 22.05
# on Debian 12 (munge dir 0755 + key 0600, policy-rc.d during the install, SLURM_CONF for clients,
# batch_sched_delay=0, the probe job, slurmstepd outliving slurmd, zombies, port clashes).
set -uo pipefail

DIR=${SLURM_LOCAL_DIR:-/tmp/slurm-local}
CTLD_PORT=${SLURM_LOCAL_CTLD_PORT:-6817}
SLURMD_PORT=${SLURM_LOCAL_SLURMD_PORT:-6818}
AUTH=${SLURM_LOCAL_AUTH:-munge}
PROBE=${SLURM_LOCAL_PROBE:-1}
WAIT_TIMEOUT=${SLURM_LOCAL_WAIT_TIMEOUT:-900}
CONF=$DIR/etc/slurm.conf
SOCK=$DIR/munge/munge.sock
PKGS=(slurmctld slurmd slurm-client munge)
PATH=$PATH:/usr/sbin:/sbin
export SLURM_CONF=$CONF
SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")

say() { echo "slurm-local: $*"; }
err() { echo "slurm-local: $*" >&2; }

case $DIR in
  /*) ;;
  *) err "SLURM_LOCAL_DIR must be an absolute path (got '$DIR')"; exit 2 ;;
esac
DIR=${DIR%/}
if [[ -z $DIR || $DIR == / ]]; then err "SLURM_LOCAL_DIR must not be /"; exit 2; fi
case $AUTH in munge | none) ;; *) err "SLURM_LOCAL_AUTH must be munge or none"; exit 2 ;; esac

# ---- root --------------------------------------------------------------------------------------
# up, down and selftest need root; without it, re-run through passwordless sudo, or exit 4.
need_root() {
  [[ $(id -u) -eq 0 ]] && return 0
  if command -v sudo > /dev/null 2>&1 && sudo -n true 2> /dev/null; then
    exec sudo -n env SLURM_LOCAL_DIR="$DIR" SLURM_LOCAL_CTLD_PORT="$CTLD_PORT" \
      SLURM_LOCAL_SLURMD_PORT="$SLURMD_PORT" SLURM_LOCAL_AUTH="$AUTH" SLURM_LOCAL_PROBE="$PROBE" \
      SLURM_LOCAL_WAIT_TIMEOUT="$WAIT_TIMEOUT" bash "$SELF" "$@"
  fi
  err "needs root or passwordless sudo"
  exit 4
}

# ---- processes ---------------------------------------------------------------------------------
# Alive = exists and is not a zombie (kill -0 succeeds on zombies, and PID 1 may reap late).
proc_state() {
  local s
  if command -v ps > /dev/null 2>&1; then
    s=$(ps -o stat= -p "$1" 2> /dev/null) || return 1
  else
    local line
    read -r line < "/proc/$1/stat" 2> /dev/null || return 1
    line=${line##*) }
    s=${line%% *}
  fi
  s=${s//[[:space:]]/}
  [[ -n $s ]] && echo "$s"
}
alive() {
  local s
  s=$(proc_state "$1") || return 1
  [[ $s != Z* ]]
}
# The PID in a pid file, if that process is alive and its command line names our path.
daemon_pid() { # pidfile marker
  local pid
  [[ -r $1 ]] || return 1
  read -r pid < "$1" 2> /dev/null || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null | grep -qF -- "$2" || return 1
  echo "$pid"
}
munged_pid() { daemon_pid "$DIR/run/munged.pid" "$SOCK"; }
ctld_pid() { daemon_pid "$DIR/run/slurmctld.pid" "$CONF"; }
slurmd_pid() { daemon_pid "$DIR/run/slurmd.pid" "$CONF"; }

children_of() {
  if command -v ps > /dev/null 2>&1; then
    ps -o pid= --ppid "$1" 2> /dev/null | tr -d ' '
  else
    local f line rest
    for f in /proc/[0-9]*/stat; do
      read -r line < "$f" 2> /dev/null || continue
      rest=${line##*) }
      set -- "$1" $rest
      [[ ${3:-} == "$1" ]] && { f=${f#/proc/}; echo "${f%/stat}"; }
    done
  fi
}

slurm_zombies() {
  local f line comm
  for f in /proc/[0-9]*/stat; do
    read -r line < "$f" 2> /dev/null || continue
    comm=${line#*(}
    comm=${comm%)*}
    case $comm in munged | slurmctld | slurmd | slurmstepd) ;; *) continue ;; esac
    line=${line##*) }
    [[ ${line%% *} == Z ]] && return 0
  done
  return 1
}

# TERM, up to 5 s, then KILL; returns once the process is gone (or a zombie).
stop_pid() { # pid name
  local i
  alive "$1" || return 0
  kill -TERM "$1" 2> /dev/null
  for ((i = 0; i < 50; i++)); do alive "$1" || { say "stopped $2 ($1)"; return 0; }; sleep 0.1; done
  kill -KILL "$1" 2> /dev/null
  for ((i = 0; i < 20; i++)); do alive "$1" || { say "killed $2 ($1)"; return 0; }; sleep 0.1; done
  err "$2 ($1) would not stop"
  return 1
}

port_in_use() { # port
  local hex
  hex=$(printf '%04X' "$1")
  awk -v p="$hex" 'FNR > 1 && $4 == "0A" { split($2, a, ":"); if (a[length(a)] == p) found = 1 }
                   END { exit !found }' /proc/net/tcp /proc/net/tcp6 2> /dev/null
}

ctld_up() { scontrol ping 2> /dev/null | grep -q 'is UP'; }

# ---- install -----------------------------------------------------------------------------------
install_packages() {
  local p missing=()
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if ! command -v apt-get > /dev/null 2>&1; then
    err "missing ${missing[*]} and no apt-get to install them"
    return 4
  fi
  say "installing ${missing[*]}"
  # The maintainer scripts try to start the system munge and slurm daemons: deny that with a
  # temporary policy-rc.d when the machine has none (Debian's docker images ship one).
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# temporary, written by slurm-local.sh\nexit 101\n' > "$policy" && chmod 0755 "$policy" &&
      made_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  local rc=0 log=/tmp/slurm-local-apt.$$.log
  apt-get update -qq > "$log" 2>&1 || err "apt-get update failed (trying the install anyway)"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >> "$log" 2>&1 || rc=$?
  [[ $made_policy -eq 1 ]] && rm -f "$policy"
  if [[ $rc -ne 0 ]]; then
    tail -n 5 "$log" | sed 's/^/  apt: /' >&2
    err "apt-get could not install ${missing[*]}"
    rm -f "$log"
    return 4
  fi
  rm -f "$log"
  return 0
}

# ---- up ----------------------------------------------------------------------------------------
# Poll CHECK (a command) every 0.05 s for up to TIMEOUT s; stop at the first fatal line in LOG.
wait_ready() { # what log timeout pattern check...
  local what=$1 log=$2 timeout=$3 pattern=$4 i n
  shift 4
  n=$((timeout * 20))
  for ((i = 0; i < n; i++)); do
    if "$@"; then return 0; fi
    if [[ -f $log ]] && grep -qE "$pattern" "$log"; then
      err "$what failed to start: $(grep -m1 -E "$pattern" "$log")"
      return 1
    fi
    sleep 0.05
  done
  err "$what not ready after ${timeout} s; last lines of $log:"
  tail -n 10 "$log" 2> /dev/null | sed 's/^/  /' >&2
  return 1
}

munge_ok() { [[ -S $SOCK ]] && munge -n -S "$SOCK" 2> /dev/null | unmunge -S "$SOCK" > /dev/null 2>&1; }
node_ok() { scontrol -o show node localhost 2> /dev/null | grep -qE 'State=(IDLE|MIXED|ALLOCATED)( |$)'; }

write_conf() {
  local c cpus sockets cores threads mem
  c=$(slurmd -C 2> /dev/null | head -n 1)
  cpus=$(sed -n 's/.*\bCPUs=\([0-9]*\).*/\1/p' <<< "$c")
  sockets=$(sed -n 's/.*\bSocketsPerBoard=\([0-9]*\).*/\1/p' <<< "$c")
  cores=$(sed -n 's/.*\bCoresPerSocket=\([0-9]*\).*/\1/p' <<< "$c")
  threads=$(sed -n 's/.*\bThreadsPerCore=\([0-9]*\).*/\1/p' <<< "$c")
  mem=$(sed -n 's/.*\bRealMemory=\([0-9]*\).*/\1/p' <<< "$c")
  [[ -n $cpus ]] || cpus=$(nproc)
  [[ -n $sockets && -n $cores && -n $threads ]] || { sockets=1; cores=$cpus; threads=1; }
  # Below the detected memory, so that the node never drains for "low RealMemory".
  [[ -n $mem ]] || mem=$(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo)
  mem=$((mem > 2048 ? mem - 1024 : mem / 2))
  {
    echo "# written by slurm-local.sh $(date -u +%FT%TZ)"
    echo "ClusterName=slurmlocal"
    echo "SlurmctldHost=localhost"
    echo "SlurmctldPort=$CTLD_PORT"
    echo "SlurmdPort=$SLURMD_PORT"
    echo "SlurmUser=root"
    echo "SlurmdUser=root"
    if [[ $AUTH == munge ]]; then
      echo "AuthType=auth/munge"
      echo "CredType=cred/munge"
      echo "AuthInfo=socket=$SOCK"
    else
      echo "AuthType=auth/none"
      echo "CredType=cred/none"
    fi
    echo "ProctrackType=proctrack/linuxproc"
    echo "TaskPlugin=task/none"
    echo "SelectType=select/cons_tres"
    echo "SelectTypeParameters=CR_Core"
    echo "JobAcctGatherType=jobacct_gather/none"
    echo "AccountingStorageType=accounting_storage/none"
    echo "MpiDefault=none"
    echo "SchedulerParameters=batch_sched_delay=0"
    echo "MailProg=/bin/true"
    echo "ReturnToService=2"
    echo "KillWait=5"
    echo "StateSaveLocation=$DIR/state"
    echo "SlurmdSpoolDir=$DIR/spool"
    echo "SlurmctldPidFile=$DIR/run/slurmctld.pid"
    echo "SlurmdPidFile=$DIR/run/slurmd.pid"
    echo "SlurmctldLogFile=$DIR/log/slurmctld.log"
    echo "SlurmdLogFile=$DIR/log/slurmd.log"
    echo "NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus Sockets=$sockets CoresPerSocket=$cores" \
      "ThreadsPerCore=$threads RealMemory=$mem State=UNKNOWN"
    echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
  } > "$CONF"
}

fresh_dir() {
  if [[ -e $DIR ]]; then
    if [[ ! -f $DIR/.slurm-local && -n $(ls -A "$DIR" 2> /dev/null) ]]; then
      err "$DIR exists and is not a slurm-local folder; refusing to wipe it"
      return 1
    fi
    rm -rf "$DIR"
  fi
  mkdir -p "$DIR"/{etc,munge,state,spool,log,run} || return 1
  touch "$DIR/.slurm-local"
  chmod 0755 "$DIR" "$DIR/munge" # munged: "execute permissions for all required" on the socket dir
}

cmd_up() {
  local st
  cmd_status > /dev/null 2>&1
  st=$?
  if [[ $st -eq 0 ]]; then
    say "already up ($DIR)"
    return 0
  fi
  if [[ $st -eq 1 ]]; then
    say "partly up: stopping the rest first"
    cmd_down > /dev/null
  fi
  install_packages || return $?
  local p
  for p in "$CTLD_PORT" "$SLURMD_PORT"; do
    if port_in_use "$p"; then
      err "port $p is already in use (another Slurm?); set SLURM_LOCAL_CTLD_PORT / SLURM_LOCAL_SLURMD_PORT"
      return 4
    fi
  done
  fresh_dir || return 1
  write_conf || return 1

  if [[ $AUTH == munge ]]; then
    dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none || return 1
    chmod 0600 "$DIR/munge/munge.key"
    if ! munged --key-file="$DIR/munge/munge.key" --socket="$SOCK" --pid-file="$DIR/run/munged.pid" \
      --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/munged.seed" \
      > "$DIR/log/munged.start" 2>&1; then
      err "munged failed to start: $(head -n 3 "$DIR/log/munged.start")"
      return 1
    fi
    wait_ready munged "$DIR/log/munged.log" 10 'Error:|fatal:' munge_ok || return 1
  fi

  if ! slurmctld -f "$CONF" > "$DIR/log/slurmctld.start" 2>&1; then
    err "slurmctld failed to start: $(head -n 3 "$DIR/log/slurmctld.start")"
    return 1
  fi
  wait_ready slurmctld "$DIR/log/slurmctld.log" 20 'fatal:' ctld_up || return 1

  if ! slurmd -f "$CONF" -N localhost > "$DIR/log/slurmd.start" 2>&1; then
    err "slurmd failed to start: $(head -n 3 "$DIR/log/slurmd.start")"
    return 1
  fi
  wait_ready slurmd "$DIR/log/slurmd.log" 20 'fatal:' node_ok || return 1

  if [[ $PROBE != 0 ]]; then
    # slurmctld starts no batch job in its first ~3 s; the probe pays that once and checks the
    # whole path (munge credential, slurmstepd, spool).
    local job
    job=$(sbatch --parsable -J slurm-local-probe -o "$DIR/log/probe-%j.out" --wrap 'echo probe-ok') ||
      { err "probe: sbatch failed"; return 1; }
    job=${job%%;*}
    (WAIT_TIMEOUT=60 && cmd_wait "$job" > /dev/null) || { err "probe job $job did not complete"; return 1; }
    grep -q probe-ok "$DIR/log/probe-$job.out" 2> /dev/null || { err "probe job $job wrote no output"; return 1; }
  fi
  say "up: $(scontrol -o show node localhost | grep -oE 'State=[^ ]+|CPUTot=[^ ]+|RealMemory=[^ ]+' | tr '\n' ' ')($DIR)"
}

# ---- down --------------------------------------------------------------------------------------
cmd_down() {
  local pid
  if [[ ! -f $CONF ]]; then
    say "nothing to stop ($DIR)"
    return 0
  fi
  if ctld_pid > /dev/null && ctld_up; then
    local ids
    ids=$(squeue -h -o %F 2> /dev/null | sort -u | tr '\n' ' ')
    if [[ -n ${ids// /} ]]; then
      say "cancelling jobs $ids"
      # shellcheck disable=SC2086
      scancel $ids 2> /dev/null
      local i
      for ((i = 0; i < 100; i++)); do
        [[ -z $(squeue -h -o %i 2> /dev/null) ]] && break
        sleep 0.1
      done
    fi
  fi
  pid=$(slurmd_pid) && stop_pid "$pid" slurmd
  pid=$(ctld_pid) && stop_pid "$pid" slurmctld

  # slurmstepd outlives slurmd (double-forked, re-parented to PID 1, ignores SIGTERM, wipes its
  # argv): find ours by their open descriptor to our slurmd.log.
  local fd stepds=()
  while read -r fd; do
    [[ -n $fd ]] || continue
    pid=${fd#/proc/}
    pid=${pid%%/*}
    [[ $(cat "/proc/$pid/comm" 2> /dev/null) == slurmstepd ]] && alive "$pid" && stepds+=("$pid")
  done < <(find /proc/[0-9]*/fd -lname "$DIR/log/slurmd.log" 2> /dev/null)
  if [[ ${#stepds[@]} -gt 0 ]]; then
    local uniq c
    uniq=$(printf '%s\n' "${stepds[@]}" | sort -u)
    for pid in $uniq; do
      say "stray slurmstepd $pid: stopping its job processes"
      for c in $(children_of "$pid"); do
        kill -TERM -- "-$c" 2> /dev/null
        kill -TERM "$c" 2> /dev/null
      done
    done
    sleep 0.5
    for pid in $uniq; do
      for c in $(children_of "$pid"); do
        kill -KILL -- "-$c" 2> /dev/null
        kill -KILL "$c" 2> /dev/null
      done
      kill -KILL "$pid" 2> /dev/null
    done
  fi

  pid=$(munged_pid) && stop_pid "$pid" munged
  # PID 1 here may reap exited daemons seconds late; wait (up to 5 s, killing nothing) until the
  # zombies of slurm daemons are gone, so that `ps` shows a clean machine after `down`.
  local i
  for ((i = 0; i < 50; i++)); do
    slurm_zombies || break
    sleep 0.1
  done
  say "down ($DIR kept for its logs)"
  return 0
}

# ---- status ------------------------------------------------------------------------------------
cmd_status() {
  if [[ ! -f $CONF ]]; then
    echo "down (no $CONF)"
    return 3
  fi
  local n=0 total=3 m c d
  if [[ $AUTH == munge ]]; then m=$(munged_pid) && ((n++)); else total=2; fi
  c=$(ctld_pid) && ((n++))
  d=$(slurmd_pid) && ((n++))
  [[ $AUTH == munge ]] && echo "munged:    ${m:-not running}"
  echo "slurmctld: ${c:-not running}"
  echo "slurmd:    ${d:-not running}"
  if [[ $n -eq 0 ]]; then
    echo "down"
    return 3
  fi
  local node=""
  if [[ -n $c ]] && ctld_up; then
    node=$(scontrol -o show node localhost 2> /dev/null | grep -oE 'State=[^ ]+')
    echo "controller: UP, node localhost ${node:-unknown}"
  else
    echo "controller: not answering"
  fi
  if [[ $n -eq $total && -n $node ]] && node_ok; then
    echo "up"
    return 0
  fi
  echo "partly up"
  return 1
}

# ---- wait --------------------------------------------------------------------------------------
cmd_wait() {
  local job=${1:-} out i n pending states bad
  [[ $job =~ ^[0-9]+$ ]] || { err "usage: slurm-local.sh wait JOBID"; return 2; }
  n=$((WAIT_TIMEOUT * 2))
  for ((i = 0; i < n; i++)); do
    out=$(scontrol -o show job "$job" 2>&1) || {
      err "scontrol show job $job: $out"
      return 1
    }
    states=$(grep -oE 'JobState=[A-Z_]+' <<< "$out" | sed 's/JobState=//')
    pending=$(grep -cvE '^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|PREEMPTED|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE)$' <<< "$states")
    if [[ -n $states && $pending -eq 0 ]]; then
      bad=0
      while read -r line; do
        local id task st ec
        id=$(grep -oE '\bArrayJobId=[0-9]+' <<< "$line" | cut -d= -f2)
        task=$(grep -oE '\bArrayTaskId=[^ ]+' <<< "$line" | cut -d= -f2)
        [[ -n $id ]] || id=$(grep -oE '^JobId=[0-9]+' <<< "$line" | cut -d= -f2)
        st=$(grep -oE '\bJobState=[A-Z_]+' <<< "$line" | cut -d= -f2)
        ec=$(grep -oE '\bExitCode=[0-9:]+' <<< "$line" | cut -d= -f2)
        echo "job $id${task:+_$task}: $st ExitCode=$ec"
        [[ $st == COMPLETED ]] || bad=1
      done <<< "$out"
      return $bad
    fi
    sleep 0.5
  done
  err "job $job still not finished after $WAIT_TIMEOUT s"
  return 1
}

# ---- selftest ----------------------------------------------------------------------------------
cmd_selftest() {
  local started=0 rc=0 t0 job i st
  t0=$(date +%s.%N)
  cmd_status > /dev/null 2>&1 || started=1
  cmd_up || return $?
  local work=$DIR/selftest
  rm -rf "$work" && mkdir -p "$work" && cd "$work" || return 1
  fail() { err "selftest: $*"; rc=1; }

  sinfo -h -o '%P %a %D %t' | grep -q '^debug\* up 1 idle' || fail "sinfo: $(sinfo -h 2>&1)"
  [[ -n $(srun -N1 -n1 hostname 2> "$work/srun.err") ]] || fail "srun hostname: $(cat "$work/srun.err")"

  cat > "$work/array.sh" << 'EOF'
#!/bin/bash
echo "task ${SLURM_ARRAY_TASK_ID} of ${SLURM_ARRAY_TASK_COUNT}"
EOF
  mkdir -p logs
  job=$(sbatch --parsable --array=0-7 -o 'logs/%A_%a.out' "$work/array.sh") || fail "sbatch array"
  if [[ -n $job ]]; then
    cmd_wait "$job" || fail "array job $job did not complete"
    for ((i = 0; i < 8; i++)); do
      grep -qx "task $i of 8" "logs/${job}_$i.out" 2> /dev/null ||
        fail "task $i: expected 'task $i of 8' in logs/${job}_$i.out, got '$(cat "logs/${job}_$i.out" 2>&1)'"
    done
  fi

  job=$(sbatch --parsable -o /dev/null --wrap 'exit 7') || fail "sbatch failing job"
  if [[ -n $job ]]; then
    st=$(cmd_wait "$job") && fail "wait returned 0 for a job that exited 7 ($st)"
    grep -q 'FAILED ExitCode=7:0' <<< "$st" || fail "failing job: expected FAILED ExitCode=7:0, got '$st'"
  fi

  cd / || true
  [[ $started -eq 1 ]] && cmd_down
  if [[ $rc -eq 0 ]]; then
    say "selftest passed in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
  else
    err "selftest FAILED (logs in $DIR/log)"
  fi
  return $rc
}

cmd=${1:-}
[[ $# -gt 0 ]] && shift
case $cmd in
  up) need_root up "$@"; cmd_up ;;
  down) need_root down "$@"; cmd_down ;;
  status) cmd_status ;;
  wait) cmd_wait "$@" ;;
  env) printf 'export SLURM_CONF=%q\n' "$CONF" ;;
  selftest) need_root selftest "$@"; cmd_selftest ;;
  *)
    err "usage: slurm-local.sh up|down|status|wait JOBID|env|selftest"
    exit 2
    ;;
esac
