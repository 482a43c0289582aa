// Form bodies (application/x-www-form-urlencoded, parsed by Elysia) as plain string maps.

/** Every field as one string: a repeated field keeps its last value; anything else is dropped. */
export function formOf(body: unknown): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  if (typeof body !== "object" || body === null) return out;
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    if (typeof last === "string") out[k] = last;
    else if (typeof last === "number" || typeof last === "boolean") out[k] = String(last);
  }
  return out;
}

/** An integer when the text is one, else the text itself, so the domain names the problem. */
export function intOrText(v: string | undefined): number | string {
  const t = (v ?? "").trim();
  return /^-?\d{1,15}$/.test(t) ? Number(t) : t;
}

export function lines(v: string | undefined): string[] {
  return (v ?? "").split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
}

export const checked = (v: string | undefined) => v === "on" || v === "true";
