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

  update(stream: StreamRecord): void {
    this.stream = stream;
    this.view = publicView(stream);
    this.presence.setListMax(stream.settings.presence_list_max);
  }
}
