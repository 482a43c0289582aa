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

  /** `@name` -> viewer id when exactly one signed-in viewer here has that name; unknown or ambiguous: none. */
  resolveMentions(names: string[]): string[] {
    const out = new Set<string>();
    for (const n of new Set(names.map((x) => x.toLocaleLowerCase("en-US")))) {
      const ids = this.presence.keysNamed(n);
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
