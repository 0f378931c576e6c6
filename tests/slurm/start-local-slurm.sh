#!/usr/bin/env bash
# Brings up a single-node Slurm cluster on this machine (munge + slurmctld + slurmd on localhost), for the sweep tests.
# Installs Debian's slurm daemons and munge with apt-get when missing (needs root). Idempotent: when the local node
# already answers `sinfo` as idle, it only prints the node line. Cgroup-free configuration, so it runs in containers.
# Exit codes: 0 ready; 3 not root; 4 packages missing and apt unreachable; 1 anything else.
set -euo pipefail
log() { echo "start-local-slurm: $*" >&2; }

node_state() { timeout 10 sinfo -h -N -o '%t' 2>/dev/null | head -n1 || true; }

if command -v sinfo >/dev/null 2>&1 && [[ "$(node_state)" == idle* ]]; then
  log "already up"; sinfo -N; exit 0
fi
if [[ "$(id -u)" != 0 ]]; then log "needs root (to install and start the daemons)"; exit 3; fi

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
  log "installing slurmctld, slurmd, slurm-client and munge with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q --no-install-recommends slurmctld slurmd slurm-client munge >/tmp/start-local-slurm-apt.log 2>&1; then
    if ! apt-get update -q >>/tmp/start-local-slurm-apt.log 2>&1; then log "apt unreachable (see /tmp/start-local-slurm-apt.log)"; exit 4; fi
    apt-get install -y -q --no-install-recommends slurmctld slurmd slurm-client munge >>/tmp/start-local-slurm-apt.log 2>&1 \
      || { log "apt-get install failed (see /tmp/start-local-slurm-apt.log)"; exit 4; }
  fi
fi

# munge: a key, then the daemon (as the munge user, as the package intends).
mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
if [[ ! -s /etc/munge/munge.key ]]; then
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
fi
chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge /run/munge
chmod 0700 /etc/munge; chmod 0400 /etc/munge/munge.key; chmod 0755 /run/munge
if ! munge -n >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 50); do munge -n >/dev/null 2>&1 && break; sleep 0.1; done
  munge -n >/dev/null || { log "munged did not start"; exit 1; }
fi

host="$(hostname -s)"
cpus="$(nproc)"
mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cat > /etc/slurm/slurm.conf <<CONF
# Written by tests/slurm/start-local-slurm.sh: one node, localhost, no cgroups, no accounting.
ClusterName=archlab
SlurmctldHost=${host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=5
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${mem_mb} State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF

pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd
for _ in $(seq 120); do
  state="$(node_state)"
  if [[ "$state" == idle* ]]; then log "node ${host} idle"; sinfo -N; exit 0; fi
  if [[ "$state" == down* || "$state" == drain* ]]; then scontrol update nodename="${host}" state=resume >/dev/null 2>&1 || true; fi
  sleep 1
done
log "the node did not become idle (state '${state:-none}'); logs in /var/log/slurm/"
tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
exit 1
