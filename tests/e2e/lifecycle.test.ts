// The server as an operator runs it: `bun src/cli.ts serve` in a child process. Guards the SIGTERM
// drain (RELIABILITY T2, small scale), reconnect and rejoin after a restart with no presence ghosts
// (T12), logs that never carry secrets, /metrics, /healthz and the one-time admin password.
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, statSync } from "node:fs";
import { join as joinPath } from "node:path";
import type { Channel, Socket } from "phoenix";
import { mintViewerToken } from "../../src/identity/viewer-token.ts";
import { connect, join, Presence } from "../support/phoenix.ts";
import { ADMIN_KEY, ADMIN_PASSWORD, spawnServer, TOKEN_SECRET, type ServerProcess } from "../support/process-server.ts";
import { upgradeRefusal } from "../support/raw-ws.ts";
import { removeDir, tempDir } from "../support/server.ts";
import { waitFor } from "../support/wait.ts";

const procs: ServerProcess[] = [];
const dirs: string[] = [];
const sockets: Socket[] = [];

afterAll(async () => {
  for (const so of sockets) so.disconnect();
  for (const p of procs) await p.kill();
  for (const d of dirs) removeDir(d);
});

async function server(o: Parameters<typeof spawnServer>[0] = {}): Promise<ServerProcess> {
  const dataDir = o.dataDir ?? tempDir("hubbub-life-");
  if (!dirs.includes(dataDir)) dirs.push(dataDir);
  const p = await spawnServer({ ...o, dataDir });
  procs.push(p);
  return p;
}

function open(url: string, params: Record<string, unknown> = {}, opts: Record<string, unknown> = {}): Socket {
  const so = connect(url, params, opts);
  sockets.push(so);
  return so;
}

async function createStream(p: ServerProcess, slug: string) {
  const r = await p.api("POST", "/api/v1/streams", { slug, title: `Stream ${slug}` });
  expect(r.status).toBe(201);
}

/** /readyz as an operator's probe sees it: a status, or "refused" when nothing listens. */
async function readyz(p: ServerProcess): Promise<number | "refused"> {
  try {
    return (await fetch(`${p.http}/readyz`)).status;
  } catch {
    return "refused";
  }
}

describe("SIGTERM drain (T2, small scale)", () => {
  test("every client is closed with 1012, the process exits 0, SQLite is intact and checkpointed", async () => {
    const p = await server();
    await createStream(p, "drain-1");
    const N = 120;
    const clients = await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        // Half signed-in, half guests.
        const so = open(p.ws, i % 2 ? { token: await p.token(`d${i}`) } : {});
        const c = { so, ch: so.channel("stream:drain-1", {}), firstClose: null as number | null };
        // Only the close of the established connection counts; failed reconnects afterwards are 1006 by nature.
        so.onClose((e: any) => (c.firstClose ??= e.code));
        return c;
      }),
    );
    await Promise.all(clients.map((c) => join(c.ch)));

    p.proc.kill("SIGTERM");
    await waitFor("a first client closed by the drain", () => clients.some((c) => c.firstClose !== null), 20_000);
    // Draining: not ready, or no longer listening.
    expect(await readyz(p)).not.toBe(200);
    await waitFor("every client closed", () => clients.every((c) => c.firstClose !== null), 20_000);
    const codes = new Map<number, number>();
    for (const c of clients) codes.set(c.firstClose!, (codes.get(c.firstClose!) ?? 0) + 1);
    expect(Object.fromEntries(codes)).toEqual({ 1012: N });
    for (const c of clients) c.so.disconnect(); // stop the reconnect loops

    expect(await p.exitCode).toBe(0);
    expect(p.stderr()).toContain("SIGTERM received, draining");
    expect(await readyz(p)).toBe("refused");

    const file = joinPath(p.dataDir, "hubbub.sqlite");
    // Checkpointed at shutdown: nothing left to replay.
    const wal = `${file}-wal`;
    expect(existsSync(wal) ? statSync(wal).size : 0).toBe(0);
    const db = new Database(file, { readonly: true });
    try {
      expect(db.query("PRAGMA integrity_check").all()).toEqual([{ integrity_check: "ok" }]);
      expect(db.query("SELECT slug FROM streams WHERE slug = 'drain-1'").all()).toEqual([{ slug: "drain-1" }]);
    } finally {
      db.close();
    }
  }, 60_000);
});

