// Who may open a viewer socket (PRODUCT.md "Identity", RELIABILITY.md T11): tokens in params and in
// the phoenix >= 1.8 subprotocol, guests, refused tokens and origins (403 + JSON before any upgrade),
// audience/issuer, JWKS keys, revocation, and the connect limits (per viewer, per IP, trusted proxies).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { mintViewerToken } from "../../src/identity/viewer-token.ts";
import {
  authTokenProtocol,
  connectionEvents,
  refuseUpgrade,
  socketUrl,
  startClockedServer,
  type ClockedServer,
} from "../support/identity.ts";
import { connect, join, push, type Socket } from "../support/phoenix.ts";
import { rawConnect, upgradeRefusal, type RawClient } from "../support/raw-ws.ts";
import { freePortCandidate, removeDir, startTestServer, TOKEN_SECRET, type TestServer } from "../support/server.ts";
import { waitFor } from "../support/wait.ts";

const STREAM = "auth-1";
const ALLOWED = "https://allowed.example.com";

// Everything opened by a test is closed in afterAll, even when the test failed half-way.
const sockets: Socket[] = [];
const raws: RawClient[] = [];
function phx(url: string, params: Record<string, unknown> = {}, opts: Record<string, unknown> = {}): Socket {
  const socket = connect(url, params, opts);
  sockets.push(socket);
  return socket;
}
async function raw(url: string, opts: { headers?: Record<string, string>; protocols?: string[] } = {}): Promise<RawClient> {
  const c = await rawConnect(url, opts);
  raws.push(c);
  return c;
}
const hs256 = (claims: Record<string, unknown>, secret = TOKEN_SECRET) =>
  new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(new TextEncoder().encode(secret));
const nowS = () => Math.floor(Date.now() / 1000);

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ HUBBUB_ALLOWED_ORIGINS: ALLOWED, HUBBUB_MAX_SOCKETS_PER_VIEWER: "2" });
  await s.createStream(STREAM);
});
afterAll(async () => {
  for (const so of sockets) so.disconnect();
  for (const c of raws) c.close();
  await s.stop();
  removeDir(s.dataDir);
});

async function joinStream(socket: Socket, slug = STREAM): Promise<any> {
  return join(socket.channel(`stream:${slug}`, {}));
}

describe("tokens", () => {
  test("a token in params identifies the viewer", async () => {
    const socket = phx(s.ws, { token: await s.token("alice", { name: "Alice" }) });
    const reply = await joinStream(socket);
    expect(reply.me).toMatchObject({ id: "alice", name: "Alice", guest: false, role: "viewer" });
    expect(reply.me.can).toMatchObject({ chat: true, react: true, vote: true, moderate: false });
  });

  test("a token in the phoenix >= 1.8 authToken subprotocol identifies the viewer; the server answers 'phoenix'", async () => {
    const token = await s.token("bea", { name: "Bea" });
    const socket = phx(s.ws, {}, { authToken: token });
    const reply = await joinStream(socket);
    expect(reply.me).toMatchObject({ id: "bea", name: "Bea", guest: false });
    // Browsers abort a handshake whose answer names no offered subprotocol.
    expect((socket as any).conn.protocol).toBe("phoenix");

    const c = await raw(socketUrl(s.ws), { protocols: ["phoenix", authTokenProtocol(token)] });
    expect(c.ws.protocol).toBe("phoenix");

    // A refused token in the subprotocol is refused like one in params.
    const expired = await s.token("bea", {}, -60);
    const r = await upgradeRefusal(socketUrl(s.ws), { "sec-websocket-protocol": `phoenix, ${authTokenProtocol(expired)}` });
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe("token_expired");
  });

  test("no token: a guest", async () => {
    const socket = phx(s.ws);
    const reply = await joinStream(socket);
    expect(reply.me).toMatchObject({ id: null, guest: true, role: "viewer" });
    expect(reply.me.name).toMatch(/^guest-/);
    expect(reply.me.can).toEqual({ chat: false, react: true, vote: false, moderate: false });
  });

  test("an expired token is refused with 403 token_expired, and the phoenix client never gets a joined channel", async () => {
    const expired = await s.token("carl", {}, -60);
    const r = await upgradeRefusal(socketUrl(s.ws, { token: expired }));
    expect(r.status).toBe(403);
    expect(r.body).toEqual({ error: { code: "token_expired", message: expect.any(String) } });

    const socket = phx(s.ws, { token: expired });
    const ev = connectionEvents(socket);
    const ch = socket.channel(`stream:${STREAM}`, {});
    const outcomes: string[] = [];
    ch.join(60_000)
      .receive("ok", () => outcomes.push("ok"))
      .receive("error", () => outcomes.push("error"));
    // The client retries the refused connect on its own: wait for two refusals.
    await waitFor("two refused connects", () => ev.errors >= 2);
    expect(ev.opens).toBe(0);
    expect(outcomes).not.toContain("ok");
    ch.leave();
    socket.disconnect();
  });

  test("bad signatures and garbage are refused with 403 invalid_token", async () => {
    const good = await s.token("dora");
    const [h, , sig] = good.split(".");
    const tampered = [h, Buffer.from(JSON.stringify({ sub: "admin", exp: nowS() + 3600 })).toString("base64url"), sig].join(".");
    const unsigned = [
      Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url"),
      Buffer.from(JSON.stringify({ sub: "dora", exp: nowS() + 3600 })).toString("base64url"),
      "",
    ].join(".");
    const bad: Record<string, string> = {
      "signed with another secret": await mintViewerToken("some-other-secret-0123456789abcdef-xyz", { sub: "dora" }),
      "tampered payload": tampered,
      "alg none": unsigned,
      "no exp claim": await hs256({ sub: "dora", iat: nowS() }),
      "no sub claim": await hs256({ exp: nowS() + 3600 }),
      garbage: "not-a-jwt",
      "three dots": "a.b.c",
      "oversized": "x".repeat(9000),
    };
    for (const [what, token] of Object.entries(bad)) {
      const r = await upgradeRefusal(socketUrl(s.ws, { token }));
      expect({ what, status: r.status, code: r.body?.error?.code }).toEqual({ what, status: 403, code: "invalid_token" });
    }
  });
});

