#!/usr/bin/env bun
// The `hubbub` command. Operator verbs act on the data folder's database directly (safe beside a
// running server: SQLite WAL with a busy timeout) and are audited as the system actor.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { Accounts } from "./accounts/index.ts";
import { SYSTEM } from "./actor.ts";
import { ConfigError, loadConfig, type Config } from "./config.ts";
import { closeSqlite, migrate, openSqlite } from "./db/sqlite.ts";
import { mintViewerToken } from "./identity/viewer-token.ts";
import { randomToken } from "./runtime/ids.ts";
import { systemClock } from "./runtime/time.ts";

const USAGE = `usage: hubbub <command>

  serve [--demo]                         run the server (HUBBUB_* environment, see README)
  migrate                                apply database migrations and exit
  account create --username U --role admin|creator|moderator [--password P] [--viewer-id V]
  account link U --viewer-id V           link account U to viewer id V (--unlink to remove)
  account password U [--password P]      set a new password (generated and printed when omitted)
  api-key create --name N --scopes streams,moderation,analytics,admin
  token viewer --sub ID [--name NAME] [--member] [--ttl-s 3600]
                                         mint a viewer token with the configured HS256 secret
`;

function fail(msg: string, code = 2): never {
  process.stderr.write(`hubbub: ${msg}\n`);
  process.exit(code);
}

function config(): Readonly<Config> {
  try {
    return loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message);
    throw e;
  }
}

function withDb<T>(fn: (accounts: Accounts) => Promise<T>): Promise<T> {
  const c = config();
  const db = openSqlite(join(c.dataDir, "hubbub.sqlite"));
  migrate(db);
  return fn(new Accounts(db, systemClock, c.adminApiKey)).finally(() => closeSqlite(db));
}

async function main(argv: string[]): Promise<void> {
  const [cmd, sub, ...rest] = argv;
  const opts = <O extends ParseArgsOptionsConfig>(args: string[], options: O) => {
    try {
      return parseArgs({ args, options, allowPositionals: true, strict: true });
    } catch (e) {
      fail(`${(e as Error).message}\n\n${USAGE}`);
    }
  };
  switch (cmd) {
    case "serve": {
      const { values } = opts([sub, ...rest].filter((x): x is string => x !== undefined), { demo: { type: "boolean" } });
      const { serveMain } = await import("./main.ts");
      return serveMain(values.demo ? { HUBBUB_DEMO: "true" } : {});
    }
    case "migrate": {
      const c = config();
      const db = openSqlite(join(c.dataDir, "hubbub.sqlite"));
      const applied = migrate(db);
      closeSqlite(db);
      console.log(applied.length ? `applied migrations ${applied.join(", ")}` : "database is up to date");
      return;
    }
    case "account": {
      if (sub === "create") {
        const { values } = opts(rest, { username: { type: "string" }, role: { type: "string" }, password: { type: "string" }, "viewer-id": { type: "string" } });
        const password = values.password ?? randomToken(12);
        const r = await withDb((a) => a.create(SYSTEM, { username: values.username, password, role: values.role, ...(values["viewer-id"] ? { viewer_id: values["viewer-id"] } : {}) }));
        if (!r.ok) fail(`${r.message}${r.fields ? " " + JSON.stringify(r.fields) : ""}`, 1);
        console.log(JSON.stringify({ ...r.value, ...(values.password ? {} : { password }) }, null, 2));
        return;
      }
      if (sub === "link") {
        const { values, positionals } = opts(rest, { "viewer-id": { type: "string" }, unlink: { type: "boolean" } });
        const username = positionals[0] ?? fail("account link needs a username");
        if (!values.unlink && !values["viewer-id"]) fail("give --viewer-id V or --unlink");
        const r = await withDb((a) => a.update(SYSTEM, username, { viewer_id: values.unlink ? null : values["viewer-id"] }));
        if (!r.ok) fail(r.message, 1);
        console.log(JSON.stringify(r.value, null, 2));
        return;
      }
      if (sub === "password") {
        const { values, positionals } = opts(rest, { password: { type: "string" } });
        const username = positionals[0] ?? fail("account password needs a username");
        const password = values.password ?? randomToken(12);
        const r = await withDb((a) => a.update(SYSTEM, username, { password }));
        if (!r.ok) fail(r.message, 1);
        console.log(values.password ? "password changed" : `new password for ${username}: ${password}`);
        return;
      }
      return fail(`unknown account command ${sub ?? ""}\n\n${USAGE}`);
    }
    case "api-key": {
      if (sub !== "create") return fail(`unknown api-key command ${sub ?? ""}\n\n${USAGE}`);
      const { values } = opts(rest, { name: { type: "string" }, scopes: { type: "string" } });
      const scopes = String(values.scopes ?? "").split(",").map((s: string) => s.trim()).filter(Boolean);
      const r = await withDb(async (a) => a.createApiKey(SYSTEM, { name: values.name, scopes }));
      if (!r.ok) fail(`${r.message}${r.fields ? " " + JSON.stringify(r.fields) : ""}`, 1);
      console.log(JSON.stringify(r.value, null, 2));
      process.stderr.write("The key is shown only this once.\n");
      return;
    }
    case "token": {
      if (sub !== "viewer") return fail(`unknown token command ${sub ?? ""}\n\n${USAGE}`);
      const { values } = opts(rest, { sub: { type: "string" }, name: { type: "string" }, member: { type: "boolean" }, "ttl-s": { type: "string" } });
      if (!values.sub) fail("token viewer needs --sub");
      const c = config();
      const secretPath = join(c.dataDir, "viewer-token-secret");
      const secret = c.viewerTokenSecret ?? (existsSync(secretPath) ? readFileSync(secretPath, "utf8").trim() : null);
      if (!secret) fail("no HS256 secret: set HUBBUB_VIEWER_TOKEN_SECRET or start the server once to generate one");
      const ttl = Number(values["ttl-s"] ?? 3600);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 31_536_000) fail("--ttl-s: an integer from 1 to 31536000");
      const token = await mintViewerToken(secret, { sub: values.sub, name: values.name, member: values.member, aud: c.viewerTokenAudience ?? undefined, iss: c.viewerTokenIssuer ?? undefined }, ttl);
      console.log(token);
      return;
    }
    case undefined:
    case "help":
    case "--help":
      console.log(USAGE);
      return;
    default:
      fail(`unknown command ${cmd}\n\n${USAGE}`);
  }
}

await main(process.argv.slice(2));
