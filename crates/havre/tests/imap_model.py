# A model check of IMAP with many sessions on one mailbox (driven by
# imap_model.rs). Each session runs random commands for a while and keeps its
# own view of INBOX (UIDs in sequence order, flags) from nothing but what the
# server told it. The checks:
#
# - every untagged response is explained by the view: `* n FETCH (UID u)`
#   names the UID the view has at n, `* n EXPUNGE` names a sequence number
#   that exists;
# - a FETCH never leaves out a message the session still sees;
# - no command fails for a reason the model does not predict (an APPEND, a
#   COPY or a MOVE always succeeds; a STORE may only fail on a message
#   another session expunged);
# - no update is lost: session i alone adds and removes keyword k<i>, so it
#   knows that keyword's state on every message it touched, and a SEARCH or
#   the final state must agree;
# - every change reaches every session: once all are quiet, a NOOP brings
#   each view to exactly what a fresh session sees.
#
# Arguments: port seed seconds sessions. Prints "ok ..." or the violations
# with the seed to replay them.

import random
import re
import socket
import ssl
import sys
import threading
import time

PORT, SEED, SECONDS, SESSIONS = (int(a) for a in sys.argv[1:5])
USER, PASSWORD = "alice@example.test", "secret"

violations = []
violations_lock = threading.Lock()


def violation(who, text):
    with violations_lock:
        violations.append(f"{who}: {text}")


class Closed(Exception):
    pass


def parse_flags(resp):
    m = re.search(rb"FLAGS \(([^)]*)\)", resp)
    if not m:
        return None
    return {f for f in m.group(1).decode().split() if f != "\\Recent"}


def fetched(untagged):
    """Sequence numbers of the FETCH responses among `untagged`."""
    return {int(m.group(1)) for m in (re.match(rb"\* (\d+) FETCH", r) for r in untagged) if m}


class Session:
    def __init__(self, name):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection(("127.0.0.1", PORT), timeout=60)
        self.sock = ctx.wrap_socket(raw)
        self.f = self.sock.makefile("rb")
        self.name = name
        self.tags = 0
        self.uids = []  # the view: UIDs in sequence order, None until known
        self.flags = {}  # uid -> set of flags
        self.mine = {}  # uid -> whether this session's keyword should be set
        self.keyword = f"k{name}"
        self.readline()

    def readline(self):
        line = self.f.readline()
        if not line:
            raise Closed()
        return line

    def response(self):
        line = self.readline()
        parts = [line]
        while True:
            m = re.search(rb"\{(\d+)\+?\}\r\n$", line)
            if not m:
                return b"".join(parts)
            parts.append(self.f.read(int(m.group(1))))
            line = self.readline()
            parts.append(line)

    def command(self, text, literal=None):
        self.tags += 1
        tag = f"{self.name}.{self.tags}".encode()
        data = tag + b" " + text.encode()
        if literal is not None:
            data += b" {%d+}\r\n" % len(literal) + literal
        self.sock.sendall(data + b"\r\n")
        untagged = []
        while True:
            resp = self.response()
            if resp.startswith(tag + b" "):
                status = resp.split(b" ", 2)[1].decode()
                self.apply(untagged, text)
                return status, resp, untagged
            if not resp.startswith(b"+"):
                untagged.append(resp)

    def apply(self, untagged, command):
        for resp in untagged:
            m = re.match(rb"\* (\d+) (EXISTS|EXPUNGE|FETCH)", resp)
            if not m:
                continue
            n, kind = int(m.group(1)), m.group(2)
            if kind == b"EXISTS":
                if n < len(self.uids):
                    violation(self.name, f"EXISTS {n} below the {len(self.uids)} messages seen, after {command}")
                self.uids.extend([None] * (n - len(self.uids)))
            elif kind == b"EXPUNGE":
                if not 1 <= n <= len(self.uids):
                    violation(self.name, f"EXPUNGE {n} of {len(self.uids)} messages, after {command}")
                    continue
                uid = self.uids.pop(n - 1)
                self.flags.pop(uid, None)
            else:
                if not 1 <= n <= len(self.uids):
                    violation(self.name, f"FETCH of message {n} of {len(self.uids)}, after {command}")
                    continue
                u = re.search(rb"UID (\d+)", resp)
                uid = int(u.group(1)) if u else self.uids[n - 1]
                if self.uids[n - 1] is None:
                    self.uids[n - 1] = uid
                elif uid != self.uids[n - 1]:
                    violation(self.name, f"message {n} is UID {uid} but was UID {self.uids[n - 1]}, after {command}")
                    self.uids[n - 1] = uid
                flags = parse_flags(resp)
                if flags is not None and uid is not None:
                    self.flags[uid] = flags

    def learn_new(self):
        """UIDs and flags of messages announced by EXISTS."""
        if None in self.uids:
            first = self.uids.index(None) + 1
            # Messages announced while the FETCH runs may or may not be in it.
            count = len(self.uids)
            status, _, untagged = self.command(f"FETCH {first}:* (UID FLAGS)")
            seen = fetched(untagged)
            if status == "OK":
                for n in range(first, count + 1):
                    if n not in seen and not self.expunged_since(untagged):
                        violation(self.name, f"FETCH {first}:* left out message {n} of {count}")

    @staticmethod
    def expunged_since(untagged):
        """An EXPUNGE in the same response renumbers what FETCH covered."""
        return any(re.match(rb"\* \d+ EXPUNGE", r) for r in untagged)

    def known(self):
        return [u for u in self.uids if u is not None]

    # The random commands.

    def append(self, rnd):
        body = f"Subject: {self.name} {rnd.random()}\r\n\r\nhello\r\n".encode()
        status, resp, _ = self.command(f"APPEND INBOX ({self.keyword})", body)
        if status != "OK":
            violation(self.name, f"APPEND failed: {resp!r}")
            return
        m = re.search(rb"APPENDUID \d+ (\d+)", resp)
        if m:
            self.mine[int(m.group(1))] = True

    def store(self, rnd):
        known = self.known()
        if not known:
            return
        uid = rnd.choice(known)
        add = rnd.random() < 0.5
        status, resp, _ = self.command(f"UID STORE {uid} {'+' if add else '-'}FLAGS ({self.keyword})")
        if status == "OK":
            self.mine[uid] = add
        elif status != "NO":
            violation(self.name, f"STORE: {resp!r}")

    def copy(self, rnd):
        known = self.known()
        if known:
            status, resp, _ = self.command(f"UID COPY {rnd.choice(known)} INBOX")
            if status not in ("OK", "NO"):
                violation(self.name, f"COPY: {resp!r}")

    def move(self, rnd):
        known = self.known()
        if known and len(known) > 5:
            status, resp, _ = self.command(f"UID MOVE {rnd.choice(known)} Archive")
            if status not in ("OK", "NO"):
                violation(self.name, f"MOVE: {resp!r}")

    def expunge(self, rnd):
        known = self.known()
        if known and len(known) > 5:
            uid = rnd.choice(known)
            status, _, _ = self.command(f"UID STORE {uid} +FLAGS.SILENT (\\Deleted)")
            if status == "OK":
                status, resp, _ = self.command(f"UID EXPUNGE {uid}")
                if status != "OK":
                    violation(self.name, f"UID EXPUNGE: {resp!r}")

    def fetch(self, rnd):
        count = len(self.uids)
        if not count:
            return
        status, resp, untagged = self.command("FETCH 1:* (UID FLAGS)")
        seen = fetched(untagged)
        if status == "OK":
            missing = [n for n in range(1, count + 1) if n not in seen]
            if missing and not self.expunged_since(untagged):
                violation(self.name, f"FETCH 1:* left out messages {missing[:5]} of {count}")
        else:
            violation(self.name, f"FETCH 1:*: {resp!r}")

    def search(self, rnd):
        status, resp, untagged = self.command(f"UID SEARCH KEYWORD {self.keyword}")
        if status != "OK":
            violation(self.name, f"SEARCH: {resp!r}")
            return
        found = set()
        for r in untagged:
            if r.startswith(b"* SEARCH"):
                found |= {int(x) for x in r.split()[2:]}
        for uid in found:
            if self.mine.get(uid) is False:
                violation(self.name, f"UID {uid} still has {self.keyword}, which this session removed")

    def noop(self, rnd):
        self.command("NOOP")