describe("audience and issuer, when configured", () => {
  let sa: TestServer;
  beforeAll(async () => {
    sa = await startTestServer({ HUBBUB_VIEWER_TOKEN_AUDIENCE: "hubbub-viewers", HUBBUB_VIEWER_TOKEN_ISSUER: "https://host.example" });
    await sa.createStream(STREAM);
  });
  afterAll(async () => {
    await sa.stop();
    removeDir(sa.dataDir);
  });

  test("a wrong or missing aud/iss is refused with invalid_token; the right ones connect", async () => {
    const cases: Record<string, { aud?: string; iss?: string }> = {
      "wrong aud": { aud: "someone-else", iss: "https://host.example" },
      "wrong iss": { aud: "hubbub-viewers", iss: "https://evil.example" },
      "no aud": { iss: "https://host.example" },
      "no iss": { aud: "hubbub-viewers" },
    };
    for (const [what, claims] of Object.entries(cases)) {
      const token = await mintViewerToken(TOKEN_SECRET, { sub: "erin", ...claims });
      const r = await upgradeRefusal(socketUrl(sa.ws, { token }));
      expect({ what, status: r.status, code: r.body?.error?.code }).toEqual({ what, status: 403, code: "invalid_token" });
    }
    const token = await mintViewerToken(TOKEN_SECRET, { sub: "erin", name: "Erin", aud: "hubbub-viewers", iss: "https://host.example" });
    const reply = await joinStream(phx(sa.ws, { token }));
    expect(reply.me).toMatchObject({ id: "erin", name: "Erin", guest: false });
  });
});

describe("JWKS", () => {
  let jwks: ReturnType<typeof Bun.serve>;
  let sj: TestServer;
  let privateKey: CryptoKey;
  let jwksHits = 0;
  beforeAll(async () => {
    const pair = await generateKeyPair("ES256", { extractable: true });
    privateKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "key-1", alg: "ES256", use: "sig" };
    const body = JSON.stringify({ keys: [jwk] });
    let lastErr: unknown;
    for (let i = 0; i < 20 && !jwks; i++) {
      try {
        jwks = Bun.serve({
          port: freePortCandidate(),
          hostname: "127.0.0.1",
          fetch(req) {
            if (new URL(req.url).pathname !== "/.well-known/jwks.json") return new Response("no", { status: 404 });
            jwksHits++;
            return new Response(body, { headers: { "content-type": "application/json" } });
          },
        });
      } catch (e) {
        lastErr = e;
      }
    }
    if (!jwks) throw lastErr;
    // No shared secret at all: startTestServer sets one, and an empty value counts as unset.
    sj = await startTestServer({ HUBBUB_VIEWER_JWKS_URL: `http://127.0.0.1:${jwks.port}/.well-known/jwks.json`, HUBBUB_VIEWER_TOKEN_SECRET: "" });
    await sj.createStream(STREAM);
  });
  afterAll(async () => {
    await sj?.stop();
    if (sj) removeDir(sj.dataDir);
    jwks?.stop(true);
  });

  const es256 = (key: CryptoKey, claims: Record<string, unknown>, expS = 3600) =>
    new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: "key-1" }).setIssuedAt().setExpirationTime(nowS() + expS).sign(key);

  test("a token signed with the JWKS key connects; HS256 and other keys do not", async () => {
    const token = await es256(privateKey, { sub: "jay", name: "Jay" });
    const reply = await joinStream(phx(sj.ws, { token }));
    expect(reply.me).toMatchObject({ id: "jay", name: "Jay", guest: false });
    expect(jwksHits).toBeGreaterThan(0);

    const hs = await mintViewerToken(TOKEN_SECRET, { sub: "jay" });
    const r1 = await upgradeRefusal(socketUrl(sj.ws, { token: hs }));
    expect([r1.status, r1.body.error.code]).toEqual([403, "invalid_token"]);

    const other = await generateKeyPair("ES256");
    const r2 = await upgradeRefusal(socketUrl(sj.ws, { token: await es256(other.privateKey, { sub: "jay" }) }));
    expect([r2.status, r2.body.error.code]).toEqual([403, "invalid_token"]);

    const r3 = await upgradeRefusal(socketUrl(sj.ws, { token: await es256(privateKey, { sub: "jay" }, -60) }));
    expect([r3.status, r3.body.error.code]).toEqual([403, "token_expired"]);
  });
});

