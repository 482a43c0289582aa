// JSON parsing that cannot pollute prototypes: "__proto__" keys become plain own properties under
// JSON.parse already; we additionally refuse them so no later spread or merge can misuse them.
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function hasForbiddenKeys(v: unknown, depth = 0): boolean {
  if (depth > 32) return true;
  if (Array.isArray(v)) return v.some((x) => hasForbiddenKeys(x, depth + 1));
  if (isPlainObject(v)) {
    for (const k of Object.keys(v)) {
      if (k === "__proto__" || k === "constructor" || k === "prototype") return true;
      if (hasForbiddenKeys(v[k], depth + 1)) return true;
    }
  }
  return false;
}
