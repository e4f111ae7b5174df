"""Opens N keep-alive connections to a server, sends one request on each and reads its answer,
then holds them all idle and prints "open <n>" when done, until it is killed.
Usage: idle_conns.py host port n [tls] [path]"""
import asyncio
import ssl
import sys


async def one(host, port, ctx, path, held, sem):
    async with sem:
        try:
            reader, writer = await asyncio.open_connection(host, port, ssl=ctx)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if length:
                await reader.readexactly(length)
            held.append(writer)
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            pass


async def main():
    host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    tls = len(sys.argv) > 4 and sys.argv[4] == "tls"
    path = sys.argv[5] if len(sys.argv) > 5 else "/health"
    ctx = None
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    held, sem = [], asyncio.Semaphore(256)
    await asyncio.gather(*(one(host, port, ctx, path, held, sem) for _ in range(n)))
    print(f"open {len(held)}", flush=True)
    await asyncio.Event().wait()


asyncio.run(main())
