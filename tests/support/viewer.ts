// Helpers for the viewer-page browser tests: pages that record their errors (CSP violations show
// up as console errors) and WebSockets, reading the chat as the viewer sees it, screenshots, and
// phoenix-client bots (in this process, or spread over child processes for the big crowds).
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Page, WebSocket as PwWebSocket } from "playwright-core";
import { BUN, REPO } from "./process-server.ts";
import { waitFor } from "./wait.ts";

export const ARTIFACTS = join(REPO, "tests/artifacts");

export interface WatchedPage {
  page: Page;
  /** Uncaught errors and console errors (a CSP violation is one). */
  errors: string[];
  /** Every WebSocket the page (or one of its frames) opened, in order. */
  sockets: PwWebSocket[];
  /** Every Phoenix frame the page received, decoded, with the index of its socket. */
  frames: Array<{ socket: number; joinRef: string | null; ref: string | null; topic: string; event: string; payload: any }>;
}

export async function openPage(where: Browser | BrowserContext, url: string, opts: { viewport?: { width: number; height: number } } = {}): Promise<WatchedPage> {
  const page = await where.newPage({ viewport: opts.viewport ?? { width: 1280, height: 800 } });
  const w = watchPage(page);
  await page.goto(url);
  return w;
}

export function watchPage(page: Page): WatchedPage {
  const errors: string[] = [];
  const sockets: PwWebSocket[] = [];
  const frames: WatchedPage["frames"] = [];
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  page.on("websocket", (ws) => {
    const index = sockets.push(ws) - 1;
    ws.on("framereceived", (f) => {
      if (typeof f.payload !== "string") return;
      try {
        const [joinRef, ref, topic, event, payload] = JSON.parse(f.payload);
        frames.push({ socket: index, joinRef, ref, topic, event, payload });
      } catch {}
    });
  });
  return { page, errors, sockets, frames };
}

/** The page has joined its stream (the first join reply is rendered). */
export async function waitLive(page: Page | ReturnType<Page["frameLocator"]> | any, timeoutMs = 20_000): Promise<void> {
  await page.locator('body[data-conn="live"][data-ready="1"]').waitFor({ timeout: timeoutMs });
}

export interface ShownMessage {
  seq: number | null;
  who: string;
  body: string;
  classes: string[];
  state: string | null;
  text: string;
}

/** The chat as shown, top to bottom. */
export async function shownMessages(page: Page | any): Promise<ShownMessage[]> {
  return page.locator(".log > li").evaluateAll((lis: HTMLElement[]) =>
    lis.map((li) => ({
      seq: li.dataset.seq ? Number(li.dataset.seq) : null,
      who: li.querySelector(".who")?.textContent ?? "",
      body: li.querySelector(".body")?.textContent ?? "",
      classes: [...li.classList],
      state: li.dataset.state ?? null,
      text: li.textContent ?? "",
    })),
  );
}

/** Waits until some shown message satisfies `pred`; returns it. */
export async function waitMessage(page: Page | any, pred: (m: ShownMessage) => boolean, what: string, timeoutMs = 15_000): Promise<ShownMessage> {
  return waitFor(what, async () => (await shownMessages(page)).find(pred), timeoutMs);
}

export async function screenshot(page: Page, name: string, opts: { fullPage?: boolean; omitBackground?: boolean } = {}): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, ...opts });
  return path;
}

// ---- bots in child processes (tests/support/viewer-bots.ts) ----

export interface BotRun {
  /** Reactions the server accepted, per emoji, over all bots. */
  accepted: Record<string, number>;
  refused: Record<string, number>;
  bots: number;
}

/**
 * `total` guest bots spread over `processes` child processes: each connects with the official
 * phoenix client, joins, waits for "go" on stdin, sends `perBot` reactions (emoji by a fixed
 * pattern), and reports what the server accepted.
 */
export async function reactionBots(o: { ws: string; slug: string; total: number; processes: number; perBot: number; emojis: string[] }): Promise<{ ready: Promise<void>; go(): void; done: Promise<BotRun>; kill(): void }> {
  const per = Math.ceil(o.total / o.processes);
  const procs = Array.from({ length: o.processes }, (_, i) => {
    const count = Math.min(per, o.total - i * per);
    return Bun.spawn([BUN, "tests/support/viewer-bots.ts"], {
      cwd: REPO,
      env: { ...process.env, BOT_WS: o.ws, BOT_SLUG: o.slug, BOT_COUNT: String(count), BOT_PER: String(o.perBot), BOT_EMOJIS: o.emojis.join(" "), BOT_OFFSET: String(i * per) },
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    });
  });
  const outputs = procs.map((p) => readLines(p.stdout));
  const ready = Promise.all(outputs.map((o) => o.line((l) => l.startsWith("ready")))).then(() => {});
  const done = Promise.all(
    procs.map(async (p, i) => {
      const line = await outputs[i]!.line((l) => l.startsWith("{"));
      const code = await p.exited;
      if (code !== 0) throw new Error(`bot process ${i} exited ${code}: ${await new Response(p.stderr).text()}`);
      return JSON.parse(line) as { accepted: Record<string, number>; refused: Record<string, number>; bots: number };
    }),
  ).then((rs) => {
    const out: BotRun = { accepted: {}, refused: {}, bots: 0 };
    for (const r of rs) {
      out.bots += r.bots;
      for (const [k, v] of Object.entries(r.accepted)) out.accepted[k] = (out.accepted[k] ?? 0) + v;
      for (const [k, v] of Object.entries(r.refused)) out.refused[k] = (out.refused[k] ?? 0) + v;
    }
    return out;
  });
  return {
    ready,
    done,
    go: () => {
      for (const p of procs) {
        p.stdin.write("go\n");
        p.stdin.flush();
      }
    },
    kill: () => {
      for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
    },
  };
}

function readLines(stream: ReadableStream<Uint8Array>) {
  const lines: string[] = [];
  const waiters: Array<{ pred: (l: string) => boolean; resolve: (l: string) => void; reject: (e: Error) => void }> = [];
  let ended = false;
  void (async () => {
    const dec = new TextDecoder();
    let buf = "";
    for await (const chunk of stream) {
      buf += dec.decode(chunk, { stream: true });
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        for (const w of [...waiters]) if (w.pred(line)) (waiters.splice(waiters.indexOf(w), 1), w.resolve(line));
      }
    }
    ended = true;
    for (const w of waiters) w.reject(new Error(`bot output ended without the expected line; got: ${lines.join(" | ").slice(0, 500)}`));
  })();
  return {
    line(pred: (l: string) => boolean): Promise<string> {
      const hit = lines.find(pred);
      if (hit !== undefined) return Promise.resolve(hit);
      if (ended) return Promise.reject(new Error("bot output ended"));
      return new Promise((resolve, reject) => waiters.push({ pred, resolve, reject }));
    },
  };
}
