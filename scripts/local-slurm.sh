#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for tests and for trying `losslab-cli plan --slurm`
# without a real cluster. Everything lives in STATE_DIR: the munge key, socket and log, the
# slurm.conf, the controller's state, slurmd's spool, pid files and logs; nothing under /etc,
# /run or /var is used, so it does not disturb (or see) a Slurm already on the machine.
#
#   scripts/local-slurm.sh start STATE_DIR   starts munged, slurmctld and slurmd, waits until
#                                            the node is idle, prints `export SLURM_CONF=...`
#   scripts/local-slurm.sh stop STATE_DIR    cancels the jobs left, stops exactly the daemons
#                                            `start` started (their pid files), keeps the logs
#   scripts/local-slurm.sh status STATE_DIR  exit 0 when the cluster answers, else 1
#
#   eval "$(scripts/local-slurm.sh start /tmp/slurm)" && sbatch --wrap hostname
#
# Needs root (the daemons run as root: SlurmUser=root) and Debian's slurmctld, slurmd,
# slurm-client and munge packages (scripts/install-deps.sh). The ports are two free ones above
# 20000, so several clusters (and a system Slurm on 6817/6818) can run side by side.
#
# Exit status: 0 done; 2 usage; 3 the cluster cannot start here (no packages, not root, a
# daemon refused to start: one line on stderr says why, from the daemon's log when it has one);
# 1 anything else.
set -uo pipefail

readonly CANNOT_START=3
me=local-slurm
die() { echo "$me: $*" >&2; exit 1; }
cannot() { echo "$me: cannot start a local Slurm here: $*" >&2; exit "$CANNOT_START"; }
# fail_start REASON: stops what this start began (munged, a daemon that did start), then cannot.
fail_start() { do_stop >/dev/null 2>&1; cannot "$@"; }
usage() { sed -n '5,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

(( $# == 2 )) || usage
action=$1
[[ -n $2 ]] || usage
case $action in
start) mkdir -p "$2" 2>/dev/null || die "cannot create $2" ;;
stop) [[ -d $2 ]] || exit 0 ;;   # nothing was started there
status) [[ -d $2 ]] || exit 1 ;;
esac
state=$(cd "$2" && pwd) || die "cannot enter $2"
conf=$state/slurm.conf
# Every daemon started here carries this variable; `stop` finds their leftovers (slurmstepd)
# by it, and checks a pid file's process by it before killing it.
marker="LOSSLAB_LOCAL_SLURM=$state"

