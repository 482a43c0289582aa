// Viewer tokens: JWTs signed by the host platform (HS256 shared secret, or asymmetric keys from a
// JWKS URL). HS256 is checked synchronously (hs256.ts); JWKS tokens go through jose, whose failures
// we map to our codes.
import { createRemoteJWKSet, errors, jwtVerify, SignJWT, type JWTVerifyGetKey } from "jose";
import { cleanText, LIMITS } from "../text.ts";
import { verifyHs256 } from "./hs256.ts";

export interface ViewerIdentity {
  id: string;
  name: string;
  member: boolean;
  badges: string[];
  iat: number | undefined;
  exp: number;
}

export type TokenResult = { ok: true; viewer: ViewerIdentity } | { ok: false; code: "invalid_token" | "token_expired"; message: string };

export interface TokenOptions {
  secret: string | null;
  jwksUrl: string | null;
  audience: string | null;
  issuer: string | null;
}

const CLOCK_TOLERANCE_S = 5;
const ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];
const VIEWER_ID = /^[\x21-\x7e]{1,128}$/;
const PLAIN_NAME = /^[\x20-\x7e]{1,30}$/;

export class ViewerTokens {
  private jwks: JWTVerifyGetKey | null = null;
  private secret: Buffer | null = null;

  constructor(private opts: TokenOptions) {
    if (opts.jwksUrl) this.jwks = createRemoteJWKSet(new URL(opts.jwksUrl));
    else if (opts.secret) this.secret = Buffer.from(opts.secret, "utf8");
    else throw new Error("viewer tokens need a secret or a JWKS URL");
  }

  /** Synchronous for HS256 (the join-storm path), a promise for JWKS. */
  verify(token: string): TokenResult | Promise<TokenResult> {
    if (token.length > 8192) return { ok: false, code: "invalid_token", message: "token too long" };
    if (this.secret) {
      const r = verifyHs256(token, this.secret, { audience: this.opts.audience, issuer: this.opts.issuer, clockToleranceS: CLOCK_TOLERANCE_S, nowS: Date.now() / 1000 });
      return r.ok ? identityFrom(r.payload) : r;
    }
    return this.verifyJwks(token);
  }

  private async verifyJwks(token: string): Promise<TokenResult> {
    try {
      const { payload } = await jwtVerify(token, this.jwks!, {
        algorithms: ASYMMETRIC,
        audience: this.opts.audience ?? undefined,
        issuer: this.opts.issuer ?? undefined,
        requiredClaims: ["exp", "sub"],
        clockTolerance: CLOCK_TOLERANCE_S,
      });
      return identityFrom(payload);
    } catch (e) {
      if (e instanceof errors.JWTExpired) return { ok: false, code: "token_expired", message: "the token has expired" };
      if (e instanceof errors.JWTClaimValidationFailed) return { ok: false, code: "invalid_token", message: `claim ${e.claim} is not accepted` };
      return { ok: false, code: "invalid_token", message: "the token is not valid" };
    }
  }
}

/** Our viewer from verified claims: sub, display name, member flag and badges. */
function identityFrom(payload: Record<string, unknown>): TokenResult {
  if (typeof payload.sub !== "string" || !VIEWER_ID.test(payload.sub)) return { ok: false, code: "invalid_token", message: "sub must be 1-128 printable ASCII characters" };
  const raw = typeof payload.name === "string" && payload.name.trim() ? payload.name : payload.sub;
  // Plain short ASCII names (most of them) need no Unicode work; the rest are cleaned and cut.
  const plain = PLAIN_NAME.test(raw);
  const name = plain ? { ok: true as const, value: raw.trim() } : cleanText(raw, "name", { ...LIMITS.displayName, graphemes: 10_000, bytes: 10_000 });
  const badges = Array.isArray(payload.badges) ? payload.badges.filter((b): b is string => typeof b === "string" && /^[\w:.-]{1,32}$/.test(b)).slice(0, 8) : [];
  return {
    ok: true,
    viewer: {
      id: payload.sub,
      name: name.ok ? (plain ? name.value : truncateName(name.value)) : payload.sub.slice(0, 30),
      member: payload.member === true,
      badges,
      iat: typeof payload.iat === "number" ? payload.iat : undefined,
      exp: payload.exp as number,
    },
  };
}

/** A display name over the limit is cut at grapheme boundaries rather than refused: the host set it. */
const SEGMENTER = new Intl.Segmenter(undefined, { granularity: "grapheme" });
const ENCODER = new TextEncoder();
function truncateName(name: string): string {
  const seg = SEGMENTER;
  let out = "";
  let n = 0;
  for (const { segment } of seg.segment(name)) {
    if (n >= 30 || ENCODER.encode(out + segment).length > 120) break;
    out += segment;
    n++;
  }
  return out;
}

/** Mints an HS256 viewer token (CLI `token viewer`, demo and tests). */
export async function mintViewerToken(
  secret: string,
  claims: { sub: string; name?: string; member?: boolean; badges?: string[]; aud?: string; iss?: string },
  ttlS = 3600,
): Promise<string> {
  const { aud, iss, ...rest } = claims;
  let jwt = new SignJWT(rest).setProtectedHeader({ alg: "HS256", typ: "JWT" }).setIssuedAt().setExpirationTime(Math.floor(Date.now() / 1000) + ttlS);
  if (aud) jwt = jwt.setAudience(aud);
  if (iss) jwt = jwt.setIssuer(iss);
  return jwt.sign(new TextEncoder().encode(secret));
}
