// Issue 7's promise: "a moderator's action shows up on every open dashboard of that stream within
// 2 s". A real server process; two dashboards (an admin and a creator session) follow the stream's
// SSE feed; a phoenix-protocol viewer chats; then, repeatedly, dashboard A deletes a message and we
// time how long until dashboard B's feed carries the tombstone, and how long a viewer's message takes
// to reach both feeds. Prints a table (p50 / p95 / max over the rounds).
// Usage: bun bench/dashboard-latency.ts [--rounds=50]
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROUNDS = Number(process.argv.find((a) => a.startsWith("--rounds="))?.split("=")[1] ?? 50);
const PORT = 12000 + Math.floor(Math.random() * 18000);
const BASE = `http://127.0.0.1:${PORT}`;
const KEY = "bench-admin-key-0123456789abcdef";
const PASSWORD = "bench-admin-password";
const dir = mkdtempSync(join(tmpdir(), "hubbub-dash-bench-"));
const proc = spawn(join(import.meta.dir, "..", "node_modules", ".bin", "bun"), ["src/cli.ts", "serve"], {
  cwd: join(import.meta.dir, ".."),
  env: { ...process.env, HUBBUB_PORT: String(PORT), HUBBUB_HOST: "127.0.0.1", HUBBUB_DATA_DIR: dir, HUBBUB_ADMIN_API_KEY: KEY, HUBBUB_ADMIN_PASSWORD: PASSWORD, HUBBUB_LOG_LEVEL: "error", HUBBUB_VIEWER_TOKEN_SECRET: "bench-viewer-secret-0123456789abcdef-xyz", HUBBUB_CONNECT_RATE_PER_IP: "0" },
  stdio: ["ignore", "ignore", "inherit"],
});
const cleanup = () => {
  proc.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
};
process.on("exit", cleanup);

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch {}
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await Bun.sleep(20);
  }
}

const api = (method: string, path: string, body?: unknown) =>
  fetch(BASE + path, { method, headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) }).then((r) => r.json() as Promise<any>);

async function login(username: string, password: string) {
  const r = await fetch(`${BASE}/dashboard/login`, {
    method: "POST", redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: BASE, "sec-fetch-site": "same-origin" },
    body: new URLSearchParams({ username, password }).toString(),
  });
  const cookie = r.headers.get("set-cookie")!.split(";")[0]!;
  const page = await (await fetch(`${BASE}/dashboard`, { headers: { cookie } })).text();
  const csrf = /X-CSRF-Token&quot;:&quot;([^&]+)&quot;/.exec(page)![1]!;
  return { cookie, csrf };
}

/** An SSE feed read continuously; `seen(text)` resolves with the time the text first arrived. */
async function feed(cookie: string, slug: string) {
  const res = await fetch(`${BASE}/dashboard/streams/${slug}/events`, { headers: { cookie, accept: "text/event-stream" } });
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let text = "";
  const waiters: Array<{ needle: string; resolve: (t: number) => void }> = [];
  (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      text += dec.decode(value, { stream: true });
      const now = performance.now();
      for (let i = waiters.length - 1; i >= 0; i--) if (text.includes(waiters[i]!.needle)) waiters.splice(i, 1)[0]!.resolve(now);
      if (text.length > 1_000_000) text = text.slice(-200_000);
    }
  })();
  return { seen: (needle: string) => new Promise<number>((resolve) => (text.includes(needle) ? resolve(performance.now()) : waiters.push({ needle, resolve }))) };
}

function pct(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
}

await until("server up", async () => (await fetch(`${BASE}/readyz`)).ok);
await api("POST", "/api/v1/accounts", { username: "carla", password: "correct horse battery", role: "creator" });
await api("POST", "/api/v1/streams", { slug: "bench-dash", title: "Dashboard latency", owner: "carla", settings: { rate_limit: { messages: 10000, per_s: 1 }, automod_level: 0 } });
await api("POST", "/api/v1/streams/bench-dash/live");
const a = await login("admin", PASSWORD);
const b = await login("carla", "correct horse battery");
const fa = await feed(a.cookie, "bench-dash");
const fb = await feed(b.cookie, "bench-dash");

// A viewer on a raw WebSocket speaking Phoenix V2 (guests may not chat: a signed token).
const { mintViewerToken } = await import("../src/identity/viewer-token.ts");
const token = await mintViewerToken("bench-viewer-secret-0123456789abcdef-xyz", { sub: "bench-v", name: "Bench Viewer" }, 3600);
const ws = new WebSocket(`ws://127.0.0.1:${PORT}/socket/websocket?vsn=2.0.0&token=${token}`);
await new Promise((r) => ws.addEventListener("open", r, { once: true }));
const replies = new Map<string, (p: any) => void>();
ws.addEventListener("message", (e) => {
  const [, ref, , event, payload] = JSON.parse(String(e.data));
  if (event === "phx_reply" && replies.has(ref)) replies.get(ref)!(payload);
});
let ref = 0;
const push = (event: string, payload: unknown) =>
  new Promise<any>((resolve) => {
    const r = String(++ref);
    replies.set(r, resolve);
    ws.send(JSON.stringify(["1", r, "stream:bench-dash", event, payload]));
  });
await push("phx_join", {});

const toDash: number[] = [];
const modToOther: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  const body = `latency probe ${i} ${Math.random().toString(36).slice(2)}`;
  const t0 = performance.now();
  const seenA = fa.seen(body);
  const seenB = fb.seen(body);
  const r = await push("chat:send", { body });
  const [ta, tb] = await Promise.all([seenA, seenB]);
  toDash.push(Math.max(ta, tb) - t0);
  const seq = r.response.seq as number;
  const tomb = `Message #${seq} deleted`;
  const t1 = performance.now();
  const seenOther = fb.seen(tomb);
  const del = await fetch(`${BASE}/dashboard/streams/bench-dash/moderate`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: BASE, "sec-fetch-site": "same-origin", "hx-request": "true", "x-csrf-token": a.csrf, cookie: a.cookie },
    body: new URLSearchParams({ action: "delete", seq: String(seq) }).toString(),
  });
  if (!del.ok) throw new Error(`delete ${seq}: ${del.status}`);
  modToOther.push((await seenOther) - t1);
  await Bun.sleep(100);
}
const row = (name: string, xs: number[]) => `| ${name} | ${pct(xs, 0.5).toFixed(0)} | ${pct(xs, 0.95).toFixed(0)} | ${Math.max(...xs).toFixed(0)} | ${Math.max(...xs) <= 2000 ? "yes" : "**no**"} |`;
console.log(`\nDashboard latency (${new Date().toISOString()}, ${ROUNDS} rounds, server process on 127.0.0.1)\n`);
console.log("| path | p50 ms | p95 ms | max ms | within 2 s |\n|---|---:|---:|---:|---|");
console.log(row("viewer chat:send -> on both dashboards (SSE)", toDash));
console.log(row("moderator deletes on dashboard A -> tombstone on dashboard B (SSE)", modToOther));
ws.close();
process.exit(0);
