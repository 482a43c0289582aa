// The synchronous HS256 verifier agrees with jose on what it accepts and refuses.
import { expect, test } from "bun:test";
import { SignJWT } from "jose";
import { verifyHs256 } from "../../src/identity/hs256.ts";

const secret = "unit-secret-0123456789abcdef-0123456789";
const key = new TextEncoder().encode(secret);
const nowS = Math.floor(Date.now() / 1000);
const opts = { audience: null, issuer: null, clockToleranceS: 5, nowS };
const sign = (claims: Record<string, unknown>, alg = "HS256") => new SignJWT(claims).setProtectedHeader({ alg }).sign(key);

test("valid tokens pass; expiry, nbf, aud, iss, alg and signature are enforced", async () => {
  const good = await sign({ sub: "a", exp: nowS + 60, iat: nowS });
  expect(verifyHs256(good, Buffer.from(secret), opts)).toMatchObject({ ok: true, payload: { sub: "a" } });
  expect(verifyHs256(await sign({ sub: "a", exp: nowS - 60 }), Buffer.from(secret), opts)).toMatchObject({ ok: false, code: "token_expired" });
  expect(verifyHs256(await sign({ sub: "a", exp: nowS + 60, nbf: nowS + 600 }), Buffer.from(secret), opts)).toMatchObject({ ok: false, code: "invalid_token" });
  expect(verifyHs256(await sign({ sub: "a" }), Buffer.from(secret), opts)).toMatchObject({ ok: false, code: "invalid_token" });
  expect(verifyHs256(await sign({ exp: nowS + 60 }), Buffer.from(secret), opts)).toMatchObject({ ok: false, code: "invalid_token" });
  const withAud = await sign({ sub: "a", exp: nowS + 60, aud: ["x", "hubbub"], iss: "host" });
  expect(verifyHs256(withAud, Buffer.from(secret), { ...opts, audience: "hubbub", issuer: "host" }).ok).toBe(true);
  expect(verifyHs256(withAud, Buffer.from(secret), { ...opts, audience: "other", issuer: "host" }).ok).toBe(false);
  expect(verifyHs256(withAud, Buffer.from(secret), { ...opts, audience: "hubbub", issuer: "evil" }).ok).toBe(false);
  expect(verifyHs256(good, Buffer.from(secret + "x"), opts).ok).toBe(false);
  const [h, p] = good.split(".");
  expect(verifyHs256(`${h}.${p}.`, Buffer.from(secret), opts).ok).toBe(false);
  const none = `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${p}.`;
  expect(verifyHs256(none, Buffer.from(secret), opts).ok).toBe(false);
  expect(verifyHs256(await sign({ sub: "a", exp: nowS + 60 }, "HS512"), Buffer.from(secret), opts).ok).toBe(false);
  const tampered = `${h}.${Buffer.from(JSON.stringify({ sub: "admin", exp: nowS + 60 })).toString("base64url")}.${good.split(".")[2]}`;
  expect(verifyHs256(tampered, Buffer.from(secret), opts).ok).toBe(false);
});
