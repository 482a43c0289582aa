// A WebSocket client written by hand over node:net, for what no WebSocket library lets a test do:
// send bytes that are not valid UTF-8 in a text frame, and stop reading (socket.pause()) so the
// server meets a client that never drains its socket.
import { randomBytes } from "node:crypto";
import { connect as tcpConnect, type Socket } from "node:net";
import { waitFor } from "./wait.ts";

export const OP = { text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/** One client -> server frame (FIN set, masked as RFC 6455 requires of clients). */
export function clientFrame(opcode: number, payload: Uint8Array | string): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload, "utf8") : Buffer.from(payload);
  const len = body.length;
  const head: number[] = [0x80 | opcode];
  if (len < 126) head.push(0x80 | len);
  else if (len < 65536) head.push(0x80 | 126, len >> 8, len & 0xff);
  else {
    head.push(0x80 | 127, 0, 0, 0, 0);
    head.push((len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff);
  }
  const mask = randomBytes(4);
  const masked = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) masked[i] = body[i]! ^ mask[i & 3]!;
  return Buffer.concat([Buffer.from(head), mask, masked]);
}

export interface ServerFrame {
  opcode: number;
  payload: Buffer;
}

/** Incremental parser of server -> client frames (unmasked; no fragmentation expected). */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer): ServerFrame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: ServerFrame[] = [];
    for (;;) {
      if (this.buf.length < 2) break;
      const opcode = this.buf[0]! & 0x0f;
      let len = this.buf[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (this.buf.length < 4) break;
        len = this.buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) break;
        len = Number(this.buf.readBigUInt64BE(2));
        at = 10;
      }
      if (this.buf.length < at + len) break;
      out.push({ opcode, payload: this.buf.subarray(at, at + len) });
      this.buf = this.buf.subarray(at + len);
    }
    return out;
  }
}

export interface WireClient {
  sock: Socket;
  /** Text frames received, parsed as JSON where possible. */
  frames: any[];
  /** Close code from the server's close frame, if one arrived. */
  closeCode: number | null;
  /** The TCP connection ended (FIN, reset or error). */
  ended: boolean;
  sendText(text: string | Uint8Array): void;
  sendBinary(bytes: Uint8Array): void;
  next(pred: (f: any) => boolean, what?: string, timeoutMs?: number): Promise<any>;
  waitEnded(timeoutMs?: number): Promise<{ closeCode: number | null }>;
  destroy(): void;
}

/** Connects to 127.0.0.1:port, performs the HTTP upgrade by hand and resolves once it is accepted. */
export function wireConnect(port: number, path = "/socket/websocket?vsn=2.0.0", timeoutMs = 15_000): Promise<WireClient> {
  return new Promise((resolve, reject) => {
    const sock = tcpConnect({ host: "127.0.0.1", port });
    const key = randomBytes(16).toString("base64");
    let head = Buffer.alloc(0);
    let upgraded = false;
    const reader = new FrameReader();
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error("raw upgrade timed out"));
    }, timeoutMs);
    const c: WireClient = {
      sock,
      frames: [],
      closeCode: null,
      ended: false,
      sendText: (t) => void sock.write(clientFrame(OP.text, t)),
      sendBinary: (b) => void sock.write(clientFrame(OP.binary, b)),
      async next(pred, what = "a matching frame", ms = 15_000) {
        let i = 0;
        return waitFor(what, () => {
          for (; i < c.frames.length; i++) if (pred(c.frames[i])) return { v: c.frames[i] };
          if (c.ended) throw new Error(`raw socket ended (close ${c.closeCode}) while waiting for ${what}`);
          return undefined;
        }, ms).then((x) => x.v);
      },
      waitEnded: (ms = 15_000) => waitFor("raw socket end", () => (c.ended ? { closeCode: c.closeCode } : undefined), ms),
      destroy: () => void sock.destroy(),
    };
    const onFrames = (chunk: Buffer) => {
      for (const f of reader.push(chunk)) {
        if (f.opcode === OP.text) {
          const t = f.payload.toString("utf8");
          try {
            c.frames.push(JSON.parse(t));
          } catch {
            c.frames.push(t);
          }
        } else if (f.opcode === OP.close) {
          c.closeCode = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
        }
      }
    };
    sock.on("data", (chunk: Buffer) => {
      if (upgraded) return onFrames(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      const status = head.subarray(0, head.indexOf("\r\n")).toString();
      if (!/^HTTP\/1\.1 101 /.test(status)) {
        clearTimeout(timer);
        sock.destroy();
        return reject(new Error(`upgrade refused: ${status}`));
      }
      upgraded = true;
      clearTimeout(timer);
      resolve(c);
      const rest = head.subarray(end + 4);
      if (rest.length) onFrames(rest);
    });
    const ended = () => void (c.ended = true);
    sock.on("end", ended);
    sock.on("close", ended);
    sock.on("error", (e) => {
      ended();
      if (!upgraded) {
        clearTimeout(timer);
        reject(e);
      }
    });
    sock.on("connect", () => {
      sock.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
  });
}
