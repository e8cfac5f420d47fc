//! A Postfix-like LMTP client that sends one message to one address and
//! says what the server answered after the dot (smtplib's LMTP class does
//! not read per-recipient replies).

/// One message (`argv[3]`, the same bytes each time) over LMTP at `argv[1]`
/// from bob@remote.test to `argv[2]`: prints the reply after the dot.
pub const SEND_ONE: &str = r#"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
f = s.makefile("rb")
def last():
    while True:
        line = f.readline().decode()
        if line[3] == " ":
            return line.strip()
last()
s.sendall(b"LHLO postfix.test\r\n"); last()
s.sendall(f"MAIL FROM:<bob@remote.test>\r\nRCPT TO:<{sys.argv[2]}>\r\nDATA\r\n".encode())
last(); last(); last()
s.sendall(f"Message-ID: <{sys.argv[3]}@remote.test>\r\nSubject: {sys.argv[3]}\r\n\r\nbody\r\n.\r\n".encode())
print("reply:", last())
s.sendall(b"QUIT\r\n"); last()
"#;
