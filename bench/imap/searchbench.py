#!/usr/bin/env python3
"""Client side of bench/imap/search (Python stdlib only).

  searchbench.py maildir DIR N      writes N messages into the Maildir DIR (cur/),
                                    as another server would have left them
  searchbench.py search PORT USER N REPS
                                    over implicit TLS: SELECT INBOX, one first
                                    SEARCH (indexes what is pending), then REPS
                                    searches of each kind; JSON on stdout
"""
import imaplib
import json
import os
import random
import ssl
import statistics
import sys
import time

PASSWORD = "bench-secret"
WORDS = ("budget report meeting invoice holiday lunch project review draft schedule "
         "contract agenda minutes travel quarterly release planning notes").split()


def message(i, rng):
    """About 1-4 KB; Subject "<two words> message i", a body naming i too."""
    subject = f"{rng.choice(WORDS)} {rng.choice(WORDS)} message {i}"
    head = (
        f"From: Sender {i % 37} <sender{i % 37}@remote.test>\n"
        f"To: someone@example.test\n"
        f"Subject: {subject}\n"
        f"Date: Mon, 23 Nov 2026 10:{i % 60:02d}:00 +0000\n"
        f"Message-ID: <m{i}@remote.test>\n"
        f"MIME-Version: 1.0\n"
        f"Content-Type: text/plain; charset=utf-8\n\n"
    )
    lines = [f"line {n} of message {i}: " + " ".join(rng.choice(WORDS) for _ in range(8))
             for n in range(rng.randint(12, 50))]
    return (head + "\n".join(lines) + "\n").encode()


def write_maildir(root, n):
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    rng = random.Random(n)
    base = 1_700_000_000
    for i in range(n):
        data = message(i, rng)
        crlf = len(data) + data.count(b"\n")
        name = f"{base + i}.M{i}P1.bench,S={len(data)},W={crlf}:2,S"
        path = os.path.join(root, "cur", name)
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (base + i, base + i))


def timed(m, *args):
    t0 = time.perf_counter()
    typ, data = m.uid("SEARCH", *args)
    ms = (time.perf_counter() - t0) * 1000
    if typ != "OK":
        raise SystemExit(f"SEARCH {args}: {typ} {data}")
    hits = len(data[0].split()) if data and data[0] else 0
    return ms, hits


def summary(samples):
    times = sorted(t for t, _ in samples)
    return {
        "reps": len(times),
        "p50_ms": round(statistics.median(times), 2),
        "p90_ms": round(times[int(0.9 * (len(times) - 1))], 2),
        "min_ms": round(times[0], 2),
        "hits_median": statistics.median(h for _, h in samples),
    }


def search(port, user, n, reps):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    m = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx)
    m.login(user, PASSWORD)
    t0 = time.perf_counter()
    typ, data = m.select("INBOX")
    select_ms = (time.perf_counter() - t0) * 1000
    exists = int(data[0])
    rng = random.Random(7)
    first_ms, first_hits = timed(m, "SUBJECT", f'"message {n // 2}"')
    out = {"messages": exists, "select_ms": round(select_ms, 1),
           "first_subject_ms": round(first_ms, 1), "first_hits": first_hits}
    cases = {
        # One message (plus those whose number starts with it).
        "subject": lambda: ("SUBJECT", f'"message {rng.randrange(n)}"'),
        "subject_miss": lambda: ("SUBJECT", '"no such subject"'),
        "from": lambda: ("FROM", f"sender{rng.randrange(37)}@"),
        "body": lambda: ("BODY", f'"of message {rng.randrange(n)}:"'),
        "text": lambda: ("TEXT", f'"<m{rng.randrange(n)}@remote"'),
        "unseen": lambda: ("UNSEEN",),
    }
    for name, args in cases.items():
        out[name] = summary([timed(m, *args()) for _ in range(reps)])
    m.logout()
    return out


def main():
    if sys.argv[1] == "maildir":
        write_maildir(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "search":
        print(json.dumps(search(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