OPS = ["append", "append", "store", "store", "store", "copy", "move", "expunge", "fetch", "search", "noop"]


def run(name, seed, until, ready, sessions):
    rnd = random.Random(seed)
    try:
        s = Session(name)
        for command in (f'LOGIN "{USER}" "{PASSWORD}"', "SELECT INBOX"):
            status, resp, _ = s.command(command)
            if status != "OK":
                violation(name, f"{command.split()[0]}: {resp!r}")
                ready.abort()
                return
        s.learn_new()
        sessions[name] = s
        ready.wait(timeout=60)
        while time.time() < until:
            getattr(s, rnd.choice(OPS))(rnd)
            s.learn_new()
    except Closed:
        violation(name, "the server closed the connection")
    except Exception as e:
        violation(name, f"{type(e).__name__}: {e}")


def main():
    rnd = random.Random(SEED)
    setup = Session("setup")
    setup.command(f'LOGIN "{USER}" "{PASSWORD}"')
    setup.command("CREATE Archive")
    for i in range(10):
        setup.command("APPEND INBOX ()", f"Subject: seed {i}\r\n\r\nseed\r\n".encode())
    setup.command("LOGOUT")
    sessions = {}
    ready = threading.Barrier(SESSIONS)
    until = time.time() + SECONDS
    threads = [
        threading.Thread(target=run, args=(f"s{i}", rnd.random(), until, ready, sessions))
        for i in range(SESSIONS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # Quiet now: every session must come to what a fresh one sees.
    fresh = Session("fresh")
    fresh.command(f'LOGIN "{USER}" "{PASSWORD}"')
    fresh.command("SELECT INBOX")
    fresh.learn_new()
    truth_uids = fresh.uids
    truth_flags = fresh.flags
    commands = 0
    for name, s in sorted(sessions.items()):
        commands += s.tags
        try:
            s.command("NOOP")
            s.learn_new()
        except Closed:
            continue
        if s.uids != truth_uids:
            gone = sorted(set(s.uids) - set(truth_uids))[:5]
            new = sorted(set(truth_uids) - set(s.uids))[:5]
            violation(name, f"after NOOP sees {len(s.uids)} messages, a fresh session {len(truth_uids)} (stale {gone}, unseen {new})")
        for uid in truth_uids:
            if s.flags.get(uid) != truth_flags.get(uid):
                violation(name, f"UID {uid} has flags {sorted(s.flags.get(uid) or [])}, a fresh session sees {sorted(truth_flags.get(uid) or [])}")
                break
        for uid, want in s.mine.items():
            if uid in truth_flags and (s.keyword in truth_flags[uid]) != want:
                violation(name, f"UID {uid}: {s.keyword} should be {'set' if want else 'clear'} (lost update)")

    if violations:
        print(f"seed {SEED}: {len(violations)} violation(s) in {commands} commands")
        for v in violations[:40]:
            print(" ", v)
        sys.exit(1)
    print(f"ok seed {SEED}: {SESSIONS} sessions, {commands} commands, {len(truth_uids)} messages")


main()
