// Who is asking, and may they: the session cookie, the same-origin check and the CSRF token on
// every state-changing request, and the role rules (admin: everything; creator: own streams;
// moderator: assigned streams). Guards wrap route handlers; a refusal is a 401/403 page or toast.
import { actorOf, type AccountRecord } from "../../accounts/index.ts";
import type { Actor } from "../../actor.ts";
import type { StreamRecord, Streams } from "../../streams/index.ts";
import { errorPage } from "../../../views/errors.ts";
import { CSRF_HEADER, type Viewer } from "../../../views/layout.ts";
import { htmlResponse, isHtmx, newNonce, redirect, toastResponse } from "./respond.ts";
import { canManage, canModerate } from "../rights.ts";
import { sameSecret, type Session, type Sessions } from "./sessions.ts";

export interface Who {
  account: AccountRecord;
  actor: Actor;
  view: Viewer;
  csrf: string;
  tokenHash: string;
}

export type Ctx = { request: Request; params: Record<string, string>; query: Record<string, string | undefined>; body: unknown };


export class DashboardAuth {
  readonly cookieName: string;
  private readonly secure: boolean;
  private readonly origins: Set<string>;

  constructor(
    private sessions: Sessions,
    private streams: Streams,
    publicUrl: string,
  ) {
    this.secure = publicUrl.startsWith("https:");
    // __Host-: the browser accepts it only Secure, host-only and with Path=/.
    this.cookieName = this.secure ? "__Host-hubbub_session" : "hubbub_session";
    this.origins = new Set([new URL(publicUrl).origin]);
  }

  sessionOf(req: Request): Session | undefined {
    const header = req.headers.get("cookie");
    if (!header) return undefined;
    for (const part of header.split(";")) {
      const eq = part.indexOf("=");
      if (eq > 0 && part.slice(0, eq).trim() === this.cookieName) return this.sessions.find(part.slice(eq + 1).trim());
    }
    return undefined;
  }

  cookie(token: string, expiresAt: number, now: number): string {
    const maxAge = Math.max(0, Math.floor((expiresAt - now) / 1000));
    return `${this.cookieName}=${token}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${this.secure ? "; Secure" : ""}`;
  }

  clearCookie(): string {
    return `${this.cookieName}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax${this.secure ? "; Secure" : ""}`;
  }

  /**
   * A state-changing request must come from our own pages: the browser's Sec-Fetch-Site says
   * same-origin, and an Origin header, when sent, is ours (the public URL or the Host it came to).
   * A request with neither header is refused: every browser that could carry our cookie sends one.
   */
  sameOrigin(req: Request): boolean {
    const site = req.headers.get("sec-fetch-site");
    if (site !== null && site !== "same-origin") return false;
    const origin = req.headers.get("origin");
    if (origin !== null && origin !== new URL(req.url).origin && !this.origins.has(origin)) return false;
    return site !== null || origin !== null;
  }

  csrfOk(req: Request, s: Session): boolean {
    const sent = req.headers.get(CSRF_HEADER);
    return sent !== null && sameSecret(sent, s.csrf);
  }

  /**
   * A dashboard session calling the JSON API (PRODUCT.md): the same session cookie, and on a state
   * change the same-origin and CSRF checks as the dashboard's own forms. Null: no live session.
   */
  apiSession(req: Request, mutating: boolean): { account: AccountRecord } | { status: 401 | 403; message: string } | null {
    const s = this.sessionOf(req);
    if (!s) return null;
    if (mutating && !this.sameOrigin(req)) return { status: 403, message: "cross-site requests are refused" };
    if (mutating && !this.csrfOk(req, s)) return { status: 403, message: `send the session's CSRF token in ${CSRF_HEADER}` };
    return { account: s.account };
  }

  who(s: Session): Who {
    const a = s.account;
    return { account: a, actor: actorOf(a), view: { username: a.username, role: a.role }, csrf: s.csrf, tokenHash: s.tokenHash };
  }

  // ---- guards ----

  /** Any logged-in account; `mutating` adds the origin and CSRF checks; `admin` the role check. */
  guard(opts: { mutating?: boolean; admin?: boolean }, h: (who: Who, ctx: Ctx) => Response | Promise<Response>) {
    return (ctx: Ctx): Response | Promise<Response> => {
      const req = ctx.request;
      if (opts.mutating && !this.sameOrigin(req)) return refuse(req, null, 403, "Refused", "This request did not come from a Hubbub page (cross-site requests are refused).");
      const s = this.sessionOf(req);
      if (!s) {
        if (opts.mutating || isHtmx(req) || (req.headers.get("accept") ?? "").includes("text/event-stream")) {
          return refuse(req, null, 401, "Logged out", "Your session has ended. Log in again.", { "hx-redirect": "/dashboard/login" });
        }
        const url = new URL(req.url);
        return redirect(`/dashboard/login?next=${encodeURIComponent(url.pathname + url.search)}`, req);
      }
      const who = this.who(s);
      if (opts.mutating && !this.csrfOk(req, s)) return refuse(req, who, 403, "Refused", "The request's CSRF token is missing or wrong. Reload the page and try again.");
      if (opts.admin && s.account.role !== "admin") return refuse(req, who, 403, "Admins only", "This page is for admins.");
      return h(who, ctx);
    };
  }

  /** A stream page or action: the stream must exist and the account may moderate (or manage) it. */
  streamGuard(level: "moderate" | "manage", opts: { mutating?: boolean }, h: (who: Who, s: StreamRecord, ctx: Ctx) => Response | Promise<Response>) {
    return this.guard(opts, (who, ctx) => {
      const s = this.streams.findBySlug(ctx.params.slug ?? "");
      if (!s) return refuse(ctx.request, who, 404, "No such stream", `There is no stream ${ctx.params.slug ?? ""}.`);
      const allowed = level === "manage" ? canManage(who.account, s) : canModerate(this.streams, who.account, s);
      if (!allowed) {
        return refuse(ctx.request, who, 403, "Not your stream", level === "manage" ? "Only the stream's owner and admins may do this." : "You do not moderate this stream.");
      }
      return h(who, s, ctx);
    });
  }
}

/** A refusal as a toast for htmx requests, else as a page. */
export function refuse(req: Request, who: Who | null, status: number, title: string, message: string, headers: Record<string, string> = {}): Response {
  if (isHtmx(req)) {
    const r = toastResponse("error", message, status);
    for (const [k, v] of Object.entries(headers)) r.headers.set(k, v);
    return r;
  }
  const nonce = newNonce();
  return htmlResponse(errorPage({ nonce, user: who?.view ?? null, csrf: who?.csrf ?? null, status, title, message }), { nonce, status, headers });
}
