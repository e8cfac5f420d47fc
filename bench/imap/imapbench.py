#!/usr/bin/env python3
"""The load generator of bench/imap/run: stdlib only (asyncio + ssl).

Subcommands (all talk to 127.0.0.1 and print one JSON object on stdout):

  fill  LMTP_PORT COUNT RCPT...     COUNT messages over LMTP in one session,
                                    each to every RCPT (one transaction each)
  idle  PORT HAVRE_PID USERS N BATCH SETTLE LMTP_PORT STAGE
                                    N connections over implicit TLS, logged in,
                                    INBOX selected, in IDLE (STAGE idle), or
                                    only greeted (tls, plain); havre's RSS
                                    before and after
  logins PORT HAVRE_PID USERS N CONCURRENCY
                                    N sessions that log in and out
  mix   PORT USERS CLIENTS SECONDS MESSAGES HAVRE_PID
                                    closed-loop mixed workload; per-kind counts
                                    and latencies

Every IMAP exchange checks for a tagged OK: anything else is counted as an
error (and the first few are printed on stderr), never silently ignored.
"""

import asyncio
import json
import os
import random
import re
import resource
import smtplib
import ssl
import sys
import time

HOST = "127.0.0.1"
PASSWORD = "bench-secret"
LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")


def log(*args):
    print("[imap]", *args, file=sys.stderr, flush=True)


def small_ssl_buffers():
    # asyncio's SSL transport gives every connection a 256 KB read buffer
    # (Python 3.11+): 2.5 GB for 10,000 connections. 32 KB is plenty here.
    try:
        import asyncio.sslproto as sslproto
        if getattr(sslproto.SSLProtocol, "max_size", 0) > 32 * 1024:
            sslproto.SSLProtocol.max_size = 32 * 1024
    except ImportError:
        pass


