// Presence of one stream, as a pure state machine (no timers, no I/O): who is here, the viewer
// count, and the Phoenix Presence diffs waiting for the next batched flush. The socket layer calls
// track/untrack on join/leave and flush() on its timer, then publishes what flush() returns.
//
// Keys are viewer ids; each signed-in socket adds one meta (phx_ref unique per socket-join). Guests
// are only counted. Above `listMax` viewers the list stops: no diffs, joiners get `{}`; when the
// audience falls back to `listMax` or below a fresh state goes out.

export interface Meta {
  phx_ref: string;
  name: string;
  badges: string[];
  online_at: string;
}

type Metas = { metas: Meta[] };
export type PresenceMap = Record<string, Metas>;
export interface PresenceDiff {
  joins: PresenceMap;
  leaves: PresenceMap;
}

export type FlushOutput =
  | { kind: "none" }
  | { kind: "diff"; diff: PresenceDiff }
  | { kind: "state"; state: PresenceMap }; // a full state to every subscriber (list started or stopped)

/** One meta (the common case: one socket per viewer) or several; saves a Map per viewer. */
type Entry = Meta | Map<string, Meta>;

function metasOf(e: Entry): Meta[] {
  return e instanceof Map ? [...e.values()] : [e];
}

/** A mention's name ends where the text does not go on with a letter, digit or underscore. */
const WORD_GOES_ON = /^[\p{L}\p{N}\p{M}_]/u;

export class Presence {
  private entries = new Map<string, Entry>();
  private guests = 0;
  private pendingJoins = new Map<string, Map<string, Meta>>();
  private pendingLeaves = new Map<string, Map<string, Meta>>();
  private listing = true;
  /** False while a stop made by joinState() has not gone out yet (the next flush sends `{}`). */
  private stopAnnounced = true;
  /** JSON of the state as of the last flush: what a joiner gets; the next diff brings it up to date. */
  stateJson = "{}";

  constructor(private listMax: number) {
    this.listing = 0 <= listMax;
  }

  setListMax(n: number): void {
    this.listMax = n;
  }

  get count(): number {
    return this.entries.size + this.guests;
  }

  get dirty(): boolean {
    return this.pendingJoins.size > 0 || this.pendingLeaves.size > 0 || this.listing !== this.count <= this.listMax || !this.stopAnnounced;
  }

  get isListing(): boolean {
    return this.listing;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  keys(): IterableIterator<string> {
    return this.entries.keys();
  }

  trackGuest(): void {
    this.guests++;
  }

  untrackGuest(): void {
    if (this.guests > 0) this.guests--;
  }

  track(key: string, meta: Meta): void {
    const e = this.entries.get(key);
    if (!e) this.entries.set(key, meta);
    else if (e instanceof Map) e.set(meta.phx_ref, meta);
    else this.entries.set(key, new Map([[e.phx_ref, e], [meta.phx_ref, meta]]));
    if (this.listing) addTo(this.pendingJoins, key, meta);
  }

  /**
   * Keys with the longest display name that `text` (lower case) starts with, followed by the end or
   * a character that cannot continue a word ("bob" in "bob, hi" and "bob." but not in "bobby").
   * A scan: mentions are rare.
   */
  keysNamedAtStartOf(text: string): string[] {
    let out: string[] = [];
    let longest = 0;
    for (const [k, e] of this.entries) {
      const name = (e instanceof Map ? e.values().next().value! : e).name;
      if (name.length === 0 || name.length > text.length + 8) continue; // (lower case may change lengths a little)
      const lower = name.toLocaleLowerCase("en-US");
      const n = lower.length;
      if (n < longest || !text.startsWith(lower) || WORD_GOES_ON.test(text.slice(n, n + 2))) continue;
      if (n > longest) (out = []), (longest = n);
      out.push(k);
    }
    return out;
  }

  untrack(key: string, ref: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    let meta: Meta | undefined;
    if (e instanceof Map) {
      meta = e.get(ref);
      if (!meta) return;
      e.delete(ref);
      if (e.size === 1) this.entries.set(key, e.values().next().value!);
    } else {
      if (e.phx_ref !== ref) return;
      meta = e;
      this.entries.delete(key);
    }
    if (!this.listing) return;
    const pj = this.pendingJoins.get(key);
    if (pj?.delete(ref)) {
      // Joined and left within one batch: nobody was told, so nobody needs the leave.
      if (pj.size === 0) this.pendingJoins.delete(key);
    } else addTo(this.pendingLeaves, key, meta);
  }

  /**
   * What a joiner gets now: the list as of the last flush, or `{}` once the audience is above
   * `listMax`. A join that finds the audience above it stops the list at once (the `{}` state for
   * everyone goes out at the next flush): otherwise every joiner of a storm until that flush would
   * get the whole stale list, and a joiner given `{}` could not follow the diffs after it.
   */
  joinState(): string {
    if (this.listing && this.count > this.listMax) {
      this.listing = false;
      this.stopAnnounced = false;
      this.pendingJoins.clear();
      this.pendingLeaves.clear();
      this.stateJson = "{}";
    }
    return this.stateJson;
  }

  snapshot(): PresenceMap {
    const out = dict();
    for (const [k, e] of this.entries) out[k] = { metas: metasOf(e) };
    return out;
  }

  flush(): FlushOutput {
    const shouldList = this.count <= this.listMax;
    if (shouldList !== this.listing || !this.stopAnnounced) {
      this.stopAnnounced = true;
      this.listing = shouldList;
      this.pendingJoins.clear();
      this.pendingLeaves.clear();
      const state = shouldList ? this.snapshot() : dict();
      this.stateJson = JSON.stringify(state);
      return { kind: "state", state };
    }
    if (!this.listing || (this.pendingJoins.size === 0 && this.pendingLeaves.size === 0)) return { kind: "none" };
    const diff: PresenceDiff = { joins: toMap(this.pendingJoins), leaves: toMap(this.pendingLeaves) };
    this.pendingJoins.clear();
    this.pendingLeaves.clear();
    this.stateJson = JSON.stringify(this.snapshot());
    return { kind: "diff", diff };
  }
}

function addTo(m: Map<string, Map<string, Meta>>, key: string, meta: Meta): void {
  let inner = m.get(key);
  if (!inner) m.set(key, (inner = new Map()));
  inner.set(meta.phx_ref, meta);
}

/** Viewer ids are the host's and may be any string, "__proto__" included: no prototype to collide with. */
function dict(): PresenceMap {
  return Object.create(null) as PresenceMap;
}

function toMap(m: Map<string, Map<string, Meta>>): PresenceMap {
  const out = dict();
  for (const [k, metas] of m) out[k] = { metas: [...metas.values()] };
  return out;
}
