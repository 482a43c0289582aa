// Tiny HS256 JWT signer for signed-in benchmark viewers (node:crypto only: no new dependency).

import { createHmac } from "node:crypto";

function b64url(input: Buffer | string): string {
  return Buffer.from(input).toString("base64url");
}

const HEADER: string = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));

export function signHs256(claims: Record<string, unknown>, secret: string): string {
  const body = `${HEADER}.${b64url(JSON.stringify(claims))}`;
  return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
}

/** The viewer token the brief asks for: distinct `sub` per socket, valid for one hour. */
export function viewerToken(i: number, secret: string): string {
  const now = Math.floor(Date.now() / 1000);
  return signHs256({ sub: `v${i}`, name: `Viewer ${i}`, iat: now, exp: now + 3600 }, secret);
}
