// The chat panel: history on join (or exactly the missed part on a rejoin), live messages, the
// viewer's own messages from "sending" to published (or held, then approved or denied), refusals
// in words with a countdown, deletions, replies and mentions, and auto-scroll that pauses while the
// viewer reads older messages. A message is shown at most once: everything is keyed by its seq.
import { $, duration, el, randomId } from "./dom.ts";
import type { Live } from "./live.ts";
import { refusal } from "./words.ts";
import type { MessageView } from "../chat/store.ts";

/** The message object as the server sends it (a type only: nothing of the server is bundled). */
export type Message = MessageView;
type HistoryItem = Message | { seq: number; deleted: true };

export interface Me {
  id: string | null;
  name: string;
  guest: boolean;
  role: "viewer" | "moderator" | "creator";
  can: { chat: boolean; react: boolean; vote: boolean; moderate: boolean };
}

export interface Modes {
  slow_mode_s: number;
  members_only: boolean;
  emote_only: boolean;
  unique_chat: boolean;
  chat_delay_s: number;
  chat_closed: boolean;
}

/** Messages kept on the page; older ones leave from the top. */
const MAX_SHOWN = 250;
const NEAR_BOTTOM_PX = 48;
const STATUS_SHOWN_MS = 8_000;
const DENIED_SHOWN_MS = 20_000;
/** Ordering key of the viewer's own unsent messages: after every published one. */
const PENDING_KEY = Number.MAX_SAFE_INTEGER;
const AT_NAME = /(@[\p{L}\p{N}_](?:[\p{L}\p{N}_.-]*[\p{L}\p{N}_])?)/u;

interface Shown {
  li: HTMLLIElement;
  name: string;
  body: string;
  userId: string | null;
}

type PendingState = "sending" | "delayed" | "held" | "approved" | "failed" | "denied";

export class ChatView {
  private log: HTMLOListElement;
  private more: HTMLButtonElement;
  private form: HTMLFormElement;
  private input: HTMLInputElement;
  private sendBtn: HTMLButtonElement;
  private statusEl: HTMLElement;
  private identityEl: HTMLElement;
  private modesEl: HTMLElement;
  private replying: HTMLElement;
  private replyingText: HTMLElement;

  private shown = new Map<number, Shown>();
  /** The viewer's own messages, published or approved, until their chat:new arrives. */
  private awaiting = new Map<number, HTMLLIElement>();
  private held = new Map<string, HTMLLIElement>();
  private me: Me | null = null;
  private modes: Modes | null = null;
  /** The join said no chat for a reason the modes do not explain (a ban or timeout). */
  private restrictedAtJoin = false;
  private restriction: { kind: "banned" | "timed_out"; until: number | null } | null = null;
  private replyTo: number | null = null;
  private unseen = 0;
  private waitUntil = 0;
  private waitReason = "";
  private countdown: ReturnType<typeof setInterval> | null = null;
  private statusTimer: ReturnType<typeof setTimeout> | null = null;
  private lastSeenSeq = 0;

