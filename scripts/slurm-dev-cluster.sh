#!/usr/bin/env bash
# slurm-dev-cluster.sh — a real one-node Slurm cluster on this machine, for
# trying `runexp --executor slurm` and for CI's Slurm tests.
#
#   scripts/slurm-dev-cluster.sh         install if missing, configure, start, wait until idle
#   scripts/slurm-dev-cluster.sh stop    shut the daemons down
#
# Needs root (or sudo) and Debian/Ubuntu packages: slurmctld, slurmd, munge,
# slurm-client. Works without systemd (containers): the daemons are started
# directly. The configuration is the smallest one Slurm accepts for one node:
# ProctrackType=proctrack/linuxproc and TaskPlugin=task/none (no cgroups, so
# it runs inside a container), SelectType=select/cons_tres, accounting off
# (sacct then answers nothing and runexp falls back to squeue/scontrol).
# Idempotent: a second start with the daemons up only waits for the node.
#
# Environment:
#   SLURM_DEV_STATE   state and log folder (default /var/spool/runexp-slurm)
#   SLURM_DEV_WAIT    seconds to wait for the node to be idle (default 120)
#
# The last line of stdout is "slurm dev cluster: up in N s" (or "stopped").
set -euo pipefail

STATE="${SLURM_DEV_STATE:-/var/spool/runexp-slurm}"
WAIT="${SLURM_DEV_WAIT:-120}"
CONF_DIR=/etc/slurm
CONF="$CONF_DIR/slurm.conf"
start=$(date +%s)

as_root=""
if [ "$(id -u)" -ne 0 ]; then as_root="sudo"; fi

stop() {
  if command -v scontrol >/dev/null && [ -f "$CONF" ]; then
    $as_root scontrol shutdown >/dev/null 2>&1 || true
  fi
  for pidfile in "$STATE/slurmctld.pid" "$STATE/slurmd.pid"; do
    if [ -f "$pidfile" ]; then
      pid=$(cat "$pidfile")
      for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
      done
      $as_root kill "$pid" 2>/dev/null || true
      $as_root rm -f "$pidfile"
    fi
  done
  echo "slurm dev cluster: stopped"
}

if [ "${1:-start}" = "stop" ]; then
  stop
  exit 0
fi

# Install what is missing.
missing=()
command -v slurmctld >/dev/null || missing+=(slurmctld)
command -v slurmd >/dev/null || missing+=(slurmd)
command -v munged >/dev/null || missing+=(munge)
command -v sbatch >/dev/null || missing+=(slurm-client)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  $as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi
echo "packages ready after $(( $(date +%s) - start )) s"

# Munge: one key, one daemon running as the munge user.
if [ ! -s /etc/munge/munge.key ]; then
  $as_root mkdir -p /etc/munge
  $as_root dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  $as_root chown munge:munge /etc/munge/munge.key
  $as_root chmod 400 /etc/munge/munge.key
fi
$as_root mkdir -p /run/munge /var/log/munge /var/lib/munge
$as_root chown munge:munge /run/munge /var/log/munge /var/lib/munge
if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
  $as_root runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 1 50); do
    munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && break
    sleep 0.1
  done
fi

# slurm.conf for this one node, from what slurmd sees of the machine. The
# daemons talk over 127.0.0.1, so the host name need not resolve (containers).
host=$(hostname -s)
cpus=$(nproc)
mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
$as_root mkdir -p "$CONF_DIR" "$STATE/ctld" "$STATE/d"
conf=$(cat <<EOF
# Written by runexp scripts/slurm-dev-cluster.sh: one node, no accounting, no cgroups.
ClusterName=runexp-dev
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=10
Waittime=0
MaxArraySize=10001
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
EOF
)
if [ ! -f "$CONF" ] || [ "$(cat "$CONF")" != "$conf" ]; then
  echo "$conf" | $as_root tee "$CONF" >/dev/null
  changed=1
else
  changed=0
fi

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
if [ "$changed" = 1 ] && running "$STATE/slurmctld.pid"; then
  $as_root scontrol reconfigure || true
fi
running "$STATE/slurmctld.pid" || $as_root slurmctld
running "$STATE/slurmd.pid" || $as_root slurmd

# Wait for the node to accept work.
deadline=$(( $(date +%s) + WAIT ))
while :; do
  node_state=$(sinfo -h -N -o '%T' 2>/dev/null | head -n 1 || true)
  case "$node_state" in
    idle|mixed|allocated) break ;;
    down*|drain*|unknown*|"") ;;
  esac
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "slurm dev cluster: node not idle after ${WAIT}s (state: '$node_state'); logs in $STATE" >&2
    tail -n 20 "$STATE/slurmctld.log" "$STATE/slurmd.log" >&2 || true
    exit 1
  fi
  case "$node_state" in
    down*|drain*) $as_root scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true ;;
  esac
  sleep 0.5
done
sinfo
echo "slurm dev cluster: up in $(( $(date +%s) - start )) s"
