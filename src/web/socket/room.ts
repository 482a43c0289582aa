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

  /** Lower-cased display name -> viewer ids joined now, for @mentions. */
  private names = new Map<string, Map<string, number>>();

  addName(name: string, viewerId: string): void {
    const k = name.toLocaleLowerCase("en-US");
    let ids = this.names.get(k);
    if (!ids) this.names.set(k, (ids = new Map()));
    ids.set(viewerId, (ids.get(viewerId) ?? 0) + 1);
  }

  removeName(name: string, viewerId: string): void {
    const k = name.toLocaleLowerCase("en-US");
    const ids = this.names.get(k);
    if (!ids) return;
    const n = (ids.get(viewerId) ?? 1) - 1;
    if (n <= 0) ids.delete(viewerId);
    else ids.set(viewerId, n);
    if (ids.size === 0) this.names.delete(k);
  }

  /** `@name` -> viewer id when exactly one signed-in viewer here has that name; unknown or ambiguous: none. */
  resolveMentions(names: string[]): string[] {
    const out = new Set<string>();
    for (const n of names) {
      const ids = this.names.get(n.toLocaleLowerCase("en-US"));
      if (ids && ids.size === 1) out.add(ids.keys().next().value!);
    }
    return [...out];
  }

  update(stream: StreamRecord): void {
    this.stream = stream;
    this.view = publicView(stream);
    this.presence.setListMax(stream.settings.presence_list_max);
  }
}