  constructor(private root: HTMLElement, private live: Live, private member: () => boolean) {
    this.log = $<HTMLOListElement>(".log", root)!;
    this.more = $<HTMLButtonElement>(".more", root)!;
    this.form = $<HTMLFormElement>(".composer", root)!;
    this.input = $<HTMLInputElement>("#chat-input", root)!;
    this.sendBtn = $<HTMLButtonElement>(".send", root)!;
    this.statusEl = $(".chat-status", root)!;
    this.identityEl = $(".identity", root)!;
    this.modesEl = $(".modes", root)!;
    this.replying = $(".replying", root)!;
    this.replyingText = $(".replying-text", root)!;

    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.submit();
    });
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.replyTo !== null) this.cancelReply();
    });
    $(".cancel-reply", root)!.addEventListener("click", () => this.cancelReply());
    this.more.addEventListener("click", () => this.toBottom());
    this.log.addEventListener("scroll", () => {
      if (this.nearBottom()) this.hideMore();
    }, { passive: true });
    this.log.addEventListener("click", (e) => {
      const btn = (e.target as Element).closest<HTMLButtonElement>("button.reply-btn");
      if (btn) this.startReply(Number(btn.closest<HTMLElement>("li")!.dataset.seq));
    });

    live.on("chat:new", (m: Message) => {
      this.batch(() => this.add(m));
      live.saw(m.seq);
    });
    live.on("chat:delete", (p: { seqs: number[] }) => p.seqs.forEach((s) => this.remove(s)));
    live.on("chat:clear", (p: { user_id?: string }) => {
      for (const [seq, s] of this.shown) if (!p.user_id || s.userId === p.user_id) this.remove(seq);
    });
    live.on("announcement", (p: { body: string }) => this.batch(() => this.announce(p.body)));
    live.on("notice", (p: any) => this.notice(p));
    live.on("stream:update", (s: { modes: Modes }) => {
      this.modes = s.modes;
      this.refresh();
    });
  }

  /** A join reply: the last 50 (replacing what is shown) or exactly the messages missed. */
  joined(reply: { me: Me; stream: { modes: Modes }; history: HistoryItem[]; recovered: boolean }): void {
    this.me = reply.me;
    this.modes = reply.stream.modes;
    const m = reply.stream.modes;
    this.restrictedAtJoin = !reply.me.can.chat && !reply.me.guest && reply.me.role === "viewer" && !m.chat_closed && !(m.members_only && !this.member());
    this.restriction = null;
    this.batch(() => {
      if (!reply.recovered) {
        for (const seq of [...this.shown.keys()]) this.remove(seq);
        for (const li of [...this.log.querySelectorAll("li.sys")]) li.remove();
      }
      for (const item of reply.history) {
        if ("deleted" in item) this.remove(item.seq);
        else this.add(item);
      }
    });
    this.refresh();
  }

  // ---- showing messages ----

  private add(m: Message): void {
    if (this.shown.has(m.seq)) return; // never twice
    this.lastSeenSeq = Math.max(this.lastSeenSeq, m.seq);
    const mine = this.me?.id != null && m.user.id === this.me.id;
    const waiting = this.awaiting.get(m.seq);
    if (waiting) {
      waiting.remove();
      this.awaiting.delete(m.seq);
    } else if (mine) {
      // Approved while this page was away: the notice is gone, the message is here; drop its placeholder.
      for (const [id, li] of this.held) {
        if (li.dataset.body === m.body) {
          li.remove();
          this.held.delete(id);
          break;
        }
      }
    }
    const li = el("li", "msg");
    li.dataset.seq = String(m.seq);
    li.dataset.k = String(m.seq);
    if (m.user.id) li.dataset.user = m.user.id;
    const when = new Date(m.at);
    if (!Number.isNaN(when.getTime())) li.title = when.toLocaleTimeString();
    if (mine) li.classList.add("mine");
    if (this.me?.id && m.mentions.includes(this.me.id)) li.classList.add("mention");
    if (m.reply_to !== null) {
      const target = this.shown.get(m.reply_to);
      const q = el("div", "quote", target ? `↪ ${target.name}: ${snippet(target.body)}` : "↪ an earlier message");
      li.append(q);
      if (target && this.me?.id && target.userId === this.me.id && !mine) li.classList.add("mention", "reply-me");
    }
    const who = el("span", "who", m.user.name);
    li.append(who);
    for (const b of m.user.badges.slice(0, 4)) li.append(el("span", "badge", b));
    li.append(el("span", "sep", ": "), bodyNode(m.body));
    const r = el("button", "reply-btn", "↩");
    r.type = "button";
    r.setAttribute("aria-label", `Reply to ${m.user.name}`);
    li.append(r);
    this.insert(li, m.seq);
    this.shown.set(m.seq, { li, name: m.user.name, body: m.body, userId: m.user.id });
    this.trim();
  }

  private remove(seq: number): void {
    const s = this.shown.get(seq);
    if (!s) return;
    s.li.remove();
    this.shown.delete(seq);
    if (this.replyTo === seq) this.cancelReply();
  }

  private announce(body: string): void {
    const li = el("li", "msg sys");
    li.dataset.k = String(this.lastSeenSeq + 0.5);
    li.append(el("span", "who", "Announcement"), el("span", "sep", ": "), el("span", "body", body));
    this.insert(li, this.lastSeenSeq + 0.5);
    this.trim();
  }

  /** In order of the key (seq), before the viewer's unsent messages. */
  private insert(li: HTMLLIElement, key: number): void {
    let before: Element | null = null;
    for (let c = this.log.lastElementChild; c; c = c.previousElementSibling) {
      if (Number((c as HTMLElement).dataset.k) > key) before = c;
      else break;
    }
    this.log.insertBefore(li, before);
  }

  private trim(): void {
    while (this.log.childElementCount > MAX_SHOWN) {
      const first = this.log.firstElementChild as HTMLElement;
      if (first.dataset.k === String(PENDING_KEY)) break;
      const seq = first.dataset.seq;
      if (seq !== undefined) this.shown.delete(Number(seq));
      first.remove();
    }
  }

  /** Runs DOM changes, then keeps the view at the bottom if it was there, else counts what is new below. */
  private batch(fn: () => void): void {
    const stick = this.nearBottom();
    const before = this.shown.size;
    fn();
    if (stick) this.log.scrollTop = this.log.scrollHeight;
    else if (this.shown.size > before) {
      this.unseen += this.shown.size - before;
      this.more.textContent = `${this.unseen} new message${this.unseen === 1 ? "" : "s"} ↓`;
      this.more.hidden = false;
    }
  }

  private nearBottom(): boolean {
    const l = this.log;
    return l.scrollHeight - l.scrollTop - l.clientHeight < NEAR_BOTTOM_PX;
  }

  private toBottom(): void {
    this.log.scrollTop = this.log.scrollHeight;
    this.hideMore();
  }

  private hideMore(): void {
    this.unseen = 0;
    this.more.hidden = true;
  }

  // ---- sending ----

  private async submit(): Promise<void> {
    const body = this.input.value;
    if (!body.trim() || this.canChat() !== null || Date.now() < this.waitUntil) return;
    const payload: Record<string, unknown> = { body, nonce: randomId() };
    if (this.replyTo !== null) payload.reply_to = this.replyTo;
    const li = el("li", "msg mine pending");
    li.dataset.k = String(PENDING_KEY);
    li.dataset.body = body.trim().normalize("NFC");
    li.append(el("span", "who", this.me?.name ?? "You"), el("span", "sep", ": "), bodyNode(body), el("span", "state"));
    this.log.append(li);
    this.input.value = "";
    this.cancelReply();
    this.toBottom();
    await this.send(li, payload);
  }

  private async send(li: HTMLLIElement, payload: Record<string, unknown>): Promise<void> {
    this.setPending(li, "sending");
    const r = await this.live.push("chat:send", payload);
    if (r.ok && r.response.status === "published") {
      const seq = r.response.seq as number;
      if (this.shown.has(seq)) li.remove();
      else {
        this.awaiting.set(seq, li);
        this.setPending(li, r.response.visible_at ? "delayed" : "sending");
      }
    } else if (r.ok && r.response.status === "held") {
      this.held.set(r.response.held_id, li);
      this.setPending(li, "held");
    } else if (r.timeout) {
      // Resent with the same nonce: the server answers the first outcome and stores nothing twice.
      this.setPending(li, "failed", () => void this.send(li, payload));
    } else {
      li.remove();
      if (!this.input.value) this.input.value = String(payload.body);
      this.refused(r.response);
    }
  }

  private setPending(li: HTMLLIElement, state: PendingState, retry?: () => void): void {
    li.dataset.state = state;
    const s = li.querySelector(".state")!;
    s.textContent = "";
    const text: Record<PendingState, string> = {
      sending: "sending…",
      delayed: "sent; shown after the chat delay",
      held: "held for review: only you see it until a moderator approves it",
      approved: "approved",
      failed: "not sent (connection lost)",
      denied: "not published: a moderator declined it",
    };
    s.textContent = ` — ${text[state]}`;
    if (retry) {
      const b = el("button", "retry", "Retry");
      b.type = "button";
      b.addEventListener("click", () => retry(), { once: true });
      s.append(" ", b);
    }
  }

  private refused(r: { reason?: string; retry_after_ms?: number }): void {
    const reason = r?.reason;
    if ((reason === "slow_mode" || reason === "rate_limited" || reason === "timed_out") && typeof r.retry_after_ms === "number") {
      this.waitUntil = Date.now() + r.retry_after_ms;
      this.waitReason = reason;
      this.tick();
      if (this.countdown) clearInterval(this.countdown);
      this.countdown = setInterval(() => this.tick(), 250);
      return;
    }
    if (reason === "banned") this.restriction = { kind: "banned", until: null };
    if (reason === "unauthenticated" || reason === "chat_closed" || reason === "members_only" || reason === "banned") this.refresh();
    this.status(refusal("chat", r), true);
  }

  /** The wait after slow_mode / rate_limited / timed_out, counted down in words. */
  private tick(): void {
    const left = this.waitUntil - Date.now();
    if (left <= 0) {
      if (this.countdown) clearInterval(this.countdown);
      this.countdown = null;
      this.status("");
      this.refresh();
      return;
    }
    this.sendBtn.disabled = true;
    this.status(refusal("chat", { reason: this.waitReason, retry_after_ms: left }));
  }

  private status(text: string, fades = false): void {
    if (this.statusTimer) clearTimeout(this.statusTimer);
    this.statusTimer = null;
    if (this.statusEl.textContent !== text) this.statusEl.textContent = text;
    if (fades) this.statusTimer = setTimeout(() => this.status(""), STATUS_SHOWN_MS);
  }

  private notice(p: { kind: string; held_id?: string; seq?: number; reason?: string | null; until?: string }): void {
    if (p.kind === "held_approved" && p.held_id) {
      const li = this.held.get(p.held_id);
      if (!li) return;
      this.held.delete(p.held_id);
      if (typeof p.seq === "number" && this.shown.has(p.seq)) li.remove();
      else if (typeof p.seq === "number") {
        this.awaiting.set(p.seq, li);
        this.setPending(li, "approved");
      }
    } else if (p.kind === "held_denied" && p.held_id) {
      const li = this.held.get(p.held_id);
      if (!li) return;
      this.held.delete(p.held_id);
      this.setPending(li, "denied");
      if (p.reason) li.querySelector(".state")!.append(` (${p.reason})`);
      setTimeout(() => li.remove(), DENIED_SHOWN_MS);
    } else if (p.kind === "banned") {
      this.restriction = { kind: "banned", until: null };
      this.status(refusal("chat", { reason: "banned" }));
      this.refresh();
    } else if (p.kind === "timed_out") {
      const until = p.until ? Date.parse(p.until) : NaN;
      this.restriction = { kind: "timed_out", until: Number.isNaN(until) ? null : until };
      if (!Number.isNaN(until)) {
        this.waitUntil = until;
        this.waitReason = "timed_out";
        if (this.countdown) clearInterval(this.countdown);
        this.countdown = setInterval(() => this.tick(), 1000);
        this.tick();
      }
      this.refresh();
    } else if (p.kind === "unbanned") {
      this.restriction = null;
      this.restrictedAtJoin = false;
      this.waitUntil = 0;
      this.status("You can chat again.", true);
      this.refresh();
    }
  }

  // ---- replies ----

  private startReply(seq: number): void {
    const target = this.shown.get(seq);
    if (!target || this.canChat() !== null) return;
    this.replyTo = seq;
    this.replyingText.textContent = `Replying to ${target.name}: ${snippet(target.body)}`;
    this.replying.hidden = false;
    this.input.focus();
  }

  private cancelReply(): void {
    this.replyTo = null;
    this.replying.hidden = true;
  }

  // ---- what the viewer may do ----

  /** null when the viewer may chat now, else why not (in words). */
  canChat(): string | null {
    const me = this.me;
    const m = this.modes;
    if (!me || !m) return "Connecting…";
    if (me.role !== "viewer") return null;
    if (this.restriction?.kind === "banned") return refusal("chat", { reason: "banned" });
    if (this.restriction?.kind === "timed_out" && (this.restriction.until === null || this.restriction.until > Date.now())) {
      return this.restriction.until ? `You are timed out until ${new Date(this.restriction.until).toLocaleTimeString()}.` : "You are timed out for now.";
    }
    if (m.chat_closed) return refusal("chat", { reason: "chat_closed" });
    if (me.guest && !me.can.chat) return guestText(me);
    if (m.members_only && !this.member() && !me.guest) return refusal("chat", { reason: "members_only" });
    if (this.restrictedAtJoin) return "You can't chat in this stream right now.";
    return null;
  }

  /** Composer, identity line and modes line from the current state. */
  refresh(): void {
    const me = this.me;
    const why = this.canChat();
    this.input.disabled = why !== null;
    this.sendBtn.disabled = why !== null || Date.now() < this.waitUntil;
    this.root.classList.toggle("cant-chat", why !== null);
    if (me) {
      this.identityEl.textContent = me.guest
        ? guestText(me)
        : `Chatting as ${me.name}${me.role !== "viewer" ? ` (${me.role})` : ""}.${why ? ` ${why}` : ""}`;
      this.identityEl.classList.toggle("guest", me.guest);
    }
    this.input.placeholder = why === null ? "Say something…" : me?.guest ? "Sign in to chat" : "You can't chat right now";
    const m = this.modes;
    if (m) {
      const parts: string[] = [];
      if (m.slow_mode_s > 0) parts.push(`Slow mode: one message every ${duration(m.slow_mode_s * 1000)}`);
      if (m.members_only) parts.push("Members only");
      if (m.emote_only) parts.push("Emoji only");
      if (m.unique_chat) parts.push("No repeated messages");
      if (m.chat_delay_s > 0) parts.push(`Messages appear after ${m.chat_delay_s} s`);
      if (m.chat_closed) parts.push("Chat closed");
      this.modesEl.textContent = parts.join(" · ");
      this.modesEl.hidden = parts.length === 0;
    }
  }
}

/** What a guest may do here, from the join reply's me.can. */
export function guestText(me: Me): string {
  const may = [me.can.react && "react", me.can.vote && "vote in polls", me.can.chat && "chat"].filter(Boolean) as string[];
  const mayNot = [!me.can.chat && "chatting", !me.can.vote && "voting"].filter(Boolean) as string[];
  const a = may.length ? `Guests may watch and ${may.join(" and ")} here` : "Guests may watch here";
  const b = mayNot.length ? `; ${mayNot.join(" and ")} needs a signed-in viewer (sign in on the site you came from)` : "";
  return `You're watching as a guest (${me.name}). ${a}${b}.`;
}

function snippet(s: string): string {
  const chars = [...s];
  return chars.length > 60 ? chars.slice(0, 60).join("") + "…" : s;
}

/** The body as text nodes, with @names set apart (still text, never markup). */
function bodyNode(body: string): HTMLElement {
  const span = el("span", "body");
  body.split(AT_NAME).forEach((part, i) => {
    if (!part) return;
    span.append(i % 2 === 1 ? el("span", "at", part) : document.createTextNode(part));
  });
  return span;
}

