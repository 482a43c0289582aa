// Dashboard responses: every one carries a strict Content-Security-Policy with a fresh nonce (htmx 4
// runs <script>s in swapped content, so only scripts carrying this response's nonce may run), no
// framing, no sniffing, no caching of pages that show private data.
import { randomToken } from "../../runtime/ids.ts";
import { toast } from "../../../views/components.ts";
import type { Html } from "../../../views/html.ts";

export function newNonce(): string {
  return randomToken(18);
}

export function securityHeaders(nonce: string): Record<string, string> {
  return {
    "content-security-policy": [
      "default-src 'none'",
      `script-src 'nonce-${nonce}'`,
      "style-src 'self'",
      "img-src 'self' data:",
      "font-src 'self'",
      "connect-src 'self'",
      "form-action 'self'",
      "base-uri 'none'",
      "frame-ancestors 'none'",
    ].join("; "),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "cache-control": "no-store",
  };
}

export function htmlResponse(body: Html, o: { nonce?: string; status?: number; headers?: Record<string, string> } = {}): Response {
  return new Response(body.s, {
    status: o.status ?? 200,
    headers: { "content-type": "text/html; charset=utf-8", ...securityHeaders(o.nonce ?? newNonce()), ...o.headers },
  });
}

/** An htmx request (as opposed to a plain navigation or form post). */
export function isHtmx(req: Request): boolean {
  return req.headers.get("hx-request") === "true";
}

/** A toast for htmx callers; the status still says what happened. */
export function toastResponse(kind: "ok" | "error" | "info", text: string, status = 200): Response {
  return htmlResponse(toast(kind, text), { status });
}

export function redirect(to: string, req: Request, extra: Record<string, string> = {}): Response {
  if (isHtmx(req)) return new Response(null, { status: 200, headers: { ...securityHeaders(newNonce()), "hx-redirect": to, ...extra } });
  return new Response(null, { status: 303, headers: { ...securityHeaders(newNonce()), location: to, ...extra } });
}
