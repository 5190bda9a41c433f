#!/usr/bin/env bash
# Partition test on 5 network-namespace hosts (scripts/netns-cluster.sh):
# 1. partition the leader away from the majority;
# 2. the majority elects a leader and keeps committing;
# 3. the old leader acknowledges nothing;
# 4. heal: every replica converges to identical state.
# Exits 77 (skipped) when not root. Removes everything it made, even on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
[[ $(id -u) -eq 0 ]] || { echo "SKIP: partition test needs root for network namespaces"; exit 77; }
command -v iptables >/dev/null || { echo "SKIP: iptables missing"; exit 77; }
CTL=${CTL:-build/chatctl}
NS=scripts/netns-cluster.sh
trap '$NS down >/dev/null 2>&1' EXIT
fail() { echo "FAIL: $*"; $NS status; tail -n 20 run/netns/h*.log 2>/dev/null; exit 1; }

field() { curl -s --max-time 1 "http://10.77.0.$1:7001/status" | python3 -c "import sys,json; print(json.load(sys.stdin).get('$2') or '')" 2>/dev/null; }
leader_host() {
  for k in 1 2 3 4 5; do
    [[ "$(field "$k" role)" == leader ]] && { echo "$k"; return; }
  done
}
call() { local k=$1; shift; $CTL call --node "10.77.0.$k:7001" "$@"; }

$NS up 5 || fail "cluster did not start"
for _ in $(seq 1 100); do L=$(leader_host); [[ -n "$L" ]] && break; sleep 0.1; done
[[ -n "${L:-}" ]] || fail "no leader"
echo "leader is h$L"
M=$(( L % 5 + 1 ))   # a majority-side host
call "$M" '{"op":"create_account","user":"alice","password":"pw"}' >/dev/null || fail "create_account"

$NS partition "$L"
# 2. the majority elects a new leader and commits.
NEW=""
for _ in $(seq 1 100); do
  for k in 1 2 3 4 5; do
    [[ $k == "$L" ]] && continue
    if [[ "$(field "$k" role)" == leader ]]; then NEW=$k; break 2; fi
  done
  sleep 0.1
done
[[ -n "$NEW" ]] || fail "majority side elected no leader"
echo "majority elected h$NEW"
out=$(call "$M" '{"op":"login","user":"alice","password":"pw"}' '{"op":"send","to":"alice","body":"majority write","nonce":"maj-1"}') || fail "majority write failed: $out"
echo "majority committed: $(echo "$out" | tail -1)"

# 3. the old leader acknowledges nothing.
out=$(call "$L" '{"op":"send","to":"alice","body":"minority write","nonce":"min-1"}' 2>&1)
echo "$out" | grep -q '"ok":true' && fail "old leader acknowledged a write: $out"
out=$(call "$L" '{"op":"create_account","user":"mallory","password":"pw"}' 2>&1)
echo "$out" | grep -q '"ok":true' && fail "old leader acknowledged create_account: $out"
echo "old leader refused: $(echo "$out" | tail -1)"
[[ "$(field "$L" role)" != leader ]] || fail "old leader still claims leadership after check-quorum"

# 4. heal and converge.
$NS heal
ok=0
for _ in $(seq 1 150); do
  a=$(for k in 1 2 3 4 5; do field "$k" applied_index; done | sort -u | wc -l)
  if [[ $a == 1 ]]; then ok=1; break; fi
  sleep 0.2
done
[[ $ok == 1 ]] || fail "replicas did not converge"
d=$(for k in 1 2 3 4 5; do call "$k" '{"op":"admin.digest","admin_token":"netns-admin","consistency":"local"}' | python3 -c 'import sys,json; print(json.load(sys.stdin)["digest"])'; done | sort -u | wc -l)
[[ $d == 1 ]] || fail "replicas differ after heal"
out=$(call "$NEW" '{"op":"list_accounts","pattern":"mallory"}' 2>&1)
call "$M" '{"op":"login","user":"alice","password":"pw"}' '{"op":"list_accounts","pattern":"mallory"}' | tail -1 | grep -q '"accounts":\[\]' || fail "a write refused by the old leader appeared"
echo "partition test: 1 passed, 0 failed"
