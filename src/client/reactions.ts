// Reactions: a button per emoji of the stream's set, a running count per emoji since the page
// loaded (from the batched `reactions` events only, so nothing is counted twice), and a floating
// burst whose size follows the counts while never holding more than MAX_PARTICLES animated elements,
// however large the counts.
import { $, compact, el, full } from "./dom.ts";
import type { Live } from "./live.ts";
import { refusal } from "./words.ts";

export const MAX_PARTICLES = 40;
const NOTE_SHOWN_MS = 4_000;

export class Burst {
  constructor(private layer: HTMLElement, private spreadMs = 1200) {}

  get alive(): number {
    return this.layer.childElementCount;
  }

  /** One window of counts: particles in proportion to each emoji (logarithmic in the total), spread over the window. */
  play(counts: Record<string, number>, windowMs: number): void {
    const entries = Object.entries(counts).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
    const total = entries.reduce((s, [, n]) => s + n, 0);
    const budget = Math.min(MAX_PARTICLES - this.alive, Math.round(6 * Math.log2(1 + total)));
    if (budget <= 0 || total === 0) return;
    // Each emoji its share of the budget, at least one while the budget lasts (largest first).
    let left = budget;
    const spread = Math.min(windowMs, this.spreadMs);
    for (const [e, n] of entries) {
      if (left <= 0) break;
      const k = Math.min(left, Math.max(1, Math.round((n / total) * budget)));
      left -= k;
      const scale = 0.9 + 1.3 * Math.sqrt(n / total);
      for (let i = 0; i < k; i++) this.spawn(e, scale, Math.random() * spread);
    }
  }

  /** One floating emoji, gone when its animation ends (or shortly after, if animations do not run). */
  spawn(emoji: string, scale = 1, delayMs = 0): void {
    if (this.alive >= MAX_PARTICLES) return;
    const p = el("span", "particle", emoji);
    const dur = 1800 + Math.random() * 1200;
    p.style.setProperty("--x", `${4 + Math.random() * 88}%`);
    p.style.setProperty("--drift", `${Math.round((Math.random() - 0.5) * 80)}px`);
    p.style.setProperty("--scale", scale.toFixed(2));
    p.style.setProperty("--dur", `${Math.round(dur)}ms`);
    p.style.animationDelay = `${Math.round(delayMs)}ms`;
    const done = () => p.remove();
    p.addEventListener("animationend", done, { once: true });
    setTimeout(done, delayMs + dur + 400);
    this.layer.append(p);
  }
}

export class ReactionsView {
  private counts = new Map<string, number>();
  private buttons = new Map<string, HTMLButtonElement>();
  private box: HTMLElement | null;
  private note: HTMLElement | null;
  private noteTimer: ReturnType<typeof setTimeout> | null = null;
  private may = true;

  constructor(private root: HTMLElement | null, private burst: Burst | null, private live: Live) {
    this.box = root ? $(".react-buttons", root) : null;
    this.note = root ? $(".react-note", root) : null;
    if (this.box) {
      for (const b of this.box.querySelectorAll<HTMLButtonElement>("button.react")) this.buttons.set(b.dataset.emoji!, b);
      this.box.addEventListener("click", (e) => {
        const b = (e.target as Element).closest<HTMLButtonElement>("button.react");
        if (b) void this.react(b.dataset.emoji!);
      });
    }
    live.on("reactions", (p: { counts: Record<string, number>; window_ms: number }) => {
      for (const [e, n] of Object.entries(p.counts)) {
        if (typeof n !== "number" || n <= 0) continue;
        this.counts.set(e, (this.counts.get(e) ?? 0) + n);
        this.show(e);
      }
      this.burst?.play(p.counts, p.window_ms);
    });
  }

  /** The stream's emoji set (join reply, stream:update): buttons are rebuilt only when it changed. */
  setSet(emojis: string[]): void {
    if (!this.box) return;
    const now = [...this.buttons.keys()];
    if (now.length === emojis.length && now.every((e, i) => e === emojis[i])) return;
    this.box.textContent = "";
    this.buttons.clear();
    for (const e of emojis) {
      const b = el("button", "react");
      b.type = "button";
      b.dataset.emoji = e;
      b.setAttribute("aria-label", `React with ${e}`);
      const icon = el("span", "e", e);
      icon.setAttribute("aria-hidden", "true");
      b.append(icon, el("span", "count"));
      this.buttons.set(e, b);
      this.box.append(b);
      this.show(e);
    }
    this.setMay(this.may);
  }

  setMay(may: boolean, why?: string): void {
    this.may = may;
    for (const b of this.buttons.values()) b.disabled = !may;
    if (!may && why) this.say(why, false);
  }

  private show(e: string): void {
    const b = this.buttons.get(e);
    if (!b) return;
    const n = this.counts.get(e) ?? 0;
    const c = b.querySelector<HTMLElement>(".count")!;
    c.dataset.count = String(n);
    c.textContent = compact(n);
    b.title = `${full(n)} × ${e} since you opened this page`;
  }

  private async react(emoji: string): Promise<void> {
    if (!this.may) return;
    const b = this.buttons.get(emoji);
    b?.classList.remove("pop");
    void b?.offsetWidth; // restart the press animation
    b?.classList.add("pop");
    this.burst?.spawn(emoji, 1.1);
    const r = await this.live.push("reaction:send", { emoji });
    if (!r.ok) this.say(refusal("react", r.response), true);
  }

  private say(text: string, fades: boolean): void {
    if (!this.note) return;
    if (this.noteTimer) clearTimeout(this.noteTimer);
    this.note.textContent = text;
    if (fades) this.noteTimer = setTimeout(() => (this.note!.textContent = ""), NOTE_SHOWN_MS);
  }
}
