#!/usr/bin/env python3
"""Reads a havre log and prints, tab-separated:
   messages  p50_ms  p99_ms  max_ms  relay_p50_ms  relay_max_ms  late  delay_ge_1
- p50/p99/max: from a message's `client=` line to its `(queue active)` line
  (the server's side of the path to 250; millisecond timestamps);
- relay_*: from `(queue active)` to its delivery line (`status=sent`);
- late: deliveries that came 500 ms or more after `(queue active)`;
- delay_ge_1: delivery lines whose `delay=` says 1.00 or more.
"""
import re
import sys
from datetime import datetime

STAMP = re.compile(r"^(\S+) \S+ \S+: ([0-9A-F]+): (.*)$")


def when(text):
    return datetime.fromisoformat(text).timestamp()


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    client, active, sent = {}, {}, {}
    delay_ge_1 = 0
    for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
        m = STAMP.match(line)
        if not m:
            continue
        at, qid, rest = when(m.group(1)), m.group(2), m.group(3)
        if rest.startswith("client="):
            client.setdefault(qid, at)
        elif rest.endswith("(queue active)"):
            active[qid] = at
        elif "status=sent" in rest and qid not in sent:
            sent[qid] = at
            d = re.search(r"delay=([0-9.]+)", rest)
            if d and float(d.group(1)) >= 1.0:
                delay_ge_1 += 1
    path = [(active[q] - client[q]) * 1000 for q in active if q in client]
    relay = [(sent[q] - active[q]) * 1000 for q in sent if q in active]
    late = sum(1 for r in relay if r >= 500)
    print("\t".join(str(x) for x in (
        len(path), f"{pct(path, 50):.0f}", f"{pct(path, 99):.0f}", f"{max(path, default=0):.0f}",
        f"{pct(relay, 50):.0f}", f"{max(relay, default=0):.0f}", late, delay_ge_1)))


if __name__ == "__main__":
    main()
