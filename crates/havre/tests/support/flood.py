# Floods a node with messages for the crash tests: argv port, ack file,
# messages per thread, threads, and lines of 2,000 bytes of padding per body.
# Each thread sends over its own connections until its count is reached or
# the server dies; every token that got "250" is appended to the ack file.
# A token whose transaction failed (the server died mid-transaction: not
# acknowledged) is not sent again.
import smtplib, sys, threading, time
port, ack_path, per_thread, threads = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
padding = ("x" * 2000 + "\r\n") * int(sys.argv[5])
lock = threading.Lock()
ack = open(ack_path, "a")
def worker(n):
    sent = 0
    while sent < per_thread:
        try:
            s = smtplib.SMTP("127.0.0.1", port, timeout=10)
            s.ehlo("flood.test")
            while sent < per_thread:
                token = f"T{n}-{sent}"
                msg = f"Subject: {token}\r\nX-Token: {token}\r\n\r\nbody {token}\r\n" + padding
                s.sendmail("flood@remote.test", ["alice@example.test"], msg)
                with lock:
                    ack.write(token + "\n"); ack.flush()
                sent += 1
            s.quit()
        except Exception:
            sent += 1
            time.sleep(0.2)
ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
[t.start() for t in ts]
[t.join() for t in ts]
