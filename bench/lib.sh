# bench/lib.sh: helpers for the bench scripts that source it (set BENCH to
# the bench's name first, for the log prefix).
# shellcheck shell=bash

log() { printf '[%s] %s\n' "${BENCH:-bench}" "$*" >&2; }
die() { printf '[%s] FAILED: %s\n' "${BENCH:-bench}" "$*" >&2; exit 1; }

# free_port: a loopback port nobody listens on, not handed out before, and
# below the range the kernel takes source ports from: the outgoing
# connections of a server started first (its database pool) would otherwise
# take the port of a listener started after it.
declare -A bench_taken_ports=()
free_port() {
    local port low=32768 high
    read -r low high </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
    ((low > 11000)) || low=32768
    while :; do
        port=$((10000 + RANDOM % (low - 10000)))
        [[ -z ${bench_taken_ports[$port]:-} ]] || continue
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            bench_taken_ports[$port]=1
            echo "$port"
            return
        fi
    done
}

# wait_for_port PORT PID: until something listens on PORT (false if PID
# ends first or after 30 s).
wait_for_port() {
    local port=$1 pid=$2 deadline=$((SECONDS + 30))
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        kill -0 "$pid" 2>/dev/null || return 1
        ((SECONDS < deadline)) || return 1
        sleep 0.05
    done
}

# tree_ticks PID...: CPU clock ticks (user + system, children reaped
# included) of the processes PID and all their descendants.
tree_ticks() {
    # (A process may end between the glob and its read: cat then fails, which
    # pipefail must not take for the script's failure.)
    { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v roots="$*" '
        {
            pid = $1
            rest = substr($0, index($0, ") ") + 2)
            split(rest, f, " ")
            # f[2] is field 4 (ppid), f[12..15] fields 14-17.
            parent[pid] = f[2]
            ticks[pid] = f[12] + f[13] + f[14] + f[15]
        }
        END {
            n = split(roots, r, " ")
            for (i = 1; i <= n; i++) inside[r[i]] = 1
            for (pid in parent) {
                p = pid
                for (depth = 0; depth < 64 && p > 1 && !(p in inside); depth++) p = parent[p]
                if (p in inside) total += ticks[pid]
            }
            print total + 0
        }'
}
ticks_per_s=$(getconf CLK_TCK)

# j FILE EXPR: a value out of a JSON result, EXPR in Python over `d`.
j() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); v = eval(sys.argv[2]); print("-" if v is None else v)' "$1" "$2"; }

# build_havre: sets `havre` (a release binary, or $HAVRE_BIN) and `commit`
# (what it was built from, read before the build: other work may commit
# meanwhile).
build_havre() {
    local repo
    repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
    if [[ -n $(git -C "$repo" status --porcelain --untracked-files=no -- crates Cargo.toml Cargo.lock 2>/dev/null) ]]; then
        commit="$commit (with uncommitted changes to tracked files under crates/ or Cargo.*)"
    fi
    if [[ -n ${HAVRE_BIN:-} ]]; then
        havre=$HAVRE_BIN
        commit="unknown: binary $HAVRE_BIN given by HAVRE_BIN; the tree is at $commit"
    else
        export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
        log "building havre (release) into $CARGO_TARGET_DIR"
        (cd "$repo" && cargo build --release -p havre --quiet)
        havre=$CARGO_TARGET_DIR/release/havre
        commit="$commit, release build"
    fi
    [[ -x $havre ]] || die "no havre binary at $havre"
}
