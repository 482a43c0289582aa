// Minimal WebSocket client on raw Bun TCP sockets, for the load generator only.
//
// Why not the built-in `WebSocket`: measured on this 2-core box, Bun's client spends ~2-5 µs of
// generator CPU per received message (a MessageEvent and a decoded string each), so at 500,000
// deliveries/s the generator core saturates and the benchmark would time the generator, not the
// server. Here a received frame costs a few byte comparisons; text is decoded only when asked.
//
// Scope: RFC 6455 client framing without extensions (no permessage-deflate is offered, so the
// server sends plain frames), masked client frames, ping->pong, close handshake, fragmented
// messages reassembled. Enough for a benchmark talking to a local server; not a general client.

import type { Socket, SocketHandler } from "bun";
import { randomBytes } from "node:crypto";

export interface WsEvents {
  /** The upgrade succeeded (HTTP 101). */
  open(conn: WsConn): void;
  /** One complete text message: bytes `buf[start, end)`. `buf` is only valid during the call. */
  text(conn: WsConn, buf: Buffer, start: number, end: number): void;
  /** Connection gone (or never made); called exactly once. */
  close(conn: WsConn, reason: string): void;
}

// Plain numeric constants rather than an enum: keeps the file erasable-syntax-only TypeScript.
const CONNECTING = 0;
const HANDSHAKE = 1;
const OPEN = 2;
const CLOSED = 3;

const CRLFCRLF: Buffer = Buffer.from("\r\n\r\n");
const HTTP_101: Buffer = Buffer.from("HTTP/1.1 101");

export class WsConn {
  sock: Socket<WsConn> | null = null;
  phase: number = CONNECTING;
  /** Unparsed bytes carried over to the next chunk (a frame split across reads). */
  private pending: Buffer | null = null;
  /** Bytes the kernel did not take yet; flushed on `drain`. */
  private unsent: Buffer | null = null;
  /** Fragments of a message whose first frame had FIN=0. */
  private fragments: Buffer[] | null = null;

  readonly id: number;
  readonly request: string;
  readonly events: WsEvents;

  constructor(id: number, request: string, events: WsEvents) {
    this.id = id;
    this.request = request;
    this.events = events;
  }

  get isOpen(): boolean {
    return this.phase === OPEN;
  }

  /** Sends one masked text frame (clients must mask, RFC 6455 5.3). */
  sendText(text: string): void {
    if (this.phase !== OPEN) return;
    this.write(encodeClientFrame(0x1, Buffer.from(text)));
  }

  /** Drops the connection without a close handshake (teardown only). */
  terminate(): void {
    if (this.sock !== null) this.sock.terminate();
    this.finish("terminated");
  }

  write(bytes: Buffer): void {
    const s = this.sock;
    if (s === null) return;
    if (this.unsent !== null) {
      this.unsent = Buffer.concat([this.unsent, bytes]);
      return;
    }
    const n = s.write(bytes);
    if (n < bytes.length) this.unsent = Buffer.from(bytes.subarray(Math.max(n, 0)));
  }

  flush(): void {
    const s = this.sock;
    const u = this.unsent;
    if (s === null || u === null) return;
    const n = s.write(u);
    this.unsent = n >= u.length ? null : Buffer.from(u.subarray(Math.max(n, 0)));
  }

  finish(reason: string): void {
    if (this.phase === CLOSED) return;
    this.phase = CLOSED;
    this.pending = null;
    this.unsent = null;
    this.fragments = null;
    this.events.close(this, reason);
  }

  onData(chunk: Buffer): void {
    let buf: Buffer = chunk;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    let pos = 0;
    if (this.phase === HANDSHAKE) {
      const end = buf.indexOf(CRLFCRLF);
      if (end < 0) {
        if (buf.length > 16384) return this.fail("handshake response too large");
        this.pending = Buffer.from(buf);
        return;
      }
      if (buf.compare(HTTP_101, 0, HTTP_101.length, 0, HTTP_101.length) !== 0) {
        const status = buf.toString("latin1", 0, Math.min(end, buf.indexOf(0x0d)));
        return this.fail(`upgrade refused: ${status}`);
      }
      this.phase = OPEN;
      pos = end + 4;
      this.events.open(this);
      if (this.phase !== OPEN) return;
    }
    pos = this.parseFrames(buf, pos);
    if (pos < buf.length && this.phase === OPEN) this.pending = Buffer.from(buf.subarray(pos));
  }