def tls_context():
    # The node's certificate is self-signed: encrypt, do not verify.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def proc_facts(pid):
    """RSS (KB), threads, open fds and CPU seconds (user+system) of a process."""
    facts = {"rss_kb": rss_kb(pid)}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                facts["threads"] = int(line.split()[1])
    facts["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    hz = os.sysconf("SC_CLK_TCK")
    facts["cpu_s"] = (int(fields[11]) + int(fields[12])) / hz
    return facts


def message(i, size):
    """A plausible message of about `size` bytes; Subject "message i"."""
    head = (
        f"From: Sender {i % 37} <sender{i % 37}@remote.test>\r\n"
        f"To: someone@example.test\r\n"
        f"Subject: message {i}\r\n"
        f"Date: Mon, 23 Nov 2026 10:{i % 60:02d}:00 +0000\r\n"
        f"Message-ID: <m{i}@remote.test>\r\n"
        f"MIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    )
    line = f"line of message {i}, lorem ipsum dolor sit amet consectetur.\r\n"
    body = line * max(1, (size - len(head)) // len(line))
    return head + body


# ---------------------------------------------------------------------------
# fill
# ---------------------------------------------------------------------------
def lmtp_send(lmtp, rcpts, msg):
    """One LMTP transaction to several recipients. smtplib's sendmail reads one
    reply after DATA; LMTP sends one per recipient (RFC 2033 4.2)."""
    code, resp = lmtp.mail("list@remote.test")
    if code != 250:
        raise SystemExit(f"LMTP MAIL: {code} {resp!r}")
    for r in rcpts:
        code, resp = lmtp.rcpt(r)
        if code != 250:
            raise SystemExit(f"LMTP RCPT {r}: {code} {resp!r}")
    code, resp = lmtp.data(msg)
    replies = [(code, resp)] + [lmtp.getreply() for _ in rcpts[1:]]
    bad = [r for r in replies if r[0] != 250]
    if bad:
        raise SystemExit(f"LMTP DATA: {bad[:3]}")


def fill(port, count, rcpts):
    t0 = time.monotonic()
    lmtp = smtplib.LMTP(HOST, port, timeout=120)
    lmtp.ehlo("filler.test")
    rng = random.Random(1)
    for i in range(count):
        # Sizes 1-8 KB: typical text mail, deterministic.
        lmtp_send(lmtp, rcpts, message(i, rng.randint(1024, 8192)))
    lmtp.quit()
    print(json.dumps({"messages": count, "recipients": len(rcpts), "seconds": time.monotonic() - t0}))


# ---------------------------------------------------------------------------
# A minimal IMAP client
# ---------------------------------------------------------------------------
class ImapError(Exception):
    pass


class Imap:
    def __init__(self, reader, writer):
        self.r = reader
        self.w = writer
        self.n = 0

    @classmethod
    async def open(cls, port, ctx):
        reader, writer = await asyncio.open_connection(HOST, port, ssl=ctx, limit=1 << 20)
        c = cls(reader, writer)
        greeting = await reader.readline()
        if not greeting.startswith(b"* OK"):
            raise ImapError(f"greeting: {greeting!r}")
        return c

    async def read_response(self):
        """One response line with its literals (as one bytes object)."""
        line = await self.r.readline()
        if not line:
            raise ImapError("connection closed")
        parts = [line]
        while (m := LITERAL.search(line)) is not None:
            parts.append(await self.r.readexactly(int(m.group(1))))
            line = await self.r.readline()
            parts.append(line)
        return b"".join(parts)

    async def cmd(self, text, literal=None):
        """Sends a command, returns (untagged bytes, tagged line). Raises on NO/BAD."""
        self.n += 1
        tag = f"a{self.n}".encode()
        if literal is None:
            self.w.write(tag + b" " + text.encode() + b"\r\n")
        else:
            # A synchronizing literal: wait for "+" like any RFC 3501 client.
            self.w.write(tag + b" " + text.encode() + f" {{{len(literal)}}}\r\n".encode())
            await self.w.drain()
            while True:
                resp = await self.read_response()
                if resp.startswith(b"+"):
                    break
                if resp.startswith(tag + b" "):
                    raise ImapError(f"{text}: {resp.decode(errors='replace').strip()}")
            self.w.write(literal + b"\r\n")
        await self.w.drain()
        untagged = []
        while True:
            resp = await self.read_response()
            if resp.startswith(tag + b" "):
                if resp[len(tag) + 1:].startswith(b"OK"):
                    return b"".join(untagged), resp
                raise ImapError(f"{text.split(' {')[0][:60]}: {resp.decode(errors='replace').strip()[:200]}")
            untagged.append(resp)

    async def idle(self):
        self.n += 1
        self.idle_tag = f"a{self.n}".encode()
        self.w.write(self.idle_tag + b" IDLE\r\n")
        await self.w.drain()
        while True:
            resp = await self.read_response()
            if resp.startswith(b"+"):
                return
            if resp.startswith(self.idle_tag):
                raise ImapError(f"IDLE: {resp!r}")

    async def done(self):
        self.w.write(b"DONE\r\n")
        await self.w.drain()
        while True:
            resp = await self.read_response()
            if resp.startswith(self.idle_tag + b" "):
                if b" OK" in resp:
                    return
                raise ImapError(f"DONE: {resp!r}")

    def close(self):
        self.w.close()


def pct(values, p):
    if not values:
        return None
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * len(values) + 0.5) - 1))
    return values[k]


