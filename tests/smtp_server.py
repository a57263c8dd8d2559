"""An SMTP server on loopback for the notifier's email tests, written on Python's standard
library only (`socketserver`, `ssl`; not `smtpd`, which Python 3.12 removed).

    python3 smtp_server.py [--fail-first N] [--fail-reply "451 4.3.0 try later"]
                           [--cert PEM --key PEM [--starttls | --implicit-tls]]
                           [--user NAME --password SECRET [--mechanisms "PLAIN LOGIN"]]
                           [--inject-after-starttls]

Prints the port it listens on, then one JSON line per message it accepts
(`{"mailfrom", "rcpttos", "data", "subject", "body", "headers", "tls", "auth"}`, the subject
and the body decoded by Python's `email` package, an implementation of its own; `tls`
whether the message came over TLS, `auth` the user that authenticated or null). Answers the
first N messages with the fail reply instead.

With `--starttls` it offers STARTTLS, and AUTH only once TLS is up, as mail providers do;
with `--implicit-tls` it speaks TLS from the first byte. With `--user`, MAIL is refused
(530) until the client authenticates, and wrong credentials get 535.
`--inject-after-starttls` writes a line after its `220` to STARTTLS, before the handshake,
as a man in the middle would (a client must not read it as protected).

Stops when its standard input closes or after `--max-seconds`.
"""

import argparse
import base64
import email
import email.policy
import json
import os
import socketserver
import ssl
import sys
import threading


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--fail-reply", default="451 4.3.0 try again later")
    parser.add_argument("--max-seconds", type=float, default=120.0)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--starttls", action="store_true")
    parser.add_argument("--implicit-tls", action="store_true")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--mechanisms", default="PLAIN LOGIN")
    parser.add_argument("--inject-after-starttls", action="store_true")
    args = parser.parse_args()

    context = None
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
    lock = threading.Lock()
    state = {"seen": 0}

    def emit(record):
        with lock:
            print(json.dumps(record), flush=True)

    class Session(socketserver.StreamRequestHandler):
        timeout = 30

        def reply(self, line):
            self.wfile.write(line.encode() + b"\r\n")
            self.wfile.flush()

        def read_line(self):
            line = self.rfile.readline(65536)
            if not line:
                raise EOFError
            return line.decode("utf-8", "replace").rstrip("\r\n")

        def upgrade(self):
            self.connection = context.wrap_socket(self.connection, server_side=True)
            self.rfile = self.connection.makefile("rb")
            self.wfile = self.connection.makefile("wb")
            self.tls = True

        def ehlo(self):
            offers = []
            if args.starttls and not self.tls:
                offers.append("STARTTLS")
            # credentials only over TLS (or when the server has no TLS at all)
            if args.user and (self.tls or context is None):
                offers.append("AUTH " + args.mechanisms)
            offers.append("8BITMIME")
            lines = ["outcry test relay"] + offers
            for i, text in enumerate(lines):
                self.reply(("250 " if i == len(lines) - 1 else "250-") + text)

        def authenticate(self, words):
            mechanism = words[1].upper() if len(words) > 1 else ""
            if mechanism not in args.mechanisms.split():
                return self.reply("504 5.5.4 mechanism not offered")
            try:
                if mechanism == "PLAIN":
                    token = words[2] if len(words) > 2 else None
                    if token is None:
                        self.reply("334 ")
                        token = self.read_line()
                    _, user, password = base64.b64decode(token).decode().split("\0")
                else:
                    self.reply("334 " + base64.b64encode(b"Username:").decode())
                    user = base64.b64decode(self.read_line()).decode()
                    self.reply("334 " + base64.b64encode(b"Password:").decode())
                    password = base64.b64decode(self.read_line()).decode()
            except (ValueError, UnicodeDecodeError):
                return self.reply("501 5.5.2 cannot decode the credentials")
            if (user, password) != (args.user, args.password):
                return self.reply("535 5.7.8 authentication credentials invalid")
            self.user = user
            self.reply("235 2.7.0 authenticated")

        def handle(self):
            self.tls = False
            self.user = None
            if args.implicit_tls:
                try:
                    self.upgrade()
                except (ssl.SSLError, OSError):
                    return
            mailfrom, rcpttos = None, []
            self.reply("220 outcry test relay ready")
            try:
                while True:
                    line = self.read_line()
                    words = line.split(" ")
                    verb = words[0].upper()
                    if verb == "EHLO":
                        self.ehlo()
                    elif verb == "HELO":
                        self.reply("250 outcry test relay")
                    elif verb == "STARTTLS" and args.starttls and not self.tls:
                        # one write, so that the injected line arrives with the 220
                        self.reply(
                            "220 2.0.0 go ahead"
                            + ("\r\n250 injected before TLS" if args.inject_after_starttls else "")
                        )
                        try:
                            self.upgrade()
                        except (ssl.SSLError, OSError):
                            return
                        mailfrom, rcpttos, self.user = None, [], None
                    elif verb == "AUTH" and args.user and self.user is None:
                        self.authenticate(words)
                    elif verb == "MAIL":
                        if args.user and self.user is None:
                            self.reply("530 5.7.0 authentication required")
                            continue
                        mailfrom = line.split(":", 1)[1].strip().strip("<>")
                        rcpttos = []
                        self.reply("250 2.1.0 ok")
                    elif verb == "RCPT" and mailfrom is not None:
                        rcpttos.append(line.split(":", 1)[1].strip().strip("<>"))
                        self.reply("250 2.1.5 ok")
                    elif verb == "DATA" and rcpttos:
                        self.reply("354 end with <CRLF>.<CRLF>")
                        data = []
                        while True:
                            l = self.read_line()
                            if l == ".":
                                break
                            data.append(l[1:] if l.startswith(".") else l)
                        self.message(mailfrom, rcpttos, "\r\n".join(data) + "\r\n")
                        mailfrom, rcpttos = None, []
                    elif verb == "RSET":
                        mailfrom, rcpttos = None, []
                        self.reply("250 2.0.0 ok")
                    elif verb == "NOOP":
                        self.reply("250 2.0.0 ok")
                    elif verb == "QUIT":
                        self.reply("221 2.0.0 bye")
                        return
                    else:
                        self.reply("503 5.5.1 bad sequence of commands")
            except (EOFError, OSError, ssl.SSLError):
                return

        def message(self, mailfrom, rcpttos, data):
            with lock:
                state["seen"] += 1
                seen = state["seen"]
            if seen <= args.fail_first:
                return self.reply(args.fail_reply)
            message = email.message_from_string(data, policy=email.policy.default)
            body = message.get_body(preferencelist=("plain",))
            emit(
                {
                    "mailfrom": mailfrom,
                    "rcpttos": rcpttos,
                    "data": data,
                    "subject": str(message["subject"]),
                    "body": body.get_content() if body is not None else None,
                    "headers": {k: str(v) for k, v in message.items()},
                    "tls": self.tls,
                    "auth": self.user,
                }
            )
            self.reply("250 2.0.0 queued")

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    server = Server(("127.0.0.1", 0), Session)
    print(server.server_address[1], flush=True)

    def stop_when_stdin_closes():
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=stop_when_stdin_closes, daemon=True).start()
    threading.Timer(args.max_seconds, lambda: os._exit(0)).start()
    server.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
