// Accounts and API keys: the only door. Owns the accounts and api_keys tables. Every change writes
// its audit row in the same transaction.
import type { Database } from "bun:sqlite";
import { createHash, timingSafeEqual } from "node:crypto";
import { SCOPES, type Actor, type Scope } from "../actor.ts";
import { recordAudit } from "../audit/index.ts";
import { ok, refuse, type Result } from "../errors.ts";
import { newId, randomToken } from "../runtime/ids.ts";
import { cleanText, LIMITS } from "../text.ts";
import { iso, type Clock } from "../runtime/time.ts";

export type Role = "admin" | "creator" | "moderator";
export const ROLES: readonly Role[] = ["admin", "creator", "moderator"];
/** The account made on first start; it keeps the admin role, so one admin always remains. */
export const BOOTSTRAP_ADMIN = "admin";
const USERNAME = /^[a-z0-9][a-z0-9_.-]{2,31}$/;
const VIEWER_ID = /^[\x21-\x7e]{1,128}$/; // printable ASCII, as host platforms' user ids are

export interface AccountRecord {
  id: string;
  username: string;
  password_hash: string;
  role: Role;
  viewer_id: string | null;
  created_at: number;
  updated_at: number;
}

export interface AccountView {
  id: string;
  username: string;
  role: Role;
  viewer_id: string | null;
  created_at: string;
  updated_at: string;
}

/** The actor an account acts as (audit rows name it). */
export function actorOf(a: AccountRecord): Actor {
  return { type: "account", id: a.id, username: a.username, role: a.role };
}

export function accountView(a: AccountRecord): AccountView {
  return { id: a.id, username: a.username, role: a.role, viewer_id: a.viewer_id, created_at: iso(a.created_at), updated_at: iso(a.updated_at) };
}

export interface ApiKeyView {
  id: string;
  name: string;
  scopes: Scope[];
  created_at: string;
  revoked_at: string | null;
}

interface ApiKeyRecord {
  id: string;
  name: string;
  key_hash: string;
  scopes: string;
  created_by: string | null;
  created_at: number;
  revoked_at: number | null;
}

