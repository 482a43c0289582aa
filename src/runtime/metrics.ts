// A tiny Prometheus registry: counters and gauges with fixed label sets, rendered in text format
// 0.0.4. Hand-written because the hot path only bumps numbers; no dependency needed for that.
type Labels = Record<string, string>;

interface Series {
  name: string;
  help: string;
  type: "counter" | "gauge";
  values: Map<string, number>; // key: rendered label set
  collect?: () => number;
}

export class Metrics {
  private series = new Map<string, Series>();

  counter(name: string, help: string): Counter {
    return new Counter(this.define(name, help, "counter"));
  }

  /** A counter whose value is read from its owner at scrape time. */
  counterFrom(name: string, help: string, collect: () => number): void {
    this.define(name, help, "counter").collect = collect;
  }

  gauge(name: string, help: string, collect?: () => number): Gauge {
    const s = this.define(name, help, "gauge");
    if (collect) s.collect = collect;
    return new Gauge(s);
  }

  private define(name: string, help: string, type: Series["type"]): Series {
    const existing = this.series.get(name);
    if (existing) return existing;
    const s: Series = { name, help, type, values: new Map() };
    this.series.set(name, s);
    return s;
  }

  render(): string {
    const out: string[] = [];
    for (const s of this.series.values()) {
      out.push(`# HELP ${s.name} ${s.help}`, `# TYPE ${s.name} ${s.type}`);
      if (s.collect) s.values.set("", s.collect());
      if (s.values.size === 0) s.values.set("", 0);
      for (const [labels, v] of s.values) out.push(`${s.name}${labels} ${Number.isFinite(v) ? v : 0}`);
    }
    return out.join("\n") + "\n";
  }
}

// Rendered label sets by their raw text: label values come from small fixed sets (statuses, reasons),
// and rendering one per bump was a visible share of the reactions hot path.
const keyCache = new Map<string, string>();

function key(labels?: Labels): string {
  if (!labels) return "";
  let raw = "";
  for (const k in labels) raw += `${k}\u0000${labels[k]}\u0001`;
  let out = keyCache.get(raw);
  if (out === undefined) {
    const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, "_")}"`);
    out = `{${parts.join(",")}}`;
    if (keyCache.size < 10_000) keyCache.set(raw, out);
  }
  return out;
}

export class Counter {
  constructor(private s: Series) {}
  inc(by = 1, labels?: Labels): void {
    const k = key(labels);
    this.s.values.set(k, (this.s.values.get(k) ?? 0) + by);
  }
  get(labels?: Labels): number {
    return this.s.values.get(key(labels)) ?? 0;
  }
}

export class Gauge {
  constructor(private s: Series) {}
  set(v: number, labels?: Labels): void {
    this.s.values.set(key(labels), v);
  }
}
