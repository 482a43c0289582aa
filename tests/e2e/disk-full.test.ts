// T6: a full disk. The data folder sits on a small tmpfs that the test fills up: a moderator action
// whose audit row cannot be written does not happen (no ban, no deletion, a clear 503), chat answers
// `unavailable` instead of acknowledging what it could not store, the process keeps running, and
// once space is back the same action works. Needs root to mount a tmpfs (CI runs as root); without
// it the test says so and is skipped.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statfsSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeAll, startChatServer, viewer, type ChatServer, type Viewer } from "../support/chat.ts";

const mountDir = mkdtempSync(join(tmpdir(), "hubbub-full-"));
const canMount = process.getuid?.() === 0 && spawnSync("mount", ["-t", "tmpfs", "-o", "size=24m", "tmpfs", mountDir]).status === 0;
if (!canMount) console.warn("disk-full test skipped: mounting a tmpfs needs root");

let s: ChatServer;
const open: Viewer[] = [];
const filler = join(mountDir, "filler");

beforeAll(async () => {
  if (!canMount) return;
  s = await startChatServer({ dataDir: join(mountDir, "data") });
});
afterAll(async () => {
  closeAll(...open);
  if (s) await s.stop();
  if (canMount) spawnSync("umount", [mountDir]);
  rmSync(mountDir, { recursive: true, force: true });
});

function fillDisk(): void {
  const free = Number(statfsSync(mountDir).bavail) * Number(statfsSync(mountDir).bsize);
  writeFileSync(filler, Buffer.alloc(free));
}

test.skipIf(!canMount)("with the disk full, an action whose audit row cannot be written does not happen", async () => {
  await s.createStream("full-1", { rate_limit: { messages: 1000, per_s: 1 } });
  const v = viewer(s.ws, await s.token("victim"));
  open.push(v);
  const ch = await v.join("stream:full-1");
  const m = await ch.publish("written while there is space");
  fillDisk();
  const ban = await s.api("POST", "/api/v1/streams/full-1/moderation", { action: "ban", user_id: "victim", reason: "test" });
  expect(ban.status).toBe(503);
  expect(ban.body.error.code).toBe("unavailable");
  const del = await s.api("POST", "/api/v1/streams/full-1/moderation", { action: "delete", seq: m.seq });
  expect(del.status).toBe(503);
  // Chat does not acknowledge what it could not store.
  const refused = await ch.send({ body: "no room for this" });
  expect(refused.status).toBe("error");
  expect(refused.response.reason).toBe("unavailable");
  unlinkSync(filler);
  // Nothing of the failed actions happened: not banned, the message is still there.
  expect((await ch.send({ body: "still allowed to chat" })).response.status).toBe("published");
  const hist = await s.api("GET", "/api/v1/streams/full-1/chat");
  expect(hist.body.data.find((x: any) => x.seq === m.seq).body).toBe("written while there is space");
  const audit = await s.api("GET", "/api/v1/streams/full-1/audit?action=moderation.ban");
  expect(audit.body.data).toHaveLength(0);
  // Space is back: the same action works, with its audit row.
  expect((await s.api("POST", "/api/v1/streams/full-1/moderation", { action: "ban", user_id: "victim" })).status).toBe(200);
  expect((await ch.send({ body: "now banned" })).response.reason).toBe("banned");
  expect((await s.api("GET", "/api/v1/streams/full-1/audit?action=moderation.ban")).body.data).toHaveLength(1);
});
