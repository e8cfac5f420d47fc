# Sends a message with attachments, as a mail client builds it (Python's
# email package), and prints the server's reply to DATA.
#   argv: PORT RECIPIENT SPEC [LOGIN]
# SPEC is JSON: {"subject": "...", "attachments": [{"name": "...", "type":
# "type/subtype", "content": "pe" | "elf" | "pdf" | "text" | "zip",
# "entries": [...same, for a zip...]}]}. With LOGIN (user:password), the
# session is submission: STARTTLS, then AUTH.
import io, json, smtplib, ssl, sys, zipfile
from email.message import EmailMessage

# The first bytes of a Windows executable: the DOS stub and a PE header.
PE = (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 44
      + b"\x80\x00\x00\x00" + b"This program cannot be run in DOS mode.\r\r\n$" + b"\x00" * 20
      + b"PE\x00\x00L\x01")
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00>\x00"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

def content(spec):
    kind = spec["content"]
    if kind == "pe":
        return PE
    if kind == "elf":
        return ELF
    if kind == "pdf":
        return PDF
    if kind == "text":
        return b"Dear all,\nthe minutes of the meeting.\n"
    if kind == "zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for entry in spec["entries"]:
                z.writestr(entry["name"], content(entry))
        return buf.getvalue()
    raise ValueError(kind)

port, rcpt, spec = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
login = sys.argv[4] if len(sys.argv) > 4 else None
sender = login.split(":")[0] if login else "sender@remote.test"
m = EmailMessage()
m["From"] = sender
m["To"] = rcpt
m["Subject"] = spec.get("subject", "files")
m.set_content("Here are the files.\n")
for a in spec["attachments"]:
    maintype, subtype = a["type"].split("/")
    m.add_attachment(content(a), maintype=maintype, subtype=subtype, filename=a["name"])
with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
    s.ehlo("client.test")
    if login:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s.starttls(context=ctx)
        s.ehlo("client.test")
        user, password = login.split(":", 1)
        s.login(user, password)
    s.mail(sender)
    s.rcpt(rcpt)
    try:
        code, msg = s.data(m.as_bytes())
    except smtplib.SMTPDataError as e:
        code, msg = e.smtp_code, e.smtp_error
    print(code, msg.decode())
