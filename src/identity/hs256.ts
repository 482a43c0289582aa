// HS256 verification done synchronously with node:crypto. jose's async WebCrypto path re-imports
// the key and hops through promises on every call; at a join storm's connect rate that cost is
// the difference between keeping up and not. JWKS (asymmetric) tokens still go through jose.
import { createHmac, timingSafeEqual } from "node:crypto";

export type Hs256Result =
  | { ok: true; payload: Record<string, unknown> }
  | { ok: false; code: "invalid_token" | "token_expired"; message: string };

export interface Hs256Options {
  audience: string | null;
  issuer: string | null;
  clockToleranceS: number;
  nowS: number;
}

function b64json(part: string): unknown {
  if (!/^[A-Za-z0-9_-]*$/.test(part)) return undefined;
  try {
    return JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
}

const bad = (message: string): Hs256Result => ({ ok: false, code: "invalid_token", message });

export function verifyHs256(token: string, secret: Buffer, o: Hs256Options): Hs256Result {
  const parts = token.split(".");
  if (parts.length !== 3) return bad("the token is not valid");
  const [h, p, s] = parts as [string, string, string];
  const header = b64json(h) as Record<string, unknown> | undefined;
  if (!header || typeof header !== "object" || Array.isArray(header)) return bad("the token is not valid");
  if (header.alg !== "HS256") return bad("the token is not valid");
  if (header.crit !== undefined) return bad("the token is not valid");
  if (!/^[A-Za-z0-9_-]+$/.test(s)) return bad("the token is not valid");
  const expected = createHmac("sha256", secret).update(`${h}.${p}`).digest();
  const given = Buffer.from(s, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return bad("the token is not valid");
  const payload = b64json(p);
  if (!payload || typeof payload !== "object" || Array.isArray(payload)) return bad("the token is not valid");
  const c = payload as Record<string, unknown>;
  const tol = o.clockToleranceS;
  if (typeof c.exp !== "number") return bad('missing required "exp" claim');
  if (c.nbf !== undefined && (typeof c.nbf !== "number" || c.nbf > o.nowS + tol)) return bad("claim nbf is not accepted");
  if (c.iat !== undefined && typeof c.iat !== "number") return bad("claim iat is not accepted");
  if (c.exp <= o.nowS - tol) return { ok: false, code: "token_expired", message: "the token has expired" };
  if (o.issuer !== null && c.iss !== o.issuer) return bad("claim iss is not accepted");
  if (o.audience !== null) {
    const aud = c.aud;
    const okAud = typeof aud === "string" ? aud === o.audience : Array.isArray(aud) && aud.includes(o.audience);
    if (!okAud) return bad("claim aud is not accepted");
  }
  if (c.sub === undefined) return bad('missing required "sub" claim');
  return { ok: true, payload: c };
}