describe("restart: clients reconnect and rejoin by themselves, presence has no ghosts", () => {
  test("after kill -9 and a new server on the same port and data folder", async () => {
    const a = await server();
    await createStream(a, "restart-1");

    interface C {
      name: string;
      id: string | null;
      so: Socket;
      ch: Channel;
      states: number; // presence_state pushes received: one per (re)join
      errors: unknown[];
    }
    const mk = async (name: string, id: string | null): Promise<C> => {
      const so = open(a.ws, id ? { token: await a.token(id) } : {});
      const c: C = { name, id, so, ch: so.channel("stream:restart-1", {}), states: 0, errors: [] };
      c.ch.on("presence_state", () => void c.states++);
      return c;
    };
    const observer = await mk("observer", "observer");
    const presence = new Presence(observer.ch);
    let count = -1;
    observer.ch.on("viewers", (x: any) => (count = x.count));
    const others = [
      await mk("alice", "alice"),
      await mk("alice-2", "alice"), // a second socket of the same viewer
      await mk("bob", "bob"),
      await mk("carol", "carol"), // goes away during the outage
      await mk("guest-1", null),
      await mk("guest-2", null), // goes away during the outage
    ];
    const all = [observer, ...others];
    for (const c of all) c.ch.join().receive("error", (e: unknown) => c.errors.push(e));
    const list = () => Object.fromEntries(presence.list((k: string, p: any) => [k, p.metas.length] as const).sort(([x], [y]) => (x < y ? -1 : 1)));
    const before = { alice: 2, bob: 1, carol: 1, observer: 1 };
    await waitFor("everyone listed before the kill", () => JSON.stringify(list()) === JSON.stringify(before) && count === 6, 20_000);
    await waitFor("everyone joined once", () => all.every((c) => c.states === 1));

    a.proc.kill("SIGKILL");
    expect(await a.exitCode).not.toBe(0);
    // Two clients give up while the server is down: they must not come back as ghosts.
    const gone = others.filter((c) => c.name === "carol" || c.name === "guest-2");
    for (const c of gone) c.so.disconnect();
    const stay = all.filter((c) => !gone.includes(c));

    const b = await server({ port: a.port, dataDir: a.dataDir });
    // phoenix's reconnect timer brings the sockets back, and each channel rejoins (a second presence_state).
    await waitFor("every remaining client rejoined", () => stay.every((c) => c.states >= 2), 30_000);
    const after = { alice: 2, bob: 1, observer: 1 };
    await waitFor(
      `observer lists exactly ${JSON.stringify(after)} with count 4`,
      () => JSON.stringify(list()) === JSON.stringify(after) && count === 4,
      20_000,
    ).catch((e) => {
      throw new Error(`${(e as Error).message}; list now ${JSON.stringify(list())}, count ${count}`);
    });
    expect(all.flatMap((c) => c.errors)).toEqual([]);
    for (const c of all) c.so.disconnect();
    b.proc.kill("SIGTERM");
    expect(await b.exitCode).toBe(0);
  }, 90_000);
});

describe("logs", () => {
  test("never contain tokens, the admin key or the admin password; stdout is JSON lines", async () => {
    const p = await server({ env: { HUBBUB_LOG_LEVEL: "debug" } });
    await createStream(p, "logs-1");
    expect((await p.api("GET", "/api/v1/streams")).status).toBe(200);
    const wrongKey = "wrong-admin-key-ZZZZZZZZZZZZZZZZZZZZ";
    expect((await p.api("GET", "/api/v1/streams", undefined, wrongKey)).status).toBe(401);

    const inParams = await p.token("logger-a");
    const inSubprotocol = await p.token("logger-b");
    const s1 = open(p.ws, { token: inParams });
    const s2 = open(p.ws, {}, { authToken: inSubprotocol });
    expect((await join(s1.channel("stream:logs-1", {}))).me.id).toBe("logger-a");
    expect((await join(s2.channel("stream:logs-1", {}))).me.id).toBe("logger-b");

    // Refused tokens: a well-formed JWT signed with another secret, in the query and in the subprotocol.
    const bad = await mintViewerToken("another-secret-that-the-server-does-not-know", { sub: "mallory" }, 3600);
    const refusedQuery = await upgradeRefusal(`${p.ws}/websocket?vsn=2.0.0&token=${bad}`);
    expect(refusedQuery).toMatchObject({ status: 403, body: { error: { code: "invalid_token" } } });
    const bad2 = await mintViewerToken("another-secret-that-the-server-does-not-know", { sub: "mallory-2" }, 3600);
    const refusedProto = await upgradeRefusal(`${p.ws}/websocket?vsn=2.0.0`, {
      "sec-websocket-protocol": `phoenix, base64url.bearer.phx.${btoa(bad2).replace(/=/g, "")}`,
    });
    expect(refusedProto.status).toBe(403);

    s1.disconnect();
    s2.disconnect();
    p.proc.kill("SIGTERM");
    expect(await p.exitCode).toBe(0);
    const out = p.stdout();
    const all = out + p.stderr();
    expect(out.length).toBeGreaterThan(0);
    const secrets: Record<string, string> = { ADMIN_KEY, ADMIN_PASSWORD, TOKEN_SECRET, wrongKey, inParams, inSubprotocol, bad, bad2 };
    // A JWT's signature alone is enough to matter: look for it too, not only the whole token.
    for (const [name, t] of Object.entries({ inParams, inSubprotocol, bad, bad2 })) secrets[`${name} signature`] = t.split(".")[2]!;
    secrets["subprotocol token, base64"] = btoa(inSubprotocol).replace(/=/g, "");
    const leaked = Object.entries(secrets).filter(([, v]) => all.includes(v)).map(([k]) => k);
    expect(leaked).toEqual([]);
    const lines = out.split("\n").filter((l) => l.length > 0);
    const notJson = lines.filter((l) => {
      try {
        const o = JSON.parse(l);
        return typeof o !== "object" || o === null || typeof o.level !== "string" || typeof o.msg !== "string" || typeof o.time !== "string";
      } catch {
        return true;
      }
    });
    expect(notJson).toEqual([]);
  }, 60_000);
});

