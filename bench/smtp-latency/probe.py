#!/usr/bin/env python3
"""One SMTP connection, one message after another: the time each message
takes from MAIL FROM to the 250 after its final dot, and from the dot alone
to that 250 (the server's end-of-data work: checks, spool fsync, queue
commit). Raw sockets, no pipelining, so each step waits for its reply as a
plain client does.

Usage: probe.py HOST PORT COUNT SIZE RCPT  ->  one line per message:
       "<mail_to_250_us> <dot_to_250_us>" on stdout.
"""
import socket
import sys
import time


def reply(sock_file):
    """Reads one (possibly multi-line) reply; returns its code."""
    while True:
        line = sock_file.readline()
        if not line:
            raise SystemExit("connection closed by the server")
        if line[3:4] != b"-":
            return int(line[:3])


def expect(sock_file, code, what):
    got = reply(sock_file)
    if got != code:
        raise SystemExit(f"{what}: expected {code}, got {got}")


def main():
    host, port, count, size, rcpt = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    line = b"x" * 78 + b"\r\n"
    body = (b"From: <sender@bench.test>\r\nTo: <" + rcpt.encode() + b">\r\n"
            b"Subject: latency probe\r\n\r\n" + line * max(1, size // len(line)) + b".\r\n")
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = sock.makefile("rb")
    expect(f, 220, "greeting")
    sock.sendall(b"EHLO client.bench.test\r\n")
    expect(f, 250, "EHLO")
    for _ in range(count):
        start = time.perf_counter()
        sock.sendall(b"MAIL FROM:<sender@bench.test>\r\n")
        expect(f, 250, "MAIL")
        sock.sendall(b"RCPT TO:<" + rcpt.encode() + b">\r\n")
        expect(f, 250, "RCPT")
        sock.sendall(b"DATA\r\n")
        expect(f, 354, "DATA")
        sock.sendall(body[:-3])
        dot = time.perf_counter()
        sock.sendall(body[-3:])
        expect(f, 250, "end of data")
        end = time.perf_counter()
        print(f"{(end - start) * 1e6:.0f} {(end - dot) * 1e6:.0f}")
    sock.sendall(b"QUIT\r\n")
    reply(f)


if __name__ == "__main__":
    main()
