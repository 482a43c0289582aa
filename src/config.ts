// The only reader of process.env. Every variable is parsed and validated once, at start; a bad value
// stops the start with the variable's name, what was expected and what was given.
import { resolve } from "node:path";
import { parseCidrList, type Cidr } from "./runtime/ip.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Config {
  port: number;
  host: string;
  publicUrl: string;
  publicOrigin: string;
  dataDir: string;
  viewerTokenSecret: string | null; // null: read or generated in the data folder at start
  viewerJwksUrl: string | null;
  viewerTokenAudience: string | null;
  viewerTokenIssuer: string | null;
  adminApiKey: string | null;
  allowedOrigins: string[];
  embedOrigins: string[];
  adminPassword: string | null;
  demo: boolean;
  logLevel: LogLevel;
  classifierUrl: string | null;
  classifierTimeoutMs: number;
  classifierMaxInFlight: number;
  moderationWorkers: number;
  analyticsWindowS: number;
  analyticsFlushS: number;
  trustedProxies: Cidr[];
  maxSocketsPerViewer: number;
  connectRatePerIp: number;
  connectBurstPerIp: number;
  socketIdleTimeoutS: number;
  drainTimeoutMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
  }
}

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env): Readonly<Config> {
  const problems: string[] = [];
  const r = new Reader(env, problems);

  const port = r.int("HUBBUB_PORT", 4000, 0, 65535);
  const host = r.str("HUBBUB_HOST", "0.0.0.0");
  const publicUrl = r.url("HUBBUB_PUBLIC_URL", ["http:", "https:"]) ?? `http://localhost:${port}`;
  const config: Config = {
    port,
    host,
    publicUrl: publicUrl.replace(/\/+$/, ""),
    publicOrigin: safeOrigin(publicUrl),
    dataDir: resolve(r.str("HUBBUB_DATA_DIR", "./data")),
    viewerTokenSecret: r.secret("HUBBUB_VIEWER_TOKEN_SECRET", 32),
    viewerJwksUrl: r.url("HUBBUB_VIEWER_JWKS_URL", ["http:", "https:"]),
    viewerTokenAudience: r.optStr("HUBBUB_VIEWER_TOKEN_AUDIENCE"),
    viewerTokenIssuer: r.optStr("HUBBUB_VIEWER_TOKEN_ISSUER"),
    adminApiKey: r.secret("HUBBUB_ADMIN_API_KEY", 24),
    allowedOrigins: r.origins("HUBBUB_ALLOWED_ORIGINS"),
    embedOrigins: r.origins("HUBBUB_EMBED_ORIGINS"),
    adminPassword: r.secret("HUBBUB_ADMIN_PASSWORD", 8),
    demo: r.bool("HUBBUB_DEMO", false),
    logLevel: r.oneOf("HUBBUB_LOG_LEVEL", ["debug", "info", "warn", "error"] as const, "info"),
    classifierUrl: r.url("HUBBUB_CLASSIFIER_URL", ["http:", "https:"]),
    classifierTimeoutMs: r.int("HUBBUB_CLASSIFIER_TIMEOUT_MS", 150, 20, 5000),
    classifierMaxInFlight: r.int("HUBBUB_CLASSIFIER_MAX_IN_FLIGHT", 64, 1, 10_000),
    moderationWorkers: r.int("HUBBUB_MODERATION_WORKERS", 1, 1, 16),
    analyticsWindowS: r.int("HUBBUB_ANALYTICS_WINDOW_S", 10, 1, 3600),
    analyticsFlushS: r.int("HUBBUB_ANALYTICS_FLUSH_S", 5, 1, 600),
    trustedProxies: r.cidrs("HUBBUB_TRUSTED_PROXIES"),
    maxSocketsPerViewer: r.int("HUBBUB_MAX_SOCKETS_PER_VIEWER", 10, 1, 1000),
    connectRatePerIp: r.int("HUBBUB_CONNECT_RATE_PER_IP", 50, 0, 1_000_000),
    connectBurstPerIp: r.int("HUBBUB_CONNECT_BURST_PER_IP", 500, 0, 1_000_000),
    socketIdleTimeoutS: r.int("HUBBUB_SOCKET_IDLE_TIMEOUT_S", 60, 2, 960),
    drainTimeoutMs: r.int("HUBBUB_DRAIN_TIMEOUT_MS", 10_000, 100, 120_000),
  };
  if (config.viewerTokenSecret && config.viewerJwksUrl) {
    problems.push(
      "HUBBUB_VIEWER_TOKEN_SECRET and HUBBUB_VIEWER_JWKS_URL: expected one of them, got both",
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

class Reader {
  constructor(
    private env: Env,
    private problems: string[],
  ) {}

  private raw(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v.trim() === "" ? undefined : v.trim();
  }

  private bad(name: string, expected: string, got: string): void {
    this.problems.push(`${name}: expected ${expected}, got ${JSON.stringify(got)}`);
  }

  str(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  optStr(name: string): string | null {
    return this.raw(name) ?? null;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    if (!/^-?\d+$/.test(v) || Number(v) < min || Number(v) > max) {
      this.bad(name, `an integer from ${min} to ${max}`, v);
      return fallback;
    }
    return Number(v);
  }

  bool(name: string, fallback: boolean): boolean {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    if (/^(1|true|yes|on)$/i.test(v)) return true;
    if (/^(0|false|no|off)$/i.test(v)) return false;
    this.bad(name, "true or false (also 1/0, yes/no, on/off)", v);
    return fallback;
  }

  oneOf<T extends string>(name: string, values: readonly T[], fallback: T): T {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    if (!(values as readonly string[]).includes(v)) {
      this.bad(name, `one of ${values.join(", ")}`, v);
      return fallback;
    }
    return v as T;
  }

  secret(name: string, minLength: number): string | null {
    const v = this.raw(name);
    if (v === undefined) return null;
    if (v.length < minLength) {
      // Never echo a secret back, not even a short one.
      this.problems.push(`${name}: expected at least ${minLength} characters, got ${v.length}`);
      return null;
    }
    return v;
  }

  url(name: string, protocols: string[]): string | null {
    const v = this.raw(name);
    if (v === undefined) return null;
    try {
      const u = new URL(v);
      if (!protocols.includes(u.protocol)) throw new Error("protocol");
      return v;
    } catch {
      this.bad(name, `a ${protocols.map((p) => p.replace(":", "")).join(" or ")} URL`, v.replace(/\/\/[^/@]*@/, "//[credentials]@"));
      return null;
    }
  }

  origins(name: string): string[] {
    const v = this.raw(name);
    if (v === undefined) return [];
    const out: string[] = [];
    for (const part of v.split(",").map((s) => s.trim()).filter(Boolean)) {
      try {
        const u = new URL(part);
        if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error("protocol");
        out.push(u.origin);
      } catch {
        this.bad(name, "a comma list of http(s) origins such as https://example.com", part);
      }
    }
    return out;
  }

  cidrs(name: string): Cidr[] {
    const v = this.raw(name);
    if (v === undefined) return [];
    const parsed = parseCidrList(v);
    if (!parsed.ok) {
      this.bad(name, "a comma list of IP addresses or CIDR ranges", parsed.bad);
      return [];
    }
    return parsed.value;
  }
}
