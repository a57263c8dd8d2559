"""A TLS terminator on loopback for the end-to-end tests: accepts TLS connections and forwards
the plaintext both ways to an upstream broker, as a TLS-terminating proxy in front of Kafka
does. The broker the tests run (Tansu 0.6.0) cannot terminate TLS itself: its CLI refuses
`--cert` together with `--key`.

    python3 tls_proxy.py --listen 127.0.0.1:P --upstream 127.0.0.1:Q \
        --cert server.pem --key server.key [--client-ca ca.pem]

With `--client-ca`, a client must present a certificate that CA signed (mutual TLS). Prints
`ready` once listening. Stops when its standard input closes (the test that started it went
away) or after `--max-seconds`, whichever comes first. Standard library only.
"""

import argparse
import asyncio
import os
import ssl
import sys


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--client-ca")
    parser.add_argument("--max-seconds", type=float, default=600.0)
    args = parser.parse_args()
    listen_host, listen_port = args.listen.rsplit(":", 1)
    up_host, up_port = args.upstream.rsplit(":", 1)

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(args.cert, args.key)
    if args.client_ca:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(args.client_ca)

    async def handle(client_reader, client_writer):
        try:
            up_reader, up_writer = await asyncio.open_connection(up_host, int(up_port))
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            pipe(client_reader, up_writer), pipe(up_reader, client_writer)
        )

    server = await asyncio.start_server(
        handle, listen_host, int(listen_port), ssl=context
    )
    print("ready", flush=True)

    loop = asyncio.get_running_loop()
    stdin_closed = loop.run_in_executor(None, sys.stdin.read)
    async with server:
        await asyncio.wait(
            [asyncio.ensure_future(stdin_closed)], timeout=args.max_seconds
        )
    # the executor thread reading stdin may still block: leave without waiting for it
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    asyncio.run(main())