describe("/metrics", () => {
  const REQUIRED = [
    "hubbub_connections",
    "hubbub_joins_total",
    "hubbub_frames_in_total",
    "hubbub_frames_out_total",
    "hubbub_errors_total",
    "hubbub_event_loop_lag_seconds",
  ];

  async function scrape(p: ServerProcess) {
    const res = await fetch(`${p.http}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/plain");
    const text = await res.text();
    const values = new Map<string, number>();
    for (const line of text.split("\n")) {
      if (line === "" || line.startsWith("#")) continue;
      // Prometheus text format 0.0.4: name{labels} value
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
      if (!m) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
      expect(Number.isNaN(Number(m[3]))).toBe(false);
      if (!m[2]) values.set(m[1]!, Number(m[3]));
    }
    return { text, values };
  }

  test("is Prometheus text with the core series, and hubbub_connections follows open sockets", async () => {
    const p = await server();
    await createStream(p, "metrics-1");
    const first = await scrape(p);
    for (const name of REQUIRED) {
      expect(first.text).toMatch(new RegExp(`^# TYPE ${name} (counter|gauge)$`, "m"));
      expect(first.text).toMatch(new RegExp(`^${name}(\\{[^}]*\\})? `, "m"));
    }
    expect(first.values.get("hubbub_connections")).toBe(0);

    const socks = [open(p.ws), open(p.ws, { token: await p.token("m1") }), open(p.ws)];
    await Promise.all(socks.map((so) => join(so.channel("stream:metrics-1", {}))));
    await waitFor("hubbub_connections 3", async () => (await scrape(p)).values.get("hubbub_connections") === 3);
    const now = await scrape(p);
    expect(now.values.get("hubbub_joins_total")).toBeGreaterThanOrEqual(3);
    expect(now.values.get("hubbub_frames_in_total")).toBeGreaterThanOrEqual(3);
    expect(now.values.get("hubbub_frames_out_total")).toBeGreaterThanOrEqual(3);
    expect(now.values.get("hubbub_event_loop_lag_seconds")).toBeGreaterThanOrEqual(0);

    socks[0]!.disconnect();
    await waitFor("hubbub_connections 2", async () => (await scrape(p)).values.get("hubbub_connections") === 2);
    for (const so of socks) so.disconnect();
    await waitFor("hubbub_connections 0", async () => (await scrape(p)).values.get("hubbub_connections") === 0);
    p.proc.kill("SIGTERM");
    expect(await p.exitCode).toBe(0);
  }, 60_000);
});

describe("first start", () => {
  test("prints a generated admin password once, to stderr only; a second start does not; /healthz is JSON", async () => {
    const dataDir = tempDir("hubbub-life-");
    const first = await server({ dataDir, env: { HUBBUB_ADMIN_PASSWORD: undefined } });
    const health = await fetch(`${first.http}/healthz`);
    expect(health.status).toBe(200);
    expect(health.headers.get("content-type")).toStartWith("application/json");
    expect(await health.json()).toMatchObject({ status: "ok" });
    first.proc.kill("SIGTERM");
    expect(await first.exitCode).toBe(0);
    const m = /created the account "admin" with the password:\s+(\S+)/.exec(first.stderr());
    expect(m).not.toBeNull();
    const password = m![1]!;
    expect(password.length).toBeGreaterThanOrEqual(8);
    expect(first.stderr().split(password).length - 1).toBe(1); // shown once
    expect(first.stdout()).not.toContain(password); // never in the JSON log

    const second = await server({ dataDir, env: { HUBBUB_ADMIN_PASSWORD: undefined } });
    expect((await fetch(`${second.http}/healthz`)).status).toBe(200);
    second.proc.kill("SIGTERM");
    expect(await second.exitCode).toBe(0);
    expect(second.stderr()).not.toContain("created the account");
    expect(second.stderr() + second.stdout()).not.toContain(password);
  }, 60_000);
});
