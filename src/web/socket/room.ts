// The live state of one stream while anyone is joined: the cached public view, presence and the
// last viewer count sent. Rooms exist only in memory: presence is never restored from disk.
import { Presence } from "../../presence/presence.ts";
import { publicView, type PublicStream, type StreamRecord } from "../../streams/index.ts";

export class Room {
  readonly topic: string;
  stream: StreamRecord;
  view: PublicStream;
  presence: Presence;
  lastCountSent = -1;
  members = 0; // sockets joined, guests and signed-in

  constructor(stream: StreamRecord) {
    this.topic = `stream:${stream.slug}`;
    this.stream = stream;
    this.view = publicView(stream);
    this.presence = new Presence(stream.settings.presence_list_max);
  }

  /**
   * The text after each `@` -> the viewer id of the signed-in viewer here whose display name it
   * starts with (case-insensitively, up to a word's end; the longest such name wins, so "@Ada
   * Lovelace" beats "@Ada"); unknown or ambiguous (two viewers share that name): none.
   */
  resolveMentions(tails: string[]): string[] {
    const out = new Set<string>();
    for (const t of new Set(tails.map((x) => x.toLocaleLowerCase("en-US")))) {
      const ids = this.presence.keysNamedAtStartOf(t);
      if (ids.length === 1) out.add(ids[0]!);
    }
    return [...out];
  }

  update(stream: StreamRecord): void {
    this.stream = stream;
    this.view = publicView(stream);
    this.presence.setListMax(stream.settings.presence_list_max);
  }
}
