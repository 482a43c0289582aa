// src/config.ts: defaults, and a bad value stops the start with the variable's name, what was expected
// and what was given (never a secret's value). Also the process-level behaviour of `hubbub serve`.
import { describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { runCli } from "../support/identity.ts";
import { removeDir, tempDir } from "../support/server.ts";

function problem(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error(`expected ConfigError for ${JSON.stringify(env)}`);
}

describe("loadConfig", () => {
  test("defaults", () => {
    const c = loadConfig({});
    expect(c).toEqual({
      port: 4000,
      host: "0.0.0.0",
      publicUrl: "http://localhost:4000",
      publicOrigin: "http://localhost:4000",
      dataDir: resolve("./data"),
      viewerTokenSecret: null,
      viewerJwksUrl: null,
      viewerTokenAudience: null,
      viewerTokenIssuer: null,
      adminApiKey: null,
      allowedOrigins: [],
      embedOrigins: [],
      adminPassword: null,
      demo: false,
      logLevel: "info",
      classifierUrl: null,
      classifierTimeoutMs: 150, classifierMaxInFlight: 64, moderationWorkers: 1, analyticsWindowS: 10, analyticsFlushS: 5,
      trustedProxies: [],
      maxSocketsPerViewer: 10,
      connectRatePerIp: 50,
      connectBurstPerIp: 500,
      socketIdleTimeoutS: 60,
      drainTimeoutMs: 10_000,
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  test("good values are parsed; empty values count as unset", () => {
    const c = loadConfig({
      HUBBUB_PORT: " 4100 ",
      HUBBUB_PUBLIC_URL: "https://live.example.com/",
      HUBBUB_ALLOWED_ORIGINS: "https://a.example.com/, http://b.example.com:8080/path",
      HUBBUB_TRUSTED_PROXIES: "127.0.0.1, 10.0.0.0/8, ::1, fd00::/8",
      HUBBUB_MAX_SOCKETS_PER_VIEWER: "1",
      HUBBUB_CONNECT_RATE_PER_IP: "0",
      HUBBUB_LOG_LEVEL: "debug",
      HUBBUB_DEMO: "yes",
      HUBBUB_VIEWER_TOKEN_SECRET: "",
      HUBBUB_VIEWER_JWKS_URL: "https://host.example/.well-known/jwks.json",
    });
    expect(c.port).toBe(4100);
    expect(c.publicUrl).toBe("https://live.example.com");
    expect(c.publicOrigin).toBe("https://live.example.com");
    expect(c.allowedOrigins).toEqual(["https://a.example.com", "http://b.example.com:8080"]);
    expect(c.trustedProxies.map((x) => `${x.address}/${x.prefix}`)).toEqual(["127.0.0.1/32", "10.0.0.0/8", "::1/128", "fd00::/8"]);
    expect(c.maxSocketsPerViewer).toBe(1);
    expect(c.connectRatePerIp).toBe(0);
    expect(c.logLevel).toBe("debug");
    expect(c.demo).toBe(true);
    expect(c.viewerTokenSecret).toBeNull();
    expect(c.viewerJwksUrl).toBe("https://host.example/.well-known/jwks.json");
  });

  // Each bad value: the message names the variable, the expectation and the value given.
  const bad: Array<[string, string, RegExp]> = [
    ["HUBBUB_PORT", "abc", /integer from 0 to 65535/],
    ["HUBBUB_PORT", "70000", /integer from 0 to 65535/],
    ["HUBBUB_PORT", "40.5", /integer from 0 to 65535/],
    ["HUBBUB_MAX_SOCKETS_PER_VIEWER", "0", /integer from 1 to 1000/],
    ["HUBBUB_CONNECT_BURST_PER_IP", "-1", /integer from 0/],
    ["HUBBUB_LOG_LEVEL", "loud", /one of debug, info, warn, error/],
    ["HUBBUB_DEMO", "maybe", /true or false/],
    ["HUBBUB_ALLOWED_ORIGINS", "https://ok.example.com, ftp://files.example.com", /http\(s\) origins/],
    ["HUBBUB_EMBED_ORIGINS", "not an origin", /http\(s\) origins/],
    ["HUBBUB_TRUSTED_PROXIES", "10.0.0.0/33", /IP addresses or CIDR ranges/],
    ["HUBBUB_TRUSTED_PROXIES", "127.0.0.1, proxy.internal", /IP addresses or CIDR ranges/],
    ["HUBBUB_PUBLIC_URL", "ws://x.example", /http or https URL/],
    ["HUBBUB_VIEWER_JWKS_URL", "file:///etc/keys.json", /http or https URL/],
  ];
  for (const [name, value, expected] of bad) {
    test(`${name}=${JSON.stringify(value)} is refused with its name, expectation and value`, () => {
      const msg = problem({ [name]: value });
      expect(msg).toContain(name);
      expect(msg).toMatch(expected);
      const shown = name.endsWith("ORIGINS") || name === "HUBBUB_TRUSTED_PROXIES" ? value.split(",").map((p) => p.trim()).at(-1)! : value;
      expect(msg).toContain(shown);
    });
  }

  test("a short secret is refused without echoing its value", () => {
    for (const [name, value] of [
      ["HUBBUB_VIEWER_TOKEN_SECRET", "short-viewer-secret"],
      ["HUBBUB_ADMIN_API_KEY", "short-admin-key"],
      ["HUBBUB_ADMIN_PASSWORD", "pw-123"],
    ] as const) {
      const msg = problem({ [name]: value });
      expect(msg).toContain(name);
      expect(msg).toMatch(/at least \d+ characters/);
      expect(msg).not.toContain(value);
    }
  });

  test("a shared secret and a JWKS URL together are refused, naming both, echoing neither secret", () => {
    const secret = "a-long-enough-viewer-secret-0123456789";
    const msg = problem({ HUBBUB_VIEWER_TOKEN_SECRET: secret, HUBBUB_VIEWER_JWKS_URL: "https://host.example/jwks.json" });
    expect(msg).toContain("HUBBUB_VIEWER_TOKEN_SECRET");
    expect(msg).toContain("HUBBUB_VIEWER_JWKS_URL");
    expect(msg).not.toContain(secret);
  });

  test("every bad variable is reported at once", () => {
    const msg = problem({ HUBBUB_PORT: "abc", HUBBUB_LOG_LEVEL: "loud", HUBBUB_MAX_SOCKETS_PER_VIEWER: "0" });
    for (const name of ["HUBBUB_PORT", "HUBBUB_LOG_LEVEL", "HUBBUB_MAX_SOCKETS_PER_VIEWER"]) expect(msg).toContain(name);
  });
});

describe("hubbub serve with a bad value", () => {
  test("exits non-zero before starting, naming the variable on stderr", async () => {
    const dir = tempDir("hubbub-config-");
    try {
      const r = await runCli(["serve"], { HUBBUB_PORT: "abc", HUBBUB_DATA_DIR: dir, HUBBUB_HOST: "127.0.0.1" });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain("HUBBUB_PORT");
      expect(r.stderr).toContain('"abc"');
      expect(r.stderr).not.toMatch(/listening/i);
    } finally {
      removeDir(dir);
    }
  });
});