# ---------------------------------------------------------------------------
# idle
# ---------------------------------------------------------------------------
async def idle_main(port, pid, users, n, batch, settle, lmtp_port, stage):
    """stage: "idle" = TLS, LOGIN, SELECT INBOX, IDLE (the case measured);
    "tls" = TLS handshake and greeting only; "plain" = greeting only, no TLS
    (port is then the STARTTLS port). The last two split the figure up."""
    ctx = tls_context()
    conns = []
    errors = []
    sem = asyncio.Semaphore(batch)
    setup_ms = []

    async def one(i):
        user = users[i % len(users)]
        async with sem:
            t0 = time.monotonic()
            for attempt in range(3):
                try:
                    if stage == "plain":
                        c = await Imap.open(port, None)
                    else:
                        c = await Imap.open(port, ctx)
                    if stage == "idle":
                        await c.cmd(f'LOGIN "{user}" "{PASSWORD}"')
                        await c.cmd("SELECT INBOX")
                        await c.idle()
                    conns.append(c)
                    setup_ms.append((time.monotonic() - t0) * 1000)
                    return
                except (OSError, ImapError, asyncio.IncompleteReadError) as e:
                    if len(errors) < 1000:
                        errors.append(f"connection {i} attempt {attempt + 1}: {type(e).__name__}: {e}")
                    await asyncio.sleep(0.5)

    # Warm-up: sessions opened (batch at a time, as below) and closed before
    # the "before" figure, so that what all sessions share (worker and
    # blocking-pool threads with their allocator arenas, the SQLite readers,
    # the TLS config) exists already and is not charged to the N.
    async def warm(i):
        async with sem:
            c = await Imap.open(port, None if stage == "plain" else ctx)
            if stage == "idle":
                await c.cmd(f'LOGIN "{users[i % len(users)]}" "{PASSWORD}"')
                await c.cmd("SELECT INBOX")
            await c.cmd("LOGOUT")
            c.close()
    await asyncio.gather(*(warm(i) for i in range(2 * batch)))
    await asyncio.sleep(settle)
    before = proc_facts(pid)
    log(f"{stage}: havre before: {before}")

    t0 = time.monotonic()
    tasks = [asyncio.ensure_future(one(i)) for i in range(n)]
    last = 0
    while not all(t.done() for t in tasks):
        await asyncio.sleep(1)
        if len(conns) - last >= 2000:
            last = len(conns)
            log(f"{stage}: {len(conns)}/{n} open after {time.monotonic() - t0:.0f}s, havre RSS {rss_kb(pid)} KB")
    open_s = time.monotonic() - t0
    await asyncio.sleep(settle)
    after = proc_facts(pid)
    log(f"{stage}: havre after {len(conns)} open: {after}")

    # Are they really alive? One new message to every user: each of its
    # idling sessions must push "* n EXISTS" (in-process notification).
    wake = None
    after_wake = None
    if stage == "idle" and lmtp_port and conns:
        for c in conns:
            c.exists_seen = asyncio.ensure_future(c.r.readline())
        t1 = time.monotonic()
        lmtp = smtplib.LMTP(HOST, lmtp_port, timeout=120)
        lmtp.ehlo("waker.test")
        lmtp_send(lmtp, users, message(999999, 1500))
        lmtp.quit()
        t_delivered = time.monotonic() - t1
        woken_at = []

        async def wait_one(c):
            try:
                line = await asyncio.wait_for(c.exists_seen, 60)
                if b"EXISTS" in line:
                    woken_at.append(time.monotonic() - t1)
            except (asyncio.TimeoutError, OSError):
                pass

        await asyncio.gather(*(wait_one(c) for c in conns))
        wake = {
            "sessions": len(conns),
            "woken": len(woken_at),
            "lmtp_s": round(t_delivered, 3),
            "p50_s": round(pct(woken_at, 50), 3) if woken_at else None,
            "last_s": round(max(woken_at), 3) if woken_at else None,
        }
        log(f"wake-up: {wake}")
        await asyncio.sleep(settle)
        after_wake = proc_facts(pid)

    # Leave: DONE on a sample (must answer OK), then close everything.
    done_errors = 0
    if stage == "idle":
        for c in conns[:100]:
            try:
                await asyncio.wait_for(c.done(), 10)
            except Exception:
                done_errors += 1
    for c in conns:
        c.close()
    await asyncio.sleep(settle + 2)
    closed = proc_facts(pid)
    log(f"{stage}: havre after closing: {closed}")
    me = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({
        "stage": stage,
        "target": n,
        "reached": len(conns),
        "errors": len(errors),
        "first_errors": errors[:5],
        "open_s": round(open_s, 1),
        "setup_ms_p50": round(pct(setup_ms, 50), 1) if setup_ms else None,
        "setup_ms_p99": round(pct(setup_ms, 99), 1) if setup_ms else None,
        "before": before,
        "after": after,
        "after_wake": after_wake,
        "closed": closed,
        "kb_per_conn": round((after["rss_kb"] - before["rss_kb"]) / max(1, len(conns)), 1),
        "wake": wake,
        "done_errors": done_errors,
        "client_cpu_s": round(me.ru_utime + me.ru_stime, 1),
        "client_maxrss_kb": me.ru_maxrss,
    }))