  /** Parses every complete frame from `pos`; returns where the first incomplete frame starts. */
  private parseFrames(buf: Buffer, pos: number): number {
    const len = buf.length;
    while (pos + 2 <= len && this.phase === OPEN) {
      const b0 = buf[pos] as number;
      const b1 = buf[pos + 1] as number;
      let size = b1 & 0x7f;
      let header = 2;
      if (size === 126) {
        if (pos + 4 > len) break;
        size = buf.readUInt16BE(pos + 2);
        header = 4;
      } else if (size === 127) {
        if (pos + 10 > len) break;
        size = buf.readUInt32BE(pos + 2) * 0x100000000 + buf.readUInt32BE(pos + 6);
        header = 10;
      }
      if ((b1 & 0x80) !== 0) {
        this.fail("server frame is masked");
        break;
      }
      const start = pos + header;
      const end = start + size;
      if (end > len) break;
      this.onFrame(b0 & 0x80, b0 & 0x0f, buf, start, end);
      pos = end;
    }
    return pos;
  }

  private onFrame(fin: number, opcode: number, buf: Buffer, start: number, end: number): void {
    switch (opcode) {
      case 0x1: // text
      case 0x2: // binary (not used by V2 JSON; handed over the same way)
        if (fin !== 0) this.events.text(this, buf, start, end);
        else this.fragments = [Buffer.from(buf.subarray(start, end))];
        return;
      case 0x0: {
        // continuation
        if (this.fragments === null) return this.fail("unexpected continuation frame");
        this.fragments.push(Buffer.from(buf.subarray(start, end)));
        if (fin !== 0) {
          const whole = Buffer.concat(this.fragments);
          this.fragments = null;
          this.events.text(this, whole, 0, whole.length);
        }
        return;
      }
      case 0x8: // close: echo the close frame, then hang up
        this.write(encodeClientFrame(0x8, Buffer.from(buf.subarray(start, Math.min(end, start + 2)))));
        this.sock?.end();
        this.finish(`server closed (${end - start >= 2 ? buf.readUInt16BE(start) : "no code"})`);
        return;
      case 0x9: // ping
        this.write(encodeClientFrame(0xa, Buffer.from(buf.subarray(start, end))));
        return;
      default: // pong and reserved opcodes: nothing to do
        return;
    }
  }

  private fail(reason: string): void {
    this.sock?.terminate();
    this.finish(reason);
  }
}

let maskPool: Buffer = randomBytes(4096);
let maskPos = 0;

function encodeClientFrame(opcode: number, payload: Buffer): Buffer {
  const n = payload.length;
  const header = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(header + 4 + n);
  out[0] = 0x80 | opcode;
  if (header === 2) out[1] = 0x80 | n;
  else if (header === 4) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeUInt32BE(Math.floor(n / 0x100000000), 2);
    out.writeUInt32BE(n >>> 0, 6);
  }
  if (maskPos + 4 > maskPool.length) {
    maskPool = randomBytes(4096);
    maskPos = 0;
  }
  maskPool.copy(out, header, maskPos, maskPos + 4);
  maskPos += 4;
  for (let i = 0; i < n; i++) out[header + 4 + i] = (payload[i] as number) ^ (out[header + (i & 3)] as number);
  return out;
}

const handler: SocketHandler<WsConn> = {
  open(s: Socket<WsConn>): void {
    const c = s.data;
    c.sock = s;
    c.phase = HANDSHAKE;
    c.write(Buffer.from(c.request));
  },
  data(s: Socket<WsConn>, chunk: Buffer): void {
    s.data.onData(chunk);
  },
  drain(s: Socket<WsConn>): void {
    s.data.flush();
  },
  end(s: Socket<WsConn>): void {
    s.data.finish("server ended the connection");
  },
  close(s: Socket<WsConn>, err?: Error): void {
    s.data.finish(err ? `closed: ${err.message}` : "closed");
  },
  error(s: Socket<WsConn>, err: Error): void {
    s.data.finish(`error: ${err.message}`);
  },
  connectError(s: Socket<WsConn>, err: Error): void {
    s.data.finish(`connect error: ${err.message}`);
  },
};

/** Opens `ws://host:port<path>`; the outcome arrives through `events`. */
export function connectWs(id: number, host: string, port: number, path: string, origin: string, events: WsEvents): WsConn {
  const key = randomBytes(16).toString("base64");
  const request =
    `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nOrigin: ${origin}\r\n` +
    `User-Agent: hubbub-bench\r\n\r\n`;
  const conn = new WsConn(id, request, events);
  Bun.connect<WsConn>({ hostname: host, port, data: conn, socket: handler }).catch((err: unknown) => {
    conn.finish(`connect failed: ${err instanceof Error ? err.message : String(err)}`);
  });
  return conn;
}
