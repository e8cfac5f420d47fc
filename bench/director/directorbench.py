#!/usr/bin/env python3
"""The client of bench/director/run (Python stdlib only: asyncio).

Targets are HOST:PORT. Plain IMAP on loopback (the director and the backend trust 127.0.0.0/8 as
director.trusted_networks, so logins need no TLS: the figures are the
director's relaying, not TLS). Each mode prints one JSON document.

  latency NAME=HOST:PORT,NAME=HOST:PORT[,...] USERS ROUNDS
      ROUNDS rounds, every target once in each, the order turning: connect,
      LOGIN, SELECT INBOX, FETCH 1:* (FLAGS ENVELOPE), 10 NOOPs, LOGOUT; the
      time of each command (sent to tagged answer), p50/p99 per command and
      target, and what each adds to the first.
  logins PORT USERS CONCURRENCY SECONDS
      closed loop of connect + LOGIN + LOGOUT: logins per second.
  idle PORT USERS N PIDS
      N sessions logged in, INBOX selected, in IDLE; the RSS (VmRSS) of each
      of PIDS (comma-separated; tree:PID sums a process and all under it)
      before and after, per session.
"""

import asyncio
import json
import os
import sys
import time

PASSWORD = "bench-secret"


def pct(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def tree_rss_kb(spec):
    """`PID`: that process's RSS; `tree:PID`: the sum over it and every
    process under it (Dovecot's master and its services)."""
    if not spec.startswith("tree:"):
        return rss_kb(int(spec))
    root = int(spec[5:])
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            total += rss_kb(pid)
        except OSError:
            pass
        todo.extend(children.get(pid, []))
    return total


class Imap:
    def __init__(self, reader, writer):
        self.r, self.w, self.n = reader, writer, 0

    @classmethod
    async def open(cls, target):
        host, port = target.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        client = cls(reader, writer)
        greeting = await reader.readline()
        if not greeting.startswith(b"* OK"):
            raise RuntimeError(f"greeting: {greeting!r}")
        return client

    async def cmd(self, text):
        self.n += 1
        tag = f"b{self.n}"
        started = time.perf_counter()
        self.w.write(f"{tag} {text}\r\n".encode())
        await self.w.drain()
        while True:
            line = await self.r.readline()
            if not line:
                raise RuntimeError(f"closed during {text}")
            if line.startswith(tag.encode() + b" "):
                if not line.startswith(tag.encode() + b" OK"):
                    raise RuntimeError(f"{text}: {line!r}")
                return time.perf_counter() - started

    async def idle(self):
        self.n += 1
        self.w.write(f"b{self.n} IDLE\r\n".encode())
        await self.w.drain()
        line = await self.r.readline()
        if not line.startswith(b"+"):
            raise RuntimeError(f"IDLE: {line!r}")

    def close(self):
        self.w.close()


async def one_round(port, user, times):
    started = time.perf_counter()
    c = await Imap.open(port)
    times["connect"].append(time.perf_counter() - started)
    times["LOGIN"].append(await c.cmd(f"LOGIN {user} {PASSWORD}"))
    times["SELECT"].append(await c.cmd("SELECT INBOX"))
    times["FETCH"].append(await c.cmd("FETCH 1:* (FLAGS ENVELOPE)"))
    for _ in range(10):
        times["NOOP"].append(await c.cmd("NOOP"))
    await c.cmd("LOGOUT")
    c.close()


async def latency(targets, users, rounds):
    """`targets`: NAME=HOST:PORT,... the first the baseline; each round
    runs every target once, the order turning from round to round."""
    targets = [t.split("=", 1) for t in targets.split(",")]
    users = users.split(",")
    kinds = ["connect", "LOGIN", "SELECT", "FETCH", "NOOP"]
    times = {name: {k: [] for k in kinds} for name, _ in targets}
    for n in range(rounds):
        user = users[n % len(users)]
        order = targets[n % len(targets):] + targets[:n % len(targets)]
        for name, port in order:
            await one_round(port, user, times[name])
    out = {"rounds": rounds}
    for name in times:
        out[name] = {
            k: {"p50_ms": pct(v, 50) * 1000, "p99_ms": pct(v, 99) * 1000, "n": len(v)}
            for k, v in times[name].items()
        }
    base = targets[0][0]
    out["added_ms"] = {
        name: {
            k: {p: out[name][k][p] - out[base][k][p] for p in ("p50_ms", "p99_ms")}
            for k in kinds
        }
        for name, _ in targets[1:]
    }
    print(json.dumps(out, indent=1))


async def logins(port, users, concurrency, seconds):
    users = users.split(",")
    deadline = time.perf_counter() + seconds
    done = [0]

    async def worker(i):
        n = i
        while time.perf_counter() < deadline:
            c = await Imap.open(port)
            await c.cmd(f"LOGIN {users[n % len(users)]} {PASSWORD}")
            await c.cmd("LOGOUT")
            c.close()
            done[0] += 1
            n += concurrency

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    print(json.dumps({"logins": done[0], "seconds": elapsed, "per_s": done[0] / elapsed,
                      "concurrency": concurrency}))


async def idle(port, users, n, pids):
    users = users.split(",")
    pids = pids.split(",")
    before = [tree_rss_kb(pid) for pid in pids]
    sessions = []
    sem = asyncio.Semaphore(64)

    async def one(i):
        async with sem:
            c = await Imap.open(port)
            await c.cmd(f"LOGIN {users[i % len(users)]} {PASSWORD}")
            await c.cmd("SELECT INBOX")
            await c.idle()
            sessions.append(c)

    await asyncio.gather(*(one(i) for i in range(n)))
    await asyncio.sleep(2)
    after = [tree_rss_kb(pid) for pid in pids]
    print(json.dumps({"sessions": len(sessions), "rss_before_kb": before, "rss_after_kb": after,
                      "kb_per_session": [(a - b) / max(1, len(sessions)) for a, b in zip(after, before)]}))
    for c in sessions:
        c.close()


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "latency":
        asyncio.run(latency(args[0], args[1], int(args[2])))
    elif mode == "logins":
        asyncio.run(logins(args[0], args[1], int(args[2]), float(args[3])))
    elif mode == "idle":
        asyncio.run(idle(args[0], args[1], int(args[2]), args[3]))
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
