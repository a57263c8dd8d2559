"""A real SMTP server on loopback for the notifier's email tests, from Python's standard
library (`smtpd`, in Python 3.11).

    python3 smtp_server.py [--fail-first N] [--fail-reply "451 4.3.0 try later"]

Prints the port it listens on, then one JSON line per message it accepts
(`{"mailfrom", "rcpttos", "data", "subject", "body", "headers"}`, the subject and the body
decoded by Python's `email` package, an implementation of its own). Answers the first N messages with the fail reply instead.
Stops when its standard input closes or after `--max-seconds`.
"""

import argparse
import email
import email.policy
import json
import os
import sys
import threading
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)
import asyncore  # noqa: E402
import smtpd  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--fail-reply", default="451 4.3.0 try again later")
    parser.add_argument("--max-seconds", type=float, default=120.0)
    args = parser.parse_args()
    state = {"seen": 0}

    class Server(smtpd.SMTPServer):
        def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
            state["seen"] += 1
            if state["seen"] <= args.fail_first:
                return args.fail_reply
            if isinstance(data, bytes):
                data = data.decode("utf-8", "replace")
            message = email.message_from_string(data, policy=email.policy.default)
            body = message.get_body(preferencelist=("plain",))
            print(
                json.dumps(
                    {
                        "mailfrom": mailfrom,
                        "rcpttos": rcpttos,
                        "data": data,
                        "subject": str(message["subject"]),
                        "body": body.get_content() if body is not None else None,
                        "headers": {k: str(v) for k, v in message.items()},
                    }
                ),
                flush=True,
            )
            return None

    server = Server(("127.0.0.1", 0), None, decode_data=False)
    print(server.socket.getsockname()[1], flush=True)

    def stop_when_stdin_closes():
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=stop_when_stdin_closes, daemon=True).start()
    threading.Timer(args.max_seconds, lambda: os._exit(0)).start()
    asyncore.loop(timeout=0.2)


if __name__ == "__main__":
    main()