describe("origins", () => {
  test("a foreign Origin is refused with 403 origin_not_allowed before the upgrade, even with a valid token", async () => {
    const token = await s.token("fay");
    for (const origin of ["https://evil.example", "null", "https://allowed.example.com.evil.net", "http://allowed.example.com", `http://127.0.0.1:${s.port + 1}`]) {
      const r = await upgradeRefusal(socketUrl(s.ws, { token }), { origin });
      expect({ origin, status: r.status, code: r.body?.error?.code }).toEqual({ origin, status: 403, code: "origin_not_allowed" });
    }
    // A real WebSocket client with that origin never opens.
    await expect(rawConnect(socketUrl(s.ws, { token }), { headers: { origin: "https://evil.example" } })).rejects.toThrow();
  });

  test("an origin in HUBBUB_ALLOWED_ORIGINS and the same origin are accepted", async () => {
    const a = await raw(socketUrl(s.ws), { headers: { origin: ALLOWED } });
    const b = await raw(socketUrl(s.ws), { headers: { origin: `http://127.0.0.1:${s.port}` } });
    for (const c of [a, b]) {
      c.send(["1", "1", `stream:${STREAM}`, "phx_join", {}]);
      const reply = await c.next((f) => Array.isArray(f) && f[1] === "1" && f[3] === "phx_reply", "join reply");
      expect(reply[4].status).toBe("ok");
    }
  });
});

