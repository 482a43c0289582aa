// The viewer page script (watch, embed, overlay): one socket, one channel, the parts the page has.
// Bundled at server start with the official phoenix client (src/web/viewer/assets.ts). No framework,
// no innerHTML: every piece of text goes in through textContent.
import { $, full } from "./dom.ts";
import { ChatView, guestText, type Me } from "./chat.ts";
import { Identity } from "./identity.ts";
import { Live, type ConnState } from "./live.ts";
import { Player } from "./player.ts";
import { PollView } from "./poll.ts";
import { Burst, ReactionsView } from "./reactions.ts";

/** The embed waits this long for its parent's token before connecting as a guest. */
const PARENT_TOKEN_WAIT_MS = 1500;

interface PublicStream {
  slug: string;
  title: string;
  status: "live" | "offline";
  reactions: string[];
  playback_url: string | null;
}

function main(): void {
  const body = document.body;
  const mode = body.dataset.mode as "watch" | "embed" | "overlay";
  const slug = body.dataset.slug!;
  const embedOrigins = (body.dataset.embedOrigins ?? "").split(" ").filter(Boolean);

  const identity = new Identity(slug, mode === "embed" ? embedOrigins : []);
  identity.fromFragment();
  identity.listen();

  const conn = $(".conn");
  const connText: Record<ConnState, string> = {
    connecting: "Connecting…",
    live: "",
    reconnecting: "Connection lost. Reconnecting…",
    gone: "This stream does not exist any more.",
  };

  const live = new Live(slug, identity, {
    state(s, detail) {
      body.dataset.conn = s;
      if (!conn) return;
      conn.textContent = detail ?? connText[s];
      conn.hidden = s === "live";
    },
    joined(reply, first) {
      const me = reply.me as Me;
      body.dataset.identity = me.guest ? "guest" : "viewer";
      chat?.joined(reply);
      stream(reply.stream);
      viewers(reply.viewers);
      reactions?.setMay(me.can.react, me.guest ? guestText(me) : "You can't react right now.");
      poll?.setMay(me.can.vote, me.guest ? "Guests can't vote here: sign in to vote." : "You can't vote right now.");
      poll?.fromJoin(reply.poll);
      if (first) body.dataset.ready = "1";
    },
  }, mode === "overlay");

  const chatRoot = $(".chat");
  const chat = chatRoot ? new ChatView(chatRoot, live, () => identity.current()?.member ?? false) : null;
  const burstLayer = $(".burst");
  const burst = burstLayer ? new Burst(burstLayer) : null;
  const reactions = burstLayer || $(".reactions") ? new ReactionsView($(".reactions"), burst, live) : null;
  const pollBox = $(".poll");
  const poll = pollBox ? new PollView(pollBox, live, mode !== "overlay") : null;
  const playerBox = $(".player");
  const player = playerBox ? new Player(playerBox, body.dataset.hls!, body.dataset.mediaOrigin ?? null) : null;
  const viewersEl = $(".viewers .n");

  function viewers(n: number): void {
    if (viewersEl) viewersEl.textContent = full(n);
  }
  function stream(s: PublicStream): void {
    const title = $(".title");
    if (title && title.textContent !== s.title) {
      title.textContent = s.title;
      document.title = `${s.title} · Hubbub`;
    }
    const status = $(".status");
    if (status) {
      status.dataset.status = s.status;
      status.textContent = s.status === "live" ? "Live" : "Offline";
    }
    reactions?.setSet(s.reactions);
    player?.set(s.playback_url, s.status);
  }
  // The skip link focuses the message box (or the log, when this viewer cannot chat).
  $(".skip")?.addEventListener("click", (e) => {
    e.preventDefault();
    const input = $<HTMLInputElement>("#chat-input");
    (input && !input.disabled ? input : $(".log"))?.focus();
  });
  live.on("viewers", (p: { count: number }) => viewers(p.count));
  live.on("stream:update", (s: PublicStream) => stream(s));

  // A new viewer (signed in, out, or someone else): reconnect as them. A fresh token of the same
  // viewer changes nothing now; the next reconnect uses it.
  let started = false;
  identity.onChange = () => {
    if (started) live.reconnect();
  };
  const start = () => {
    if (started) return;
    started = true;
    live.start();
  };
  if (identity.asksParent && !identity.current()) {
    identity.onToken = start;
    identity.ask();
    setTimeout(start, PARENT_TOKEN_WAIT_MS);
  } else start();
}

main();