# alive PID: the process exists and is not a zombie (an init that reaps slowly keeps those).
alive() {
  local stat
  kill -0 "$1" 2>/dev/null || return 1
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}
# has_marker PID: the process was started by this script for this STATE_DIR.
has_marker() {
  [[ -r /proc/$1/environ ]] && tr '\0' '\n' 2>/dev/null < "/proc/$1/environ" | grep -qxF "$marker"
}
# pid_of NAME: the live process of NAME's pid file, started by us; empty otherwise.
pid_of() {
  local f=$state/run/$1.pid pid
  [[ -s $f ]] || return 0
  pid=$(tr -dc '0-9' < "$f")
  [[ -n $pid ]] && alive "$pid" && has_marker "$pid" && echo "$pid"
}
# last_error LOG: the last error or fatal line of a daemon's log, without the timestamp.
last_error() {
  local line
  # fatal lines first; slurmd's complaints about the PMIx library (MPI, unused here) are noise.
  line=$(grep -aiE 'fatal' "$1" 2>/dev/null | tail -n 1)
  [[ -n $line ]] || line=$(grep -aiE 'error' "$1" 2>/dev/null | grep -avE 'pmix|MPI' | tail -n 1)
  line=${line#\[*\] }                       # slurm's [timestamp]
  line=${line#[0-9][0-9][0-9][0-9]-* +[0-9][0-9][0-9][0-9] }   # munged's timestamp
  echo "${line:-no error in $1}"
}
# descendants PID: the processes below PID, children before their own children.
descendants() {
  local f stat fields kids=() k
  for f in /proc/[0-9]*/stat; do
    stat=$(cat "$f" 2>/dev/null) || continue
    read -r -a fields <<<"${stat##*) }"   # state ppid ... (the name may hold spaces)
    [[ ${fields[1]:-} == "$1" ]] && { k=${f#/proc/}; kids+=("${k%/stat}"); }
  done
  for k in "${kids[@]}"; do echo "$k"; descendants "$k"; done
}
# stop_pid PID NAME [SECONDS]: SIGTERM, up to SECONDS (15), then SIGKILL.
stop_pid() {
  local pid=$1 i tenths=$(( ${3:-15} * 10 ))
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < tenths; i++)); do
    alive "$pid" || return 0
    sleep 0.1
  done
  echo "$me: $2 ($pid) ignored SIGTERM for ${3:-15} s, killing it" >&2
  kill -KILL "$pid" 2>/dev/null
}
# free_port FROM: the first port >= FROM that nothing listens on (IPv4 or IPv6).
listening_ports() {
  local sl local_addr rest st
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | while read -r sl local_addr rest st _; do
    [[ $st == 0A ]] && echo $((16#${local_addr##*:}))
  done | sort -un
}
free_port() {
  local port=$1 used
  used=$(listening_ports)
  while grep -qx "$port" <<<"$used"; do port=$((port + 1)); done
  echo "$port"
}

slurm_env() { export SLURM_CONF=$conf; }

cluster_answers() {
  slurm_env
  timeout 10 scontrol ping 2>/dev/null | grep -q 'UP'
}

do_stop() {
  slurm_env
  local pid name leftovers p
  # Jobs first, while the controller can still tell slurmd to end them.
  if [[ -n $(pid_of slurmctld) ]]; then
    local jobs
    jobs=$(timeout 10 squeue -h -o %A 2>/dev/null | sort -u)
    if [[ -n $jobs ]]; then
      # shellcheck disable=SC2086
      timeout 10 scancel $jobs 2>/dev/null
      for ((p = 0; p < 100; p++)); do
        [[ -z $(timeout 5 squeue -h -o %A 2>/dev/null) ]] && break
        sleep 0.2
      done
    fi
  fi
  for name in slurmd slurmctld; do
    pid=$(pid_of "$name")
    [[ -n $pid ]] && stop_pid "$pid" "$name"
  done
  # slurmstepd (and a job under it) may outlive slurmd: every process still carrying the marker.
  leftovers=()
  local munged_pid
  munged_pid=$(pid_of munged)
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [[ $p == "$$" || $p == "$munged_pid" ]] && continue
    has_marker "$p" && leftovers+=("$p")
  done
  for p in "${leftovers[@]}"; do
    local child
    for child in $(descendants "$p"); do kill -TERM "$child" 2>/dev/null; done   # a job's processes
    stop_pid "$p" "$(cat "/proc/$p/comm" 2>/dev/null || echo process)" 3
  done
  pid=$(pid_of munged)
  [[ -n $pid ]] && stop_pid "$pid" munged
  rm -f "$state"/run/*.pid "$state"/munge/munge.socket* 2>/dev/null
  return 0
}

do_start() {
  [[ $(id -u) -eq 0 ]] || cannot "needs root (the daemons run as SlurmUser=root); running as $(id -un)"
  local prog
  for prog in munged slurmctld slurmd sinfo sbatch scontrol squeue; do
    command -v "$prog" >/dev/null || PATH=$PATH:/usr/sbin:/sbin command -v "$prog" >/dev/null ||
      cannot "$prog is missing (scripts/install-deps.sh installs munge, slurmctld, slurmd and slurm-client)"
  done
  export PATH=$PATH:/usr/sbin:/sbin
  if [[ -n $(pid_of slurmctld) && -n $(pid_of slurmd) ]] && cluster_answers; then
    echo "$me: already running in $state" >&2
    echo "export SLURM_CONF=$conf"
    return 0
  fi
  do_stop >/dev/null 2>&1   # a half-started cluster from before

  mkdir -p "$state"/{munge,run,log,ctld,spool} || die "cannot create folders in $state"
  # munged wants its socket's folder searchable by all but writable by no one else, and a key
  # no one else can read.
  chmod 0755 "$state/munge" "$state/run" "$state/log"
  chmod 0700 "$state/ctld" "$state/spool"
  local key=$state/munge/munge.key
  if [[ ! -s $key ]]; then
    if ! mungekey --create --keyfile="$key" 2>/dev/null; then
      head -c 1024 /dev/urandom > "$key" || die "cannot write $key"
    fi
  fi
  chmod 0600 "$key"

  local sock=$state/munge/munge.socket
  env "$marker" munged --socket="$sock" --key-file="$key" --log-file="$state/log/munged.log" \
         --pid-file="$state/run/munged.pid" --seed-file="$state/munge/munged.seed" \
         >>"$state/log/munged.stderr" 2>&1 </dev/null ||
    cannot "munged: $(last_error "$state/log/munged.log")"
  local i
  for ((i = 0; i < 50; i++)); do
    munge -n -S "$sock" 2>/dev/null | unmunge -S "$sock" >/dev/null 2>&1 && break
    sleep 0.1
  done
  ((i < 50)) || fail_start "munged does not answer: $(last_error "$state/log/munged.log")"

  local node cpus mem_mb ctld_port slurmd_port
  node=$(hostname -s)
  cpus=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)   # GNU nproc follows OMP_NUM_THREADS
  # RealMemory a little under what the kernel reports (slurmd drains a node that has less).
  mem_mb=$(awk '/^MemTotal:/ { m = int($2 / 1024); print (m > 2048 ? m - 1024 : int(m * 0.9)) }' /proc/meminfo)
  # A base above 20000 that differs between folders, then the first free ports from there.
  ctld_port=$(free_port $((20000 + $(cksum <<<"$state" | cut -d' ' -f1) % 20000)))
  slurmd_port=$(free_port $((ctld_port + 1)))
  cat > "$conf" <<CONF
# Written by scripts/local-slurm.sh: a one-node cluster whose files are all under $state.
ClusterName=losslab-local
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/run/slurmctld.pid
SlurmdPidFile=$state/run/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$state/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# No accounting database (so no sacct): one line per finished job and array task (JobState,
# ExitCode) in this file instead. Plugins left at their defaults are left out, so that the file
# reads the same for Debian 12's Slurm 22.05 and Debian 13's 24.11.
JobCompType=jobcomp/filetxt
JobCompLoc=$state/log/jobcomp.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
MailProg=/bin/true
MinJobAge=600
KillWait=2
InactiveLimit=0
SlurmdTimeout=60
NodeName=$node NodeAddr=127.0.0.1 NodeHostname=$node CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=local Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
  : > "$state/plugstack.conf"
  slurm_env

  # A new state folder: -c (nothing to recover, no complaint about missing state files);
  # otherwise -i (recover what the last run saved, ignoring what cannot be read).
  local recover=-i
  [[ -z $(ls -A "$state/ctld") ]] && recover=-c
  env "$marker" slurmctld "$recover" -f "$conf" >>"$state/log/slurmctld.log" 2>&1 </dev/null ||
    fail_start "slurmctld: $(last_error "$state/log/slurmctld.log")"
  env "$marker" slurmd -f "$conf" -N "$node" >>"$state/log/slurmd.log" 2>&1 </dev/null ||
    fail_start "slurmd: $(last_error "$state/log/slurmd.log")"

  # Up when the node is idle (the first registration takes a few seconds).
  local states="" deadline=$((SECONDS + ${LOCAL_SLURM_START_TIMEOUT:-60}))
  while ((SECONDS < deadline)); do
    [[ -z $(pid_of slurmctld) ]] && fail_start "slurmctld exited: $(last_error "$state/log/slurmctld.log")"
    [[ -z $(pid_of slurmd) ]] && fail_start "slurmd exited: $(last_error "$state/log/slurmd.log")"
    states=$(timeout 10 sinfo -h -N -o '%T' 2>/dev/null)
    [[ $states == idle ]] && break
    sleep 0.5
  done
  if [[ $states != idle ]]; then
    local why
    why=$(timeout 10 sinfo -h -N -o '%T %E' 2>/dev/null)
    fail_start "the node is not idle after ${LOCAL_SLURM_START_TIMEOUT:-60} s (sinfo: ${why:-no answer}; slurmd: $(last_error "$state/log/slurmd.log"))"
  fi
  echo "$me: one node ($node, $cpus CPUs, ${mem_mb} MB) up; ports $ctld_port, $slurmd_port; logs in $state/log" >&2
  echo "export SLURM_CONF=$conf"
}

case "$action" in
start) do_start ;;
stop) do_stop ;;
status) cluster_answers ;;
*) usage ;;
esac
