// The `hubbub` CLI (PRODUCT.md "CLI"): operator verbs run as child processes against a data folder,
// and a server started on that folder afterwards sees their effects: accounts, links, passwords,
// API keys and minted viewer tokens. Bad arguments exit non-zero with a message.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { runCli } from "../support/identity.ts";
import { connect, join, type Socket } from "../support/phoenix.ts";
import { readSqlite, removeDir, startTestServer, tempDir, TOKEN_SECRET, type TestServer } from "../support/server.ts";

const dataDir = tempDir("hubbub-cli-");
const env = { HUBBUB_DATA_DIR: dataDir, HUBBUB_VIEWER_TOKEN_SECRET: TOKEN_SECRET, HUBBUB_LOG_LEVEL: "error" };
const sockets: Socket[] = [];
let s: TestServer | null = null;

// What the CLI printed, kept for the checks against the server.
let creator: { username: string; password: string; id: string };
let apiKey: { id: string; key: string };
let viewerToken: string;
let newPassword: string;

afterAll(async () => {
  for (const so of sockets) so.disconnect();
  await s?.stop();
  removeDir(dataDir);
});

describe("operator verbs on a fresh data folder", () => {
  test("migrate applies the migrations once", async () => {
    const first = await runCli(["migrate"], env);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/applied migrations/);
    const second = await runCli(["migrate"], env);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/up to date/);
  });

  test("account create prints the account with a generated password", async () => {
    const r = await runCli(["account", "create", "--username", "cli-creator", "--role", "creator"], env);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ username: "cli-creator", role: "creator", viewer_id: null });
    expect(typeof out.password).toBe("string");
    expect(out.password.length).toBeGreaterThanOrEqual(12);
    expect(out.password_hash).toBeUndefined();
    creator = { username: out.username, password: out.password, id: out.id };
  });

  test("account link and account password", async () => {
    const link = await runCli(["account", "link", "cli-creator", "--viewer-id", "cli-viewer"], env);
    expect(link.code).toBe(0);
    expect(JSON.parse(link.stdout)).toMatchObject({ username: "cli-creator", viewer_id: "cli-viewer" });
    const pw = await runCli(["account", "password", "cli-creator"], env);
    expect(pw.code).toBe(0);
    const m = /new password for cli-creator: (\S+)/.exec(pw.stdout);
    expect(m).not.toBeNull();
    newPassword = m![1]!;
    expect(newPassword).not.toBe(creator.password);
  });

  test("api-key create prints the key once", async () => {
    const r = await runCli(["api-key", "create", "--name", "cli key", "--scopes", "streams"], env);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ name: "cli key", scopes: ["streams"], revoked_at: null });
    expect(out.key).toMatch(/^hbk_/);
    expect(r.stderr).toMatch(/only this once/);
    apiKey = { id: out.id, key: out.key };
  });

  test("token viewer prints a JWT", async () => {
    const r = await runCli(["token", "viewer", "--sub", "cli-viewer", "--name", "Cli Viewer"], env);
    expect(r.code).toBe(0);
    viewerToken = r.stdout.trim();
    expect(viewerToken.split(".")).toHaveLength(3);
  });

  test("bad arguments exit non-zero with a message", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["frobnicate"], /unknown command frobnicate/],
      [["account", "create", "--username", "cli-x"], /invalid account.*role/],
      [["account", "create", "--username", "cli-creator", "--role", "creator"], /taken|in use/],
      [["account", "create", "--bogus"], /bogus/i],
      [["account", "link", "nobody-here", "--viewer-id", "v"], /no account nobody-here/],
      [["account", "link", "cli-creator"], /--viewer-id/],
      [["account", "password"], /needs a username/],
      [["api-key", "create", "--name", "k", "--scopes", "root"], /scopes/],
      [["api-key", "destroy"], /unknown api-key command/],
      [["token", "viewer"], /needs --sub/],
      [["token", "viewer", "--sub", "x", "--ttl-s", "0"], /--ttl-s/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args, env);
      expect({ args, failed: r.code !== 0 }).toEqual({ args, failed: true });
      expect({ args, stderr: message.test(r.stderr) ? "matches" : r.stderr }).toEqual({ args, stderr: "matches" });
      expect(r.stdout).not.toMatch(/"password"/);
    }
  });
});

