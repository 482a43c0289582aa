// A socket that spins join/leave is refused with rate_limited (joins churn everyone's presence).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { rawConnect } from "../support/raw-ws.ts";
import { removeDir, startTestServer, type TestServer } from "../support/server.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  await s.createStream("spin-1");
});
afterAll(async () => {
  await s.stop();
  removeDir(s.dataDir);
});

test("join/leave spinning hits the per-socket join limit with retry_after_ms", async () => {
  const c = await rawConnect(`${s.ws}/websocket?vsn=2.0.0`);
  for (let i = 1; i <= 200; i++) {
    const ref = String(i);
    c.send([ref, ref, "stream:spin-1", "phx_join", {}]);
    c.send([ref, `${ref}-leave`, "stream:spin-1", "phx_leave", {}]);
  }
  const refused = await c.next((f) => f[3] === "phx_reply" && f[4]?.response?.reason === "rate_limited", "a rate_limited join reply");
  expect(refused[4].status).toBe("error");
  expect(refused[4].response.retry_after_ms).toBeGreaterThan(0);
  // The socket stays open and usable.
  c.send([null, "hb", "phoenix", "heartbeat", {}]);
  await c.next((f) => f[1] === "hb" && f[4]?.status === "ok", "heartbeat reply");
  c.close();
});
