// Load-generator children driven over JSON lines (commands on the child's stdin, replies on its
// stdout), both ends: `LoadChild` in the orchestrator, `serveCommands` in the child. Used by the
// benchmarks (bench/chat.ts, bench/reactions.ts, bench/analytics.ts; bench/run.ts through generators.ts).

import type { Subprocess } from "bun";
import { createInterface } from "node:readline";
import { stopGroup, trackGroup } from "./cleanup.ts";

export type ChildReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** A command as the orchestrator writes it: the child's command type without its `id`. */
export type CommandBody<C> = C extends { id: number } ? Omit<C, "id"> : never;

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** A generator process pinned with `taskset -c <cpu>`, in its own process group (tracked for cleanup). */
export class LoadChild<C extends { id: number; cmd: string }> {
  readonly proc: Subprocess<"pipe", "pipe", "inherit">;
  readonly pid: number;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private exited = false;

  /** The config travels in the environment variable `configEnv`, not argv: it holds the token
   * secret, and argv is world-readable in `ps`. */
  constructor(script: string, cpu: string, configEnv: string, cfg: unknown) {
    this.proc = Bun.spawn(["taskset", "-c", cpu, process.execPath, script], {
      env: { ...process.env, [configEnv]: JSON.stringify(cfg) },
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
        const reply = JSON.parse(line) as ChildReply;
        const p = this.pending.get(reply.id);
        if (p === undefined) continue;
        this.pending.delete(reply.id);
        clearTimeout(p.timer);
        if (reply.ok) p.resolve(reply.result);
        else p.reject(new Error(`generator ${this.pid}: ${reply.error}`));
      }
    }
  }

  request<T>(body: CommandBody<C>, timeoutMs: number): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`generator ${this.pid} is not running`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`generator ${this.pid}: "${body.cmd}" timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.proc.stdin.write(`${JSON.stringify({ ...body, id })}\n`);
      void this.proc.stdin.flush();
    });
  }

  async stop(): Promise<void> {
    if (!this.exited) {
      try {
        await this.request<null>({ cmd: "quit" } as CommandBody<C>, 2000);
      } catch {
        // killed below anyway
      }
    }
    await stopGroup(this.pid, 2000);
  }
}

/**
 * Child side: reads commands from stdin, answers each with `handle`'s result (or its error).
 * `quit` is answered here and ends the process, as does stdin closing (the orchestrator went away)
 * or `maxLifetimeMs` passing (a forgotten child must not live forever).
 */
export function serveCommands<C extends { id: number; cmd: string }>(handle: (cmd: C) => Promise<unknown> | unknown, maxLifetimeMs: number): void {
  const send = (reply: ChildReply): void => {
    process.stdout.write(`${JSON.stringify(reply)}\n`);
  };
  const run = async (cmd: C): Promise<void> => {
    if (cmd.cmd === "quit") {
      send({ id: cmd.id, ok: true, result: null });
      setTimeout(() => process.exit(0), 20);
      return;
    }
    try {
      send({ id: cmd.id, ok: true, result: await handle(cmd) });
    } catch (err: unknown) {
      send({ id: cmd.id, ok: false, error: err instanceof Error ? err.message : String(err) });
    }
  };
  setTimeout(() => process.exit(3), maxLifetimeMs).unref();
  const lines = createInterface({ input: process.stdin });
  lines.on("line", (line: string) => {
    if (line.trim() === "") return;
    void run(JSON.parse(line) as C);
  });
  lines.on("close", () => process.exit(0));
}
