// Dashboard sessions: owns the dashboard_sessions table. The cookie holds a random 256-bit token;
// the table holds only its SHA-256, so reading the database gives nobody a session. The CSRF token
// is derived from the session token (a keyed hash), so it needs no storage and dies with the session.
import type { Database } from "bun:sqlite";
import { createHash, timingSafeEqual } from "node:crypto";
import type { AccountRecord, Accounts } from "../../accounts/index.ts";
import { randomToken } from "../../runtime/ids.ts";
import type { Clock } from "../../runtime/time.ts";

/** Absolute lifetime: a session is never extended; log in again after it. */
export const SESSION_TTL_MS = 12 * 3600_000;

export interface Session {
  tokenHash: string;
  account: AccountRecord;
  csrf: string;
  expiresAt: number;
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

export class Sessions {
  constructor(
    private db: Database,
    private clock: Clock,
    private accounts: Accounts,
  ) {}

  /** A new session for a verified account: returns the cookie's token (shown to nobody else). */
  create(accountId: string): { token: string; expiresAt: number } {
    const token = randomToken(32);
    const now = this.clock.now();
    const expiresAt = now + SESSION_TTL_MS;
    const account = this.accounts.findById(accountId);
    this.db.query("INSERT INTO dashboard_sessions (token_hash, account_id, created_at, expires_at, credential) VALUES (?, ?, ?, ?, ?)").run(sha256(token), accountId, now, expiresAt, credentialOf(account));
    return { token, expiresAt };
  }

  /** The live session of a cookie token, with its account as it is now (role changes apply at once). */
  find(token: string): Session | undefined {
    if (!/^[A-Za-z0-9_-]{20,100}$/.test(token)) return undefined;
    const h = sha256(token);
    const row = this.db.query<{ account_id: string; expires_at: number; credential: string }, [string]>("SELECT account_id, expires_at, credential FROM dashboard_sessions WHERE token_hash = ?").get(h);
    if (!row || row.expires_at <= this.clock.now()) return undefined;
    const account = this.accounts.findById(row.account_id);
    // A password changed since the login ends the session (a stolen password stops working at once).
    if (!account || credentialOf(account) !== row.credential) return undefined;
    return { tokenHash: h, account, csrf: csrfOf(token), expiresAt: row.expires_at };
  }

  /** The account of a live session by its stored hash (open SSE streams re-check with this). */
  accountOf(tokenHash: string): AccountRecord | undefined {
    const row = this.db.query<{ account_id: string; expires_at: number; credential: string }, [string]>("SELECT account_id, expires_at, credential FROM dashboard_sessions WHERE token_hash = ?").get(tokenHash);
    if (!row || row.expires_at <= this.clock.now()) return undefined;
    const account = this.accounts.findById(row.account_id);
    return account && credentialOf(account) === row.credential ? account : undefined;
  }

  delete(tokenHash: string): void {
    this.db.query("DELETE FROM dashboard_sessions WHERE token_hash = ?").run(tokenHash);
  }

  /** Removes expired rows (called from a periodic sweep). */
  sweep(): number {
    return this.db.query("DELETE FROM dashboard_sessions WHERE expires_at <= ?").run(this.clock.now()).changes;
  }
}

/** The CSRF token of a session: unguessable without the cookie, which other sites cannot read. */
export function csrfOf(token: string): string {
  return createHash("sha256").update("hubbub-dashboard-csrf\0").update(token).digest("base64url");
}

export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A fingerprint of the account's password hash at login: it changes with the password. */
function credentialOf(account: { password_hash: string } | undefined): string {
  return account ? sha256(`credential:${account.password_hash}`) : "";
}