describe("revocation", () => {
  test("revoking a viewer closes its sockets at once with 1008, leaves others open, and refuses tokens issued up to that second", async () => {
    const oldToken = await s.token("rev-a");
    const a1 = phx(s.ws, { token: oldToken });
    const a2 = phx(s.ws, { token: oldToken });
    const b = phx(s.ws, { token: await s.token("rev-b") });
    const evA1 = connectionEvents(a1);
    const evA2 = connectionEvents(a2);
    const evB = connectionEvents(b);
    await joinStream(a1);
    await joinStream(a2);
    const chB = b.channel(`stream:${STREAM}`, {});
    await join(chB);

    const res = await s.api("POST", "/api/v1/viewers/rev-a/revoke");
    expect(res.status).toBe(200);
    // Read before asserting: Bun 1.4.5's toMatchObject overwrites fields matched by expect.* matchers.
    const revokedAt: string = res.body.revoked_at;
    expect(res.body.viewer_id).toBe("rev-a");
    expect(revokedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    await waitFor("both of rev-a's sockets closed", () => evA1.closes.length > 0 && evA2.closes.length > 0);
    expect(evA1.closes[0]).toBe(1008);
    expect(evA2.closes[0]).toBe(1008);
    // The client would keep reconnecting with its revoked token: stop it.
    a1.disconnect();
    a2.disconnect();

    // rev-b's socket is untouched and still answers.
    expect(evB.closes).toEqual([]);
    const friends = await push(chB, "presence:friends", { ids: ["rev-b"] });
    expect(friends).toEqual({ status: "ok", response: { watching: ["rev-b"] } });

    const revokedS = Math.floor(Date.parse(revokedAt) / 1000);
    const refused = {
      "the old token": oldToken,
      "iat in the revocation second": await hs256({ sub: "rev-a", iat: revokedS, exp: nowS() + 3600 }),
      "no iat": await hs256({ sub: "rev-a", exp: nowS() + 3600 }),
    };
    for (const [what, token] of Object.entries(refused)) {
      const r = await upgradeRefusal(socketUrl(s.ws, { token }));
      expect({ what, status: r.status, code: r.body?.error?.code }).toEqual({ what, status: 403, code: "invalid_token" });
    }

    await waitFor("the next second", () => nowS() > revokedS, 5_000);
    const fresh = await s.token("rev-a");
    const again = phx(s.ws, { token: fresh });
    const reply = await joinStream(again);
    expect(reply.me.id).toBe("rev-a");
  });
});

describe("sockets per viewer (HUBBUB_MAX_SOCKETS_PER_VIEWER=2)", () => {
  test("a third socket is refused with 429 too_many_sockets until one closes", async () => {
    const token = await s.token("cap-1");
    const url = socketUrl(s.ws, { token });
    const c1 = await raw(url);
    await raw(url);
    const r = await upgradeRefusal(url);
    expect(r.status).toBe(429);
    expect(r.body.error.code).toBe("too_many_sockets");
    // Another viewer is not affected.
    await raw(socketUrl(s.ws, { token: await s.token("cap-2") }));

    c1.close();
    await waitFor("the server saw the close", () => s.app.hub.socketsOf("cap-1") === 1);
    await raw(url);
    const r2 = await upgradeRefusal(url);
    expect([r2.status, r2.body.error.code]).toEqual([429, "too_many_sockets"]);
  });
});

describe("connect rate per IP", () => {
  // A hand-driven clock: the bucket cannot refill while a slow machine runs the test.
  let sr: ClockedServer;
  beforeAll(async () => {
    sr = await startClockedServer({ HUBBUB_CONNECT_RATE_PER_IP: "1", HUBBUB_CONNECT_BURST_PER_IP: "3" });
  });
  afterAll(async () => {
    await sr.stop();
  });

  test("the 4th quick connect is refused with 429 rate_limited, retry_after_ms and Retry-After; X-Forwarded-For is ignored without trusted proxies", async () => {
    const token = await mintViewerToken(TOKEN_SECRET, { sub: "rate-1" });
    await raw(socketUrl(sr.ws));
    await raw(socketUrl(sr.ws, { token }));
    await raw(socketUrl(sr.ws));
    const r = await refuseUpgrade(socketUrl(sr.ws));
    expect(r.status).toBe(429);
    expect(r.body.error.code).toBe("rate_limited");
    expect(r.body.error.retry_after_ms).toBe(1000);
    expect(r.headers.get("retry-after")).toBe("1");
    // A client cannot pick its own address when no proxy is trusted.
    const spoofed = await refuseUpgrade(socketUrl(sr.ws), { "x-forwarded-for": "203.0.113.50" });
    expect([spoofed.status, spoofed.body.error.code]).toEqual([429, "rate_limited"]);
    // One second later, one more connect is allowed, and only one.
    sr.clock.advance(1000);
    await raw(socketUrl(sr.ws));
    const again = await refuseUpgrade(socketUrl(sr.ws));
    expect([again.status, again.body.error.code]).toEqual([429, "rate_limited"]);
  });
});

describe("trusted proxies", () => {
  let sp: ClockedServer;
  beforeAll(async () => {
    sp = await startClockedServer({ HUBBUB_TRUSTED_PROXIES: "127.0.0.1", HUBBUB_CONNECT_RATE_PER_IP: "1", HUBBUB_CONNECT_BURST_PER_IP: "2" });
  });
  afterAll(async () => {
    await sp.stop();
  });

  test("behind a trusted proxy, connects are limited per X-Forwarded-For client address", async () => {
    const url = socketUrl(sp.ws);
    const via = (xff: string) => ({ headers: { "x-forwarded-for": xff } });
    await raw(url, via("203.0.113.1"));
    await raw(url, via("203.0.113.1"));
    const r = await refuseUpgrade(url, { "x-forwarded-for": "203.0.113.1" });
    expect([r.status, r.body.error.code]).toEqual([429, "rate_limited"]);
    // The entry our proxy appended counts, not one the client prepended; trusted hops are skipped.
    for (const xff of ["198.51.100.9, 203.0.113.1", "203.0.113.1, 127.0.0.1"]) {
      const rr = await refuseUpgrade(url, { "x-forwarded-for": xff });
      expect({ xff, status: rr.status, code: rr.body?.error?.code }).toEqual({ xff, status: 429, code: "rate_limited" });
    }
    // Another client behind the same proxy still connects.
    await raw(url, via("203.0.113.2"));
    await raw(url, via("2001:db8::7"));
  });
});
