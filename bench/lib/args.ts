// Command-line flags (--name=value) with BENCH_NAME environment fallbacks; defaults are the full
// sizes of the benchmark brief.

export type Scenario = "memory" | "storm" | "fanout";
export type Variant = "guest" | "signed";

export interface Options {
  only: Scenario[];
  servers: Array<"raw" | "hubbub">;
  variants: Variant[];
  n: number;
  fanoutN: number;
  rates: number[];
  duration: number;
  concurrency: number;
  sampleEvery: number;
  bodyBytes: number;
  idleSeconds: number;
  lateIdleSeconds: number;
  repeat: number;
  fanoutRepeat: number;
  quietWait: number;
  json: string | null;
  keepTmp: boolean;
  serverCpu: string;
  generatorCpu: string;
}

export const USAGE = `Usage: bun bench/run.ts [flags]   (each flag also reads env BENCH_<NAME>, e.g. BENCH_ONLY=memory)
  --only=memory,storm,fanout   scenarios to run (default: all)
  --servers=raw,hubbub         servers, compared left vs right (raw,raw checks the harness)
  --variants=guest,signed      viewer kinds for memory and storm (fan-out uses guests)
  --n=15000                    sockets for memory and join storm
  --fanout-n=10000             subscribers for fan-out
  --rates=200000,500000        offered deliveries/s for fan-out
  --duration=10                seconds per fan-out rate
  --concurrency=300            in-flight connect+join attempts
  --sample-every=10            time latency on every k-th socket (deliveries are counted on all)
  --body-bytes=100             announcement body length (max 500)
  --idle=3                     seconds idle before the memory reading
  --late-idle=30               extra idle seconds for a second, later memory reading (0: skip)
  --repeat=3                   runs per memory/storm measurement, servers interleaved; tables show medians
  --fanout-repeat=5            runs per fan-out measurement (latency is the noisiest number)
  --quiet-wait=300             max seconds to wait for other processes to go quiet before each run
  --json=PATH                  also write raw results as JSON
  --keep-tmp                   keep temp dirs (server logs, hubbub data)
  --server-cpu=0 --generator-cpu=1`;

function raw(argv: string[], name: string): string | undefined {
  const flag = argv.find((a: string) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (flag !== undefined) return flag.includes("=") ? flag.slice(flag.indexOf("=") + 1) : "true";
  return process.env[`BENCH_${name.toUpperCase().replaceAll("-", "_")}`];
}

function num(argv: string[], name: string, dflt: number, min: number, max: number): number {
  const v = raw(argv, name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number in [${min}, ${max}], got "${v}"`);
  return n;
}

function list<T extends string>(argv: string[], name: string, allowed: readonly T[], dflt: T[]): T[] {
  const v = raw(argv, name);
  if (v === undefined) return dflt;
  const items = v.split(",").map((s: string) => s.trim()).filter((s: string) => s !== "");
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) throw new Error(`--${name}: unknown "${item}" (allowed: ${allowed.join(", ")})`);
  }
  return items as T[];
}

export function parseOptions(argv: string[]): Options {
  const known = new Set([
    "only", "servers", "variants", "n", "fanout-n", "rates", "duration", "concurrency", "sample-every",
    "body-bytes", "idle", "late-idle", "repeat", "fanout-repeat", "quiet-wait", "json", "keep-tmp", "server-cpu", "generator-cpu", "help",
  ]);
  for (const a of argv) {
    const name = a.replace(/^--/, "").split("=")[0] ?? "";
    if (!a.startsWith("--") || !known.has(name)) throw new Error(`unknown argument "${a}"\n${USAGE}`);
  }
  const rates = (raw(argv, "rates") ?? "200000,500000").split(",").map((s: string) => Number(s.trim()));
  if (rates.some((r: number) => !Number.isFinite(r) || r <= 0 || r > 5_000_000)) throw new Error("--rates: positive numbers up to 5,000,000");
  const servers = list(argv, "servers", ["raw", "hubbub"] as const, ["raw", "hubbub"]);
  if (servers.length < 1 || servers.length > 2) throw new Error("--servers takes one or two servers");
  return {
    only: list(argv, "only", ["memory", "storm", "fanout"] as const, ["memory", "storm", "fanout"]),
    servers,
    variants: list(argv, "variants", ["guest", "signed"] as const, ["guest", "signed"]),
    n: num(argv, "n", 15_000, 1, 100_000),
    fanoutN: num(argv, "fanout-n", 10_000, 1, 100_000),
    rates,
    duration: num(argv, "duration", 10, 1, 300),
    concurrency: num(argv, "concurrency", 300, 1, 5000),
    sampleEvery: num(argv, "sample-every", 10, 1, 100_000),
    bodyBytes: num(argv, "body-bytes", 100, 30, 500),
    idleSeconds: num(argv, "idle", 3, 0, 120),
    lateIdleSeconds: num(argv, "late-idle", 30, 0, 600),
    repeat: num(argv, "repeat", 3, 1, 20),
    fanoutRepeat: num(argv, "fanout-repeat", 5, 1, 20),
    quietWait: num(argv, "quiet-wait", 300, 0, 3600),
    json: raw(argv, "json") ?? null,
    keepTmp: raw(argv, "keep-tmp") !== undefined && raw(argv, "keep-tmp") !== "0",
    serverCpu: raw(argv, "server-cpu") ?? "0",
    generatorCpu: raw(argv, "generator-cpu") ?? "1",
  };
}
