// Spawns and talks to load-client children, all pinned to the generator core.

import type { Subprocess } from "bun";
import { join } from "node:path";
import { stopGroup, trackGroup } from "./cleanup.ts";
import type { ClientConfig, Command, Reply } from "./protocol.ts";

/** Sockets per generator process: below the 20,000 open-file limit with room for the rest. */
export const SOCKETS_PER_GENERATOR = 18_000;

type CommandBody = Command extends infer C ? (C extends { id: number } ? Omit<C, "id"> : never) : never;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class Generator {
  readonly proc: Subprocess<"pipe", "pipe", "inherit">;
  readonly pid: number;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private exited = false;

  constructor(cpu: string, cfg: ClientConfig) {
    const script = join(import.meta.dir, "..", "load-client.ts");
    // The config travels in the environment, not argv: it holds the token secret, and argv is
    // world-readable in `ps`.
    this.proc = Bun.spawn(["taskset", "-c", cpu, process.execPath, script], {
      env: { ...process.env, BENCH_CLIENT_CONFIG: JSON.stringify(cfg) },
      stdin: "pipe",
      stdout: "pipe",
      stderr: "inherit",
      detached: true,
    });
    this.pid = this.proc.pid;
    trackGroup(this.pid);
    void this.readReplies();
    void this.proc.exited.then((code: number) => {
      this.exited = true;
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(`generator ${this.pid} exited with code ${code}`));
      }
      this.pending.clear();
    });
  }

  private async readReplies(): Promise<void> {
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of this.proc.stdout) {
      buffered += decoder.decode(chunk, { stream: true });
      let nl = buffered.indexOf("\n");
      while (nl >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        nl = buffered.indexOf("\n");
        if (line.trim() === "") continue;
        const reply = JSON.parse(line) as Reply;
        const p = this.pending.get(reply.id);
        if (p === undefined) continue;
        this.pending.delete(reply.id);
        clearTimeout(p.timer);
        if (reply.ok) p.resolve(reply.result);
        else p.reject(new Error(`generator ${this.pid}: ${reply.error}`));
      }
    }
  }

  request<T>(body: CommandBody, timeoutMs: number): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`generator ${this.pid} is not running`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`generator ${this.pid}: "${body.cmd}" timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      this.proc.stdin.write(`${JSON.stringify({ ...body, id })}\n`);
      void this.proc.stdin.flush();
    });
  }

  async stop(): Promise<void> {
    if (!this.exited) {
      try {
        await this.request<null>({ cmd: "quit" }, 2000);
      } catch {
        // killed below anyway
      }
    }
    await stopGroup(this.pid, 2000);
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
