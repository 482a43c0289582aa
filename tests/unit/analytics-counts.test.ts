// The flat counts table (src/analytics/counts.ts) against a Map of the same additions: many keys
// (several doublings), keys that differ in one field only, the max rule, and clearing.
import { expect, test } from "bun:test";
import { Counts, Ids } from "../../src/analytics/counts.ts";
import { prng } from "../support/prng.ts";

test("counts equal a Map of the same additions, through growth and clears", () => {
  const r = prng(7);
  const t = new Counts(4);
  for (let round = 0; round < 3; round++) {
    const want = new Map<string, [number, number]>();
    for (let i = 0; i < 20_000; i++) {
      // Few values per field, so that keys repeat and differ in a single field.
      const bucket = 1_800_000_000_000 + Math.floor(r() * 30) * 10_000;
      const kind = Math.floor(r() * 17);
      const [country, segment, key] = [Math.floor(r() * 5), Math.floor(r() * 4), Math.floor(r() * 6)];
      const n = Math.floor(r() * 10);
      const total = Math.floor(r() * 1000) - 500;
      const max = kind === 9;
      t.add(bucket, kind, country, segment, key, n, total, max);
      const k = `${bucket}|${kind}|${country}|${segment}|${key}`;
      const was = want.get(k);
      want.set(k, was ? [max ? Math.max(was[0], n) : was[0] + n, was[1] + total] : [n, total]);
    }
    const got = new Map<string, [number, number]>();
    t.forEach((bucket, kind, country, segment, key, n, total) => {
      const k = `${bucket}|${kind}|${country}|${segment}|${key}`;
      expect(got.has(k)).toBe(false);
      got.set(k, [n, total]);
    });
    expect(t.size).toBe(want.size);
    expect([...got].sort()).toEqual([...want].sort());
    t.clear();
    let left = 0;
    t.forEach(() => left++);
    expect([left, t.size]).toEqual([0, 0]);
  }
});

test("ids are given in order of first use, and kept", () => {
  const ids = new Ids([""]);
  expect([ids.id(""), ids.id("US"), ids.id("GB"), ids.id("US")]).toEqual([0, 1, 2, 1]);
  expect(ids.list).toEqual(["", "US", "GB"]);
});