# ---------------------------------------------------------------------------
# logins
# ---------------------------------------------------------------------------
async def logins_main(port, pid, users, n, concurrency):
    """N sessions that only log in and out, `concurrency` at a time."""
    ctx = tls_context()
    sem = asyncio.Semaphore(concurrency)
    ms = []
    errors = []

    async def one(i):
        async with sem:
            t0 = time.monotonic()
            try:
                c = await Imap.open(port, ctx)
                await c.cmd(f'LOGIN "{users[i % len(users)]}" "{PASSWORD}"')
                ms.append((time.monotonic() - t0) * 1000)
                await c.cmd("LOGOUT")
                c.close()
            except (OSError, ImapError, asyncio.IncompleteReadError) as e:
                errors.append(f"{type(e).__name__}: {e}")

    before = proc_facts(pid)
    t0 = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(n)))
    wall = time.monotonic() - t0
    await asyncio.sleep(2)
    after = proc_facts(pid)
    print(json.dumps({
        "logins": len(ms), "concurrency": concurrency, "errors": len(errors), "first_errors": errors[:3],
        "wall_s": round(wall, 1), "per_s": round(len(ms) / wall, 1),
        "p50_ms": round(pct(ms, 50), 1) if ms else None, "p99_ms": round(pct(ms, 99), 1) if ms else None,
        "havre_cpu_ms_per_login": round((after["cpu_s"] - before["cpu_s"]) * 1000 / max(1, n), 1),
        "before": before, "after": after,
    }))


# ---------------------------------------------------------------------------
# mix
# ---------------------------------------------------------------------------
# Kind -> weight (percent of operations).
MIX = [
    ("select", 10),          # SELECT INBOX again (a client switching back)
    ("fetch_headers", 25),   # UID FETCH window of 50: UID FLAGS + 3 header fields
    ("fetch_body", 25),      # UID FETCH u BODY.PEEK[] of a random message
    ("store", 15),           # UID STORE u +FLAGS / -FLAGS (\Flagged)
    ("search", 15),          # UID SEARCH SUBJECT "message n" or UNSEEN (alternating)
    ("append", 10),          # APPEND of a 1.5 KB message into Drafts
]


