// Spawns and talks to load-client children, all pinned to the generator core.

import { join } from "node:path";
import { LoadChild } from "./child.ts";
import type { ClientConfig, Command } from "./protocol.ts";

/** Sockets per generator process: below the 20,000 open-file limit with room for the rest. */
export const SOCKETS_PER_GENERATOR = 18_000;

/** A load-client child (bench/load-client.ts) pinned to `cpu`; the command channel is LoadChild's. */
export class Generator extends LoadChild<Command> {
  constructor(cpu: string, cfg: ClientConfig) {
    super(join(import.meta.dir, "..", "load-client.ts"), cpu, "BENCH_CLIENT_CONFIG", cfg);
  }
}

/** Enough generators for `sockets` (all on the same core). */
export function spawnGenerators(sockets: number, cpu: string, cfg: ClientConfig): Generator[] {
  const count = Math.max(1, Math.ceil(sockets / SOCKETS_PER_GENERATOR));
  return Array.from({ length: count }, () => new Generator(cpu, cfg));
}

/** Splits `total` sockets over the generators as evenly as possible: [firstId, count] each. */
export function shares(total: number, parts: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let first = 0;
  for (let k = 0; k < parts; k++) {
    const count = Math.floor(total / parts) + (k < total % parts ? 1 : 0);
    out.push([first, count]);
    first += count;
  }
  return out;
}