function keyView(k: ApiKeyRecord): ApiKeyView {
  return { id: k.id, name: k.name, scopes: JSON.parse(k.scopes), created_at: iso(k.created_at), revoked_at: k.revoked_at === null ? null : iso(k.revoked_at) };
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

export class Accounts {
  private adminKeyHash: Buffer | null;
  private dummyHash: Promise<string> | null = null;

  constructor(
    private db: Database,
    private clock: Clock,
    adminApiKey: string | null,
  ) {
    this.adminKeyHash = adminApiKey ? createHash("sha256").update(adminApiKey).digest() : null;
  }

  findByUsername(username: string): AccountRecord | undefined {
    return this.db.query<AccountRecord, [string]>("SELECT * FROM accounts WHERE username = ?").get(username) ?? undefined;
  }

  // Viewer ids linked to an account, so a join storm of unlinked viewers never queries. Reloaded
  // when another connection (the CLI) committed (PRAGMA data_version) or we changed accounts.
  private linked: Set<string> | null = null;
  private dataVersion = -1;

  /** The account linked to a viewer id, if any: the hot path of every signed-in join and push. */
  linkedAccount(viewerId: string): AccountRecord | undefined {
    const v = this.db.query<{ data_version: number }, []>("PRAGMA data_version").get()!.data_version;
    if (this.linked === null || v !== this.dataVersion) {
      this.dataVersion = v;
      this.linked = new Set(this.db.query<{ viewer_id: string }, []>("SELECT viewer_id FROM accounts WHERE viewer_id IS NOT NULL").all().map((r) => r.viewer_id));
    }
    return this.linked.has(viewerId) ? this.findByViewerId(viewerId) : undefined;
  }

  findByViewerId(viewerId: string): AccountRecord | undefined {
    return this.db.query<AccountRecord, [string]>("SELECT * FROM accounts WHERE viewer_id = ?").get(viewerId) ?? undefined;
  }

  findById(id: string): AccountRecord | undefined {
    return this.db.query<AccountRecord, [string]>("SELECT * FROM accounts WHERE id = ?").get(id) ?? undefined;
  }

  list(afterId: string | null, limit: number): AccountRecord[] {
    return this.db.query<AccountRecord, [string, number]>("SELECT * FROM accounts WHERE id > ? ORDER BY id LIMIT ?").all(afterId ?? "", limit);
  }

  async create(actor: Actor, input: unknown): Promise<Result<AccountView>> {
    const v = validateAccountInput(input, true);
    if (!v.ok) return v;
    const { username, password, role, viewer_id } = v.value;
    if (this.findByUsername(username!)) return refuse("conflict", `username ${username} is taken`, { fields: { username: "is taken" } });
    if (viewer_id && this.findByViewerId(viewer_id)) return refuse("conflict", "that viewer id is linked to another account", { fields: { viewer_id: "is linked to another account" } });
    const hash = await Bun.password.hash(password!, { algorithm: "argon2id" });
    const now = this.clock.now();
    const rec: AccountRecord = { id: newId(), username: username!, password_hash: hash, role: role!, viewer_id: viewer_id ?? null, created_at: now, updated_at: now };
    try {
      this.db.transaction(() => {
        this.db
          .query("INSERT INTO accounts (id, username, password_hash, role, viewer_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
          .run(rec.id, rec.username, rec.password_hash, rec.role, rec.viewer_id, rec.created_at, rec.updated_at);
        recordAudit(this.db, { at: now, actor, action: "account.create", target: { type: "account", id: rec.id }, data: { username: rec.username, role: rec.role, viewer_id: rec.viewer_id } });
      }).immediate();
      this.linked = null;
    } catch (e) {
      if (isUniqueViolation(e)) return refuse("conflict", "username or viewer id already in use");
      throw e;
    }
    return ok(accountView(rec));
  }

  /** Changes role, password or the linked viewer id (null unlinks). */
  async update(actor: Actor, username: string, input: unknown): Promise<Result<AccountView>> {
    const acc = this.findByUsername(username);
    if (!acc) return refuse("not_found", `no account ${username}`);
    const v = validateAccountInput(input, false);
    if (!v.ok) return v;
    const patch = v.value;
    if (patch.viewer_id) {
      const other = this.findByViewerId(patch.viewer_id);
      if (other && other.id !== acc.id) return refuse("conflict", "that viewer id is linked to another account", { fields: { viewer_id: "is linked to another account" } });
    }
    if (acc.username === BOOTSTRAP_ADMIN && patch.role && patch.role !== "admin") {
      return refuse("not_allowed", "the bootstrap admin keeps the admin role", { fields: { role: "admin stays admin" } });
    }
    const hash = patch.password ? await Bun.password.hash(patch.password, { algorithm: "argon2id" }) : acc.password_hash;
    const next: AccountRecord = {
      ...acc,
      role: patch.role ?? acc.role,
      viewer_id: patch.viewer_id === undefined ? acc.viewer_id : patch.viewer_id,
      password_hash: hash,
      updated_at: this.clock.now(),
    };
    this.db.transaction(() => {
      this.db.query("UPDATE accounts SET role = ?, viewer_id = ?, password_hash = ?, updated_at = ? WHERE id = ?").run(next.role, next.viewer_id, next.password_hash, next.updated_at, acc.id);
      const changed: Record<string, unknown> = {};
      if (next.role !== acc.role) changed.role = next.role;
      if (next.viewer_id !== acc.viewer_id) changed.viewer_id = next.viewer_id;
      if (patch.password) changed.password = "changed";
      recordAudit(this.db, { at: next.updated_at, actor, action: "account.update", target: { type: "account", id: acc.id }, data: changed });
    }).immediate();
    this.linked = null;
    return ok(accountView(next));
  }

  async verifyPassword(username: string, password: string): Promise<AccountRecord | null> {
    const acc = this.findByUsername(username);
    if (!acc) {
      // Spend comparable time so a missing user is not told apart by timing.
      this.dummyHash ??= Bun.password.hash(randomToken(12), { algorithm: "argon2id" });
      await Bun.password.verify(password, await this.dummyHash);
      return null;
    }
    return (await Bun.password.verify(password, acc.password_hash)) ? acc : null;
  }

  /** Creates the bootstrap `admin` on first start. Returns the generated password when it made one. */
  async ensureBootstrapAdmin(password: string | null): Promise<{ created: boolean; generatedPassword: string | null }> {
    if (this.findByUsername(BOOTSTRAP_ADMIN)) return { created: false, generatedPassword: null };
    const pw = password ?? randomToken(12);
    const r = await this.create({ type: "system" }, { username: BOOTSTRAP_ADMIN, password: pw, role: "admin" });
    if (!r.ok) throw new Error(`cannot create the admin account: ${r.message}`);
    return { created: true, generatedPassword: password ? null : pw };
  }

  // ---- API keys ----

  createApiKey(actor: Actor, input: unknown): Result<ApiKeyView & { key: string }> {
    if (typeof input !== "object" || input === null) return refuse("invalid_payload", "expected {name, scopes}");
    const { name, scopes } = input as Record<string, unknown>;
    const fields: Record<string, string> = {};
    const cleanName = cleanText(name, "name", LIMITS.apiKeyName);
    if (!cleanName.ok) fields.name = typeof name === "string" && name.trim() !== "" && cleanName.code !== "too_long" ? "no control, bidi-override or invisible characters" : "1 to 100 characters";
    if (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every((s) => (SCOPES as readonly unknown[]).includes(s))) {
      fields.scopes = `a non-empty list of ${SCOPES.join(", ")}`;
    }
    for (const k of Object.keys(input)) if (k !== "name" && k !== "scopes") fields[k] = "unknown field";
    if (Object.keys(fields).length) return refuse("invalid_payload", "invalid API key", { fields });
    const id = newId();
    const key = `hbk_${randomToken(30)}`;
    const now = this.clock.now();
    const rec: ApiKeyRecord = { id, name: cleanName.ok ? cleanName.value : "", key_hash: sha256(key), scopes: JSON.stringify([...new Set(scopes as string[])]), created_by: actor.type === "system" ? null : actor.id, created_at: now, revoked_at: null };
    this.db.transaction(() => {
      this.db.query("INSERT INTO api_keys (id, name, key_hash, scopes, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)").run(rec.id, rec.name, rec.key_hash, rec.scopes, rec.created_by, rec.created_at);
      recordAudit(this.db, { at: now, actor, action: "api_key.create", target: { type: "api_key", id }, data: { name: rec.name, scopes: JSON.parse(rec.scopes) } });
    }).immediate();
    return ok({ ...keyView(rec), key });
  }

  revokeApiKey(actor: Actor, id: string): Result<ApiKeyView> {
    const rec = this.db.query<ApiKeyRecord, [string]>("SELECT * FROM api_keys WHERE id = ?").get(id);
    if (!rec) return refuse("not_found", `no API key ${id}`);
    if (rec.revoked_at !== null) return ok(keyView(rec));
    const now = this.clock.now();
    this.db.transaction(() => {
      this.db.query("UPDATE api_keys SET revoked_at = ? WHERE id = ?").run(now, id);
      recordAudit(this.db, { at: now, actor, action: "api_key.revoke", target: { type: "api_key", id } });
    }).immediate();
    return ok(keyView({ ...rec, revoked_at: now }));
  }

  listApiKeys(afterId: string | null, limit: number): ApiKeyView[] {
    return this.db.query<ApiKeyRecord, [string, number]>("SELECT * FROM api_keys WHERE id > ? ORDER BY id LIMIT ?").all(afterId ?? "", limit).map(keyView);
  }

  /** The actor behind a bearer key, or null. The env admin key has every scope. */
  authenticateApiKey(key: string): Actor | null {
    if (this.adminKeyHash) {
      const h = createHash("sha256").update(key).digest();
      if (timingSafeEqual(h, this.adminKeyHash)) return { type: "api_key", id: "env:HUBBUB_ADMIN_API_KEY", name: "HUBBUB_ADMIN_API_KEY", scopes: SCOPES };
    }
    // Lookup by hash: the stored value is a SHA-256 of a 240-bit random key, so no timing leak matters.
    const rec = this.db.query<ApiKeyRecord, [string]>("SELECT * FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL").get(sha256(key));
    if (!rec) return null;
    return { type: "api_key", id: rec.id, name: rec.name, scopes: JSON.parse(rec.scopes) };
  }
}

interface AccountInput {
  username?: string;
  password?: string;
  role?: Role;
  viewer_id?: string | null;
}

function validateAccountInput(input: unknown, creating: boolean): Result<AccountInput> {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return refuse("invalid_payload", "expected a JSON object");
  const i = input as Record<string, unknown>;
  const fields: Record<string, string> = {};
  const out: AccountInput = {};
  const allowed = creating ? ["username", "password", "role", "viewer_id"] : ["password", "role", "viewer_id"];
  for (const k of Object.keys(i)) if (!allowed.includes(k)) fields[k] = "unknown field";
  if (creating || i.username !== undefined) {
    if (typeof i.username !== "string" || !USERNAME.test(i.username)) fields.username = "3-32 of a-z 0-9 _ . -, starting with a letter or digit";
    else out.username = i.username;
  }
  if (creating || i.password !== undefined) {
    if (typeof i.password !== "string" || i.password.length < 8 || i.password.length > 256) fields.password = "8 to 256 characters";
    else out.password = i.password;
  }
  if (creating || i.role !== undefined) {
    if (!(ROLES as readonly unknown[]).includes(i.role)) fields.role = `one of ${ROLES.join(", ")}`;
    else out.role = i.role as Role;
  }
  if (i.viewer_id !== undefined) {
    if (i.viewer_id === null) out.viewer_id = null;
    else if (typeof i.viewer_id !== "string" || !VIEWER_ID.test(i.viewer_id)) fields.viewer_id = "1-128 printable ASCII characters, or null";
    else out.viewer_id = i.viewer_id;
  }
  if (Object.keys(fields).length) return refuse("invalid_payload", "invalid account", { fields });
  return ok(out);
}

export function isUniqueViolation(e: unknown): boolean {
  return e instanceof Error && /UNIQUE constraint failed/.test(e.message);
}