async def mix_main(port, users, clients, seconds, messages, pid):
    ctx = tls_context()
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    lat = {k: [] for k in kinds}
    lat["search_subject"] = []
    lat["search_unseen"] = []
    errs = {k: 0 for k in kinds}
    first_errors = []
    stop = time.monotonic() + 10**9
    ready = asyncio.Event()
    opened = []

    async def client(i):
        nonlocal stop
        rng = random.Random(i)
        user = users[i % len(users)]
        c = await Imap.open(port, ctx)
        await c.cmd(f'LOGIN "{user}" "{PASSWORD}"')
        try:
            await c.cmd("CREATE Drafts")
        except ImapError:
            pass  # exists already (special-use folders are made at first login)
        await c.cmd("SELECT INBOX")
        opened.append(c)
        await ready.wait()
        draft = 0
        while time.monotonic() < stop:
            kind = rng.choices(kinds, weights)[0]
            if kind == "select":
                text, lit = "SELECT INBOX", None
            elif kind == "fetch_headers":
                lo = rng.randint(1, max(1, messages - 49))
                text, lit = f"UID FETCH {lo}:{lo + 49} (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT FROM DATE)])", None
            elif kind == "fetch_body":
                text, lit = f"UID FETCH {rng.randint(1, messages)} BODY.PEEK[]", None
            elif kind == "store":
                sign = rng.choice("+-")
                text, lit = f"UID STORE {rng.randint(1, messages)} {sign}FLAGS (\\Flagged)", None
            elif kind == "search":
                if rng.random() < 0.5:
                    text, lit, sub = f'UID SEARCH SUBJECT "message {rng.randint(0, messages - 1)}"', None, "search_subject"
                else:
                    text, lit, sub = "UID SEARCH UNSEEN", None, "search_unseen"
            else:
                draft += 1
                lit = message(10**6 + i * 10**5 + draft, 1500).encode()
                text = "APPEND Drafts (\\Draft)"
            t0 = time.monotonic()
            try:
                untagged, _ = await c.cmd(text, lit)
                if kind == "fetch_body" and b"BODY[]" not in untagged:
                    raise ImapError(f"{text}: no BODY[] in the answer")
                if kind == "fetch_headers" and untagged.count(b"FETCH (") < 50:
                    raise ImapError(f"{text}: {untagged.count(b'FETCH (')} FETCH responses, expected 50")
            except (ImapError, OSError, asyncio.IncompleteReadError) as e:
                errs[kind] += 1
                if len(first_errors) < 5:
                    first_errors.append(str(e))
                if isinstance(e, (OSError, asyncio.IncompleteReadError)) or "closed" in str(e):
                    return
                continue
            dt = (time.monotonic() - t0) * 1000
            if time.monotonic() <= stop:
                lat[kind].append(dt)
                if kind == "search":
                    lat[sub].append(dt)
        try:
            await c.cmd("LOGOUT")
        except Exception:
            pass
        c.close()

    tasks = [asyncio.ensure_future(client(i)) for i in range(clients)]
    while len(opened) < clients:
        await asyncio.sleep(0.1)
        failed = [t for t in tasks if t.done() and t.exception()]
        if failed:
            raise failed[0].exception()
    cpu0 = proc_facts(pid)["cpu_s"]
    me0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    stop = t0 + seconds
    ready.set()
    await asyncio.gather(*tasks)
    wall = time.monotonic() - t0
    elapsed = seconds  # latencies recorded only before `stop`
    cpu1 = proc_facts(pid)["cpu_s"]
    me1 = resource.getrusage(resource.RUSAGE_SELF)
    out = {"clients": clients, "users": len(users), "seconds": seconds, "wall_s": round(wall, 1), "kinds": {}}
    total = 0
    for k in kinds + ["search_subject", "search_unseen"]:
        v = lat[k]
        if k in kinds:
            total += len(v)
        out["kinds"][k] = {
            "ops": len(v),
            "per_s": round(len(v) / elapsed, 1),
            "p50_ms": round(pct(v, 50), 1) if v else None,
            "p99_ms": round(pct(v, 99), 1) if v else None,
            "errors": errs.get(k, 0),
        }
    out["total_ops"] = total
    out["total_per_s"] = round(total / elapsed, 1)
    out["errors"] = sum(errs.values())
    out["first_errors"] = first_errors
    out["havre_cpu_s"] = round(cpu1 - cpu0, 1)
    out["client_cpu_s"] = round((me1.ru_utime + me1.ru_stime) - (me0.ru_utime + me0.ru_stime), 1)
    out["havre_after"] = proc_facts(pid)
    print(json.dumps(out))


def main():
    small_ssl_buffers()
    sub = sys.argv[1]
    if sub == "fill":
        fill(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:])
    elif sub == "idle":
        # idle PORT PID USERS(comma) N BATCH SETTLE LMTP_PORT STAGE
        asyncio.run(idle_main(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split(","),
                              int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7]), int(sys.argv[8]),
                              sys.argv[9]))
    elif sub == "logins":
        # logins PORT PID USERS(comma) N CONCURRENCY
        asyncio.run(logins_main(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split(","),
                                int(sys.argv[5]), int(sys.argv[6])))
    elif sub == "mix":
        # mix PORT USERS(comma) CLIENTS SECONDS MESSAGES HAVRE_PID
        asyncio.run(mix_main(int(sys.argv[2]), sys.argv[3].split(","), int(sys.argv[4]),
                             float(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
