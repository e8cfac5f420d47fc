# The student sends COUNT messages through PORT (submission, STARTTLS, AUTH),
# numbered from FIRST; prints each one's number and reply code.
# Usage: student_sends.py PORT FIRST COUNT
import smtplib, ssl, sys
port, first, count = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s.starttls(context=ctx); s.login("stu@example.test", "secret")
for n in range(first, first + count):
    s.mail("stu@example.test")
    code, msg = s.rcpt("alice@example.test")
    if code == 250:
        code, msg = s.data(b"Subject: %d\r\n\r\nhi\r\n" % n)
    else:
        s.rset()
    print(n, code, msg.decode())
s.quit()
