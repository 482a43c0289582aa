// A raw WebSocket client for what the phoenix client never sends: bad frames, huge frames, refs.
import { waitFor } from "./wait.ts";

export interface RawClient {
  ws: WebSocket;
  frames: any[];
  texts: string[];
  closed: { code: number; reason: string } | null;
  send(frame: unknown): void;
  sendText(text: string): void;
  next(pred: (f: any) => boolean, what?: string, timeoutMs?: number): Promise<any>;
  waitClosed(timeoutMs?: number): Promise<{ code: number; reason: string }>;
  close(): void;
}

export async function rawConnect(url: string, opts: { headers?: Record<string, string>; protocols?: string[] } = {}): Promise<RawClient> {
  const ws = new WebSocket(url, { headers: opts.headers, protocols: opts.protocols } as any);
  const c: RawClient = {
    ws,
    frames: [],
    texts: [],
    closed: null,
    send: (f) => ws.send(JSON.stringify(f)),
    sendText: (t) => ws.send(t),
    async next(pred, what = "a matching frame", timeoutMs = 15_000) {
      let i = 0;
      return waitFor(what, () => {
        for (; i < c.frames.length; i++) if (pred(c.frames[i])) return { v: c.frames[i] };
        if (c.closed) throw new Error(`socket closed (${c.closed.code}) while waiting for ${what}`);
        return undefined;
      }, timeoutMs).then((x) => x.v);
    },
    waitClosed: (timeoutMs = 15_000) => waitFor("socket close", () => c.closed, timeoutMs),
    close: () => ws.close(),
  };
  ws.onmessage = (e) => {
    const t = typeof e.data === "string" ? e.data : new TextDecoder().decode(e.data as ArrayBuffer);
    c.texts.push(t);
    try {
      c.frames.push(JSON.parse(t));
    } catch {
      c.frames.push(t);
    }
  };
  ws.onclose = (e) => (c.closed = { code: e.code, reason: e.reason });
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("websocket error before open"));
    setTimeout(() => reject(new Error("websocket open timed out")), 15_000);
  });
  return c;
}

/** The upgrade refused: fetch the same URL as an upgrade request and read status and JSON body. */
export async function upgradeRefusal(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(url.replace(/^ws/, "http"), {
    headers: { connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", ...headers },
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, body };
}
