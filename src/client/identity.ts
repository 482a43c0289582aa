// Who the page connects as. The host hands a viewer token in the URL fragment (#token=...), or, for
// the embed, by postMessage from the parent page (only from HUBBUB_EMBED_ORIGINS). Before a token
// expires the embed asks its parent for a fresh one and keeps it for the next reconnect: a healthy
// socket is never dropped to swap tokens. Without a usable token the page connects as a guest.
//
// Messages with the parent (documented in README, "Viewer pages"):
//   embed -> parent  {type: "hubbub:token-request", slug}
//   parent -> embed  {type: "hubbub:token", token: "<jwt>" | null}   (null: signed out)

export interface TokenInfo {
  token: string;
  sub: string;
  name: string | null;
  member: boolean;
  /** Expiry, ms since the epoch. */
  exp: number;
  /** When this page got it (for the refresh lead). */
  receivedAt: number;
}

/** A token is not offered within this margin of its expiry (clock skew, connect time): 5 s, or a tenth of a short token's life. */
const EXPIRY_MARGIN_MS = 5_000;
/** Ask again if the parent has not answered within this long. */
const ASK_AGAIN_MS = 5_000;
const MAX_ASKS_PER_TOKEN = 12;

/** Reads the claims a page needs; the server checks the signature. null: not a usable JWT. */
export function parseToken(token: string, now = Date.now()): TokenInfo | null {
  if (typeof token !== "string" || token.length > 8192) return null;
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1]!.replace(/-/g, "+").replace(/_/g, "/");
    const json = new TextDecoder().decode(Uint8Array.from(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0)));
    const claims = JSON.parse(json) as Record<string, unknown>;
    if (typeof claims.sub !== "string" || typeof claims.exp !== "number") return null;
    return {
      token,
      sub: claims.sub,
      name: typeof claims.name === "string" ? claims.name : null,
      member: claims.member === true,
      exp: claims.exp * 1000,
      receivedAt: now,
    };
  } catch {
    return null;
  }
}

export function usable(t: TokenInfo | null, now = Date.now()): t is TokenInfo {
  return t !== null && t.exp - Math.min(EXPIRY_MARGIN_MS, (t.exp - t.receivedAt) / 10) > now;
}

export type IdentityChange = "signed-in" | "signed-out" | "other-viewer";

export class Identity {
  private info: TokenInfo | null = null;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private asks = 0;
  private readonly parentOrigins: string[];
  /** Told when the viewer changes (a reconnect is due); a fresh token of the same viewer is not a change. */
  onChange: (why: IdentityChange) => void = () => {};
  /** Told when any token arrives (the first answer ends the wait before connecting). */
  onToken: () => void = () => {};

  constructor(private slug: string, embedOrigins: string[]) {
    // Only a framed embed has a parent to ask; and only the configured origins may answer.
    this.parentOrigins = window.parent !== window ? embedOrigins : [];
  }

  get asksParent(): boolean {
    return this.parentOrigins.length > 0;
  }

  /** The token to connect with, or null (guest). Re-read on every (re)connect. */
  current(): TokenInfo | null {
    return usable(this.info) ? this.info : null;
  }

  /** Socket params: phoenix.js calls this on every connect. */
  params(): Record<string, string> {
    const t = this.current();
    return t ? { token: t.token } : {};
  }

  /** #token=... : taken, then removed from the address bar so it is not shared by copy and paste. */
  fromFragment(): void {
    const hash = location.hash.slice(1);
    if (!hash) return;
    const p = new URLSearchParams(hash);
    const token = p.get("token");
    if (token === null) return;
    p.delete("token");
    const rest = p.toString();
    history.replaceState(history.state, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
    const info = parseToken(token);
    if (usable(info)) this.set(info);
  }

  listen(): void {
    if (!this.asksParent) return;
    window.addEventListener("message", (e: MessageEvent) => {
      if (e.source !== window.parent || !this.parentOrigins.includes(e.origin)) return;
      const d = e.data as { type?: unknown; token?: unknown } | null;
      if (!d || typeof d !== "object" || d.type !== "hubbub:token") return;
      if (d.token === null) return this.signOut();
      if (typeof d.token === "string") this.accept(d.token);
    });
  }

  /** Asks the parent page for a (fresh) token; each configured origin gets it, the browser delivers only to the real one. */
  ask(): void {
    for (const origin of this.parentOrigins) {
      try {
        window.parent.postMessage({ type: "hubbub:token-request", slug: this.slug }, origin);
      } catch {
        // An origin string the browser refuses: nothing to send there.
      }
    }
  }

  /** The server refused or revoked our token: forget it (the next reconnect is a guest) and ask for another. */
  refused(): void {
    if (!this.info) return;
    this.info = null;
    this.clearTimer();
    if (this.asksParent) this.ask();
  }

  private accept(token: string): void {
    const info = parseToken(token);
    if (!usable(info)) return;
    const before = this.current();
    this.set(info);
    if (!before) this.onChange("signed-in");
    else if (before.sub !== info.sub) this.onChange("other-viewer");
    // Same viewer: kept for the next reconnect; the open socket stays as it is.
    this.onToken();
  }

  private signOut(): void {
    const had = this.current() !== null;
    this.info = null;
    this.clearTimer();
    if (had) this.onChange("signed-out");
    this.onToken();
  }

  private set(info: TokenInfo): void {
    this.info = info;
    this.asks = 0;
    this.schedule();
  }

  private clearTimer(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
  }

  /** Half-way through the token's life (at most 2 minutes before expiry), ask for the next one. */
  private schedule(): void {
    this.clearTimer();
    const t = this.info;
    if (!t || !this.asksParent) return;
    const lead = Math.min(120_000, (t.exp - t.receivedAt) / 2);
    const wait = Math.max(0, t.exp - lead - Date.now());
    this.refreshTimer = setTimeout(() => this.askUntilAnswered(t), wait);
  }

  private askUntilAnswered(t: TokenInfo): void {
    if (this.info !== t || t.exp <= Date.now() || this.asks >= MAX_ASKS_PER_TOKEN) return;
    this.asks++;
    this.ask();
    this.refreshTimer = setTimeout(() => this.askUntilAnswered(t), ASK_AGAIN_MS);
  }
}
