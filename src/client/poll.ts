// The poll card: question, options with live tallies (poll:update), a countdown to closes_at,
// voting for those who may, and the final result with its winner (poll:close). The overlay shows
// the same card without buttons and hides a closed poll after a while.
import { clock, el, full } from "./dom.ts";
import type { Live } from "./live.ts";
import { refusal } from "./words.ts";
import type { PollView as PollWire } from "../polls/index.ts";

/** The poll object as the server sends it (a type only: nothing of the server is bundled). */
export type Poll = PollWire;

const OVERLAY_KEEPS_RESULT_MS = 60_000;

export class PollView {
  private poll: Poll | null = null;
  /** Option index voted for per poll id (-1: voted, option unknown). */
  private voted = new Map<string, number>();
  private may = false;
  private mayNotWhy = "";
  private timer: ReturnType<typeof setInterval> | null = null;
  private hideTimer: ReturnType<typeof setTimeout> | null = null;
  private rows: Array<{ row: HTMLElement; bar: HTMLElement; pct: HTMLElement; votes: HTMLElement }> = [];
  private totalEl: HTMLElement | null = null;
  private leftEl: HTMLElement | null = null;
  private noteEl: HTMLElement | null = null;

  constructor(private box: HTMLElement, private live: Live, private interactive: boolean) {
    live.on("poll:open", (p: Poll) => this.set(p));
    live.on("poll:update", (u: { id: string; tallies: number[]; total: number }) => {
      if (!this.poll || this.poll.id !== u.id) return;
      this.poll.tallies = u.tallies;
      this.poll.total = u.total;
      this.tallies();
    });
    live.on("poll:close", (p: Poll) => this.set(p));
    if (interactive) {
      box.addEventListener("click", (e) => {
        const b = (e.target as Element).closest<HTMLButtonElement>("button.opt");
        if (b) void this.vote(Number(b.dataset.i));
        if ((e.target as Element).closest("button.dismiss")) this.set(null);
      });
    }
  }

  setMay(may: boolean, why: string): void {
    this.may = may;
    this.mayNotWhy = why;
    if (this.poll) this.render();
  }

  /** The join reply's open poll (null: none open; a closed result stays until dismissed). */
  fromJoin(p: Poll | null): void {
    if (p) this.set(p);
    else if (this.poll?.status === "open") this.set(null);
  }

  set(p: Poll | null): void {
    this.poll = p;
    if (this.hideTimer) clearTimeout(this.hideTimer);
    this.hideTimer = null;
    this.render();
    if (p?.status === "closed" && !this.interactive) this.hideTimer = setTimeout(() => this.set(null), OVERLAY_KEEPS_RESULT_MS);
  }

  private render(): void {
    const p = this.poll;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.box.textContent = "";
    this.rows = [];
    this.box.hidden = !p;
    if (!p) return;
    const open = p.status === "open";
    const mine = this.voted.get(p.id);
    const canVote = this.interactive && open && this.may && mine === undefined;
    this.box.dataset.status = p.status;
    const head = el("div", "poll-head");
    head.append(el("span", "poll-kind", open ? "Poll" : "Poll results"));
    if (this.interactive && !open) {
      const x = el("button", "dismiss", "✕");
      x.type = "button";
      x.setAttribute("aria-label", "Hide the poll results");
      head.append(x);
    }
    this.box.append(head, el("h2", "q", p.question));
    const list = el("ol", "options");
    p.options.forEach((text, i) => {
      const row = canVote ? el("button", "opt") : el("div", "opt");
      if (row instanceof HTMLButtonElement) {
        row.type = "button";
        row.dataset.i = String(i);
      }
      if (mine === i) row.classList.add("chosen");
      if (!open && p.winner === i) row.classList.add("winner");
      const bar = el("span", "fill");
      bar.setAttribute("aria-hidden", "true");
      const label = el("span", "label", text);
      if (!open && p.winner === i) label.append(el("span", "tag", " winner"));
      if (mine === i) label.append(el("span", "tag", " your vote"));
      const pct = el("span", "pct");
      const votes = el("span", "votes");
      row.append(bar, label, pct, votes);
      const li = el("li");
      li.append(row);
      list.append(li);
      this.rows.push({ row, bar, pct, votes });
    });
    this.box.append(list);
    const foot = el("p", "poll-foot");
    this.totalEl = el("span", "total");
    this.leftEl = el("span", "left");
    foot.append(this.totalEl, " · ", this.leftEl);
    this.box.append(foot);
    this.noteEl = el("p", "poll-note");
    this.noteEl.setAttribute("role", "status");
    if (this.interactive && open && !this.may && this.mayNotWhy) this.noteEl.textContent = this.mayNotWhy;
    else if (mine !== undefined && open) this.noteEl.textContent = "Thanks for voting. Results update live.";
    this.box.append(this.noteEl);
    this.tallies();
    if (open) {
      this.countdown();
      this.timer = setInterval(() => this.countdown(), 1000);
    } else {
      this.leftEl.textContent = p.winner === null ? (p.total ? "a tie" : "no votes") : "final results";
    }
  }

  private tallies(): void {
    const p = this.poll;
    if (!p) return;
    const total = p.total;
    p.tallies.forEach((n, i) => {
      const r = this.rows[i];
      if (!r) return;
      const share = total > 0 ? n / total : 0;
      r.bar.style.setProperty("--f", share.toFixed(4));
      r.pct.textContent = `${Math.round(share * 100)}%`;
      r.votes.textContent = full(n);
      r.row.setAttribute("aria-label", `${p.options[i]}: ${full(n)} vote${n === 1 ? "" : "s"}, ${Math.round(share * 100)}%`);
    });
    if (this.totalEl) this.totalEl.textContent = `${full(total)} vote${total === 1 ? "" : "s"}`;
  }

  private countdown(): void {
    const p = this.poll;
    if (!p || !this.leftEl) return;
    const left = Date.parse(p.closes_at) - Date.now();
    this.leftEl.textContent = left > 0 ? `${clock(left)} left` : "closing…";
  }

  private async vote(i: number): Promise<void> {
    const p = this.poll;
    if (!p || p.status !== "open" || this.voted.has(p.id)) return;
    const r = await this.live.push("poll:vote", { poll_id: p.id, option: i });
    if (r.ok) this.voted.set(p.id, i);
    else if (r.response?.reason === "already_voted") this.voted.set(p.id, -1);
    if (this.poll !== p) return;
    this.render();
    if (!r.ok && this.noteEl) this.noteEl.textContent = refusal("vote", r.response);
  }
}
