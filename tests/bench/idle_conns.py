"""Opens N keep-alive connections to a server, sends one request on each and reads its answer,
then holds them all idle and prints "open <n>" when done, until it is killed. `h2`: HTTP/2 over
TLS (ALPN h2), the request a stream on it (frames written by hand: no library needed).
Usage: idle_conns.py host port n [plain|tls|h2] [path]"""
import asyncio
import ssl
import sys


def frame(kind, flags, stream, payload=b""):
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


def literal(index, value):  # HPACK: literal without indexing, indexed name, no Huffman
    return bytes([index, len(value)]) + value


async def one_h2(host, port, ctx, path, held, sem):
    async with sem:
        try:
            reader, writer = await asyncio.open_connection(host, port, ssl=ctx)
            block = b"\x82\x87" + literal(4, path.encode()) + literal(1, b"localhost")  # GET https
            writer.write(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0) + frame(1, 5, 1, block))
            await writer.drain()
            while True:  # until stream 1 ends; the server's SETTINGS acknowledged
                head = await reader.readexactly(9)
                payload = await reader.readexactly(int.from_bytes(head[:3], "big"))
                kind, flags, stream = head[3], head[4], int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
                if kind == 4 and not flags & 1:
                    writer.write(frame(4, 1, 0))
                if stream == 1 and (kind == 3 or (kind in (0, 1) and flags & 1)):
                    break
                if kind == 7:
                    raise OSError("GOAWAY")
            held.append(writer)
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            pass


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
    mode = sys.argv[4] if len(sys.argv) > 4 else "plain"
    tls = mode in ("tls", "h2")
    path = sys.argv[5] if len(sys.argv) > 5 else "/health"
    ctx = None
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2"] if mode == "h2" else ["http/1.1"])
    held, sem = [], asyncio.Semaphore(256)
    run = one_h2 if mode == "h2" else one
    await asyncio.gather(*(run(host, port, ctx, path, held, sem) for _ in range(n)))
    print(f"open {len(held)}", flush=True)
    await asyncio.Event().wait()


asyncio.run(main())