describe("a server on the same data folder", () => {
  beforeAll(async () => {
    // Started only after the CLI ran above (bun runs tests in file order).
    s = await startTestServer({}, dataDir);
    await s.api("POST", "/api/v1/streams", { slug: "cli-stream", title: "CLI", owner: "cli-creator" });
  });

  test("the account exists, with the password last set by the CLI", async () => {
    const acc = s!.app.accounts.findByUsername("cli-creator");
    expect(acc).toMatchObject({ id: creator.id, role: "creator", viewer_id: "cli-viewer" });
    expect(await s!.app.accounts.verifyPassword("cli-creator", newPassword)).not.toBeNull();
    expect(await s!.app.accounts.verifyPassword("cli-creator", creator.password)).toBeNull();
  });

  test("the CLI's API key authenticates, within its scope only", async () => {
    const ok = await s!.api("GET", "/api/v1/streams", undefined, apiKey.key);
    expect(ok.status).toBe(200);
    const denied = await s!.api("GET", "/api/v1/api-keys", undefined, apiKey.key);
    expect(denied.status).toBe(403);
    // The env admin key sees it listed (without the key itself).
    const listed = (await s!.api("GET", "/api/v1/api-keys")).body.data.find((k: any) => k.id === apiKey.id);
    expect(listed).toMatchObject({ name: "cli key", scopes: ["streams"] });
    expect(listed.key).toBeUndefined();
  });

  test("the CLI's viewer token is accepted, and its viewer is the linked creator", async () => {
    const socket = connect(s!.ws, { token: viewerToken });
    sockets.push(socket);
    const reply = await join(socket.channel("stream:cli-stream", {}));
    expect(reply.me).toMatchObject({ id: "cli-viewer", name: "Cli Viewer", guest: false, role: "creator" });
  });

  test("CLI changes are audited as the system actor", () => {
    const actions = readSqlite<{ action: string; actor_type: string; actor_id: string | null }>(dataDir, "SELECT action, actor_type, actor_id FROM audit_log WHERE actor_type = 'system' ORDER BY id");
    const names = actions.map((a) => a.action);
    expect(names).toContain("account.create");
    expect(names).toContain("account.update");
    expect(names).toContain("api_key.create");
    for (const a of actions) expect(a.actor_id).toBeNull();
  });
});

describe("token viewer without a configured secret", () => {
  test("uses the secret the server generated in the data folder", async () => {
    const dir = tempDir("hubbub-cli-gen-");
    let srv: TestServer | null = null;
    const sock: Socket[] = [];
    try {
      srv = await startTestServer({ HUBBUB_VIEWER_TOKEN_SECRET: "" }, dir);
      await srv.createStream("gen-stream");
      const r = await runCli(["token", "viewer", "--sub", "gen-viewer"], { HUBBUB_DATA_DIR: dir });
      expect(r.code).toBe(0);
      const socket = connect(srv.ws, { token: r.stdout.trim() });
      sock.push(socket);
      const reply = await join(socket.channel("stream:gen-stream", {}));
      expect(reply.me).toMatchObject({ id: "gen-viewer", guest: false });
    } finally {
      for (const so of sock) so.disconnect();
      await srv?.stop();
      removeDir(dir);
    }
  });

  test("without a secret or a generated one, it says how to get one", async () => {
    const dir = tempDir("hubbub-cli-none-");
    try {
      const r = await runCli(["token", "viewer", "--sub", "x"], { HUBBUB_DATA_DIR: dir });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/HUBBUB_VIEWER_TOKEN_SECRET/);
    } finally {
      removeDir(dir);
    }
  });
});
