// A child process of guest bots on the official phoenix client (tests/support/viewer.ts starts it):
// BOT_COUNT sockets join stream:BOT_SLUG, print "ready", wait for "go" on stdin, send BOT_PER
// reactions each, then print {accepted, refused, bots} as one JSON line and exit.
import { connect, join, push, type Socket } from "./phoenix.ts";

const ws = process.env.BOT_WS!;
const slug = process.env.BOT_SLUG!;
const count = Number(process.env.BOT_COUNT);
const per = Number(process.env.BOT_PER);
const offset = Number(process.env.BOT_OFFSET ?? 0);
const emojis = (process.env.BOT_EMOJIS ?? "").split(" ").filter(Boolean);

const sockets: Socket[] = [];
const channels = await Promise.all(
  Array.from({ length: count }, async () => {
    // Long heartbeats: nothing here should depend on them; a slow machine may delay timers.
    const s = connect(ws, {}, { heartbeatIntervalMs: 60_000 });
    sockets.push(s);
    const ch = s.channel(`stream:${slug}`, {});
    await join(ch, 30_000);
    return ch;
  }),
);
process.stdout.write("ready\n");

// "go" on stdin (a bounded wait: the parent sends it or kills us).
const reader = Bun.stdin.stream().getReader();
for (let buf = ""; !buf.includes("go"); ) {
  const { value, done } = await reader.read();
  if (done) process.exit(2);
  buf += new TextDecoder().decode(value);
}

const accepted: Record<string, number> = {};
const refused: Record<string, number> = {};
await Promise.all(
  channels.map(async (ch, i) => {
    for (let k = 0; k < per; k++) {
      const emoji = emojis[(offset + i + k) % emojis.length]!;
      const r = await push(ch, "reaction:send", { emoji }, 30_000);
      if (r.status === "ok") accepted[emoji] = (accepted[emoji] ?? 0) + 1;
      else refused[r.response?.reason ?? "unknown"] = (refused[r.response?.reason ?? "unknown"] ?? 0) + 1;
    }
  }),
);
process.stdout.write(JSON.stringify({ accepted, refused, bots: channels.length }) + "\n");
for (const s of sockets) s.disconnect();
process.exit(0);
