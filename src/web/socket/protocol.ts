// Phoenix Channels V2 framing: decoding client frames (JSON text and the binary push) and encoding
// replies, pushes and broadcasts. Pure functions, no socket.
import { hasForbiddenKeys, isPlainObject } from "../../runtime/json.ts";

export interface Frame {
  joinRef: string | null;
  ref: string | null;
  topic: string;
  event: string;
  payload: Record<string, unknown>;
}

/** A frame we can answer (bad payload) vs one we cannot even address (close the socket). */
export type Decoded =
  | { ok: true; frame: Frame }
  | { ok: false; answerable: Omit<Frame, "payload"> | null; why: string };

const MAX_REF = 64;
const MAX_TOPIC = 200;
const MAX_EVENT = 64;

const isRef = (v: unknown): v is string | null => v === null || (typeof v === "string" && v.length <= MAX_REF);

export function decodeText(text: string): Decoded {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, answerable: null, why: "not JSON" };
  }
  if (!Array.isArray(raw) || raw.length !== 5) return { ok: false, answerable: null, why: "not a 5-element array" };
  const [joinRef, ref, topic, event, payload] = raw as unknown[];
  if (!isRef(joinRef) || !isRef(ref)) return { ok: false, answerable: null, why: "bad ref" };
  if (typeof topic !== "string" || topic.length === 0 || topic.length > MAX_TOPIC) return { ok: false, answerable: null, why: "bad topic" };
  if (typeof event !== "string" || event.length === 0 || event.length > MAX_EVENT) return { ok: false, answerable: null, why: "bad event" };
  const head = { joinRef, ref, topic, event };
  if (!isPlainObject(payload)) return { ok: false, answerable: head, why: "payload must be a JSON object" };
  if (hasForbiddenKeys(payload)) return { ok: false, answerable: head, why: "payload has forbidden keys or nests too deep" };
  return { ok: true, frame: { ...head, payload } };
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Binary push (kind 0): header sizes are uint8. Its payload is raw bytes, never a JSON object. */
export function decodeBinary(buf: Uint8Array): Decoded {
  if (buf.length < 5 || buf[0] !== 0) return { ok: false, answerable: null, why: "unknown binary frame kind" };
  const [jrSize, refSize, topicSize, eventSize] = [buf[1]!, buf[2]!, buf[3]!, buf[4]!];
  let at = 5;
  const take = (n: number): string | null => {
    if (at + n > buf.length) return null;
    try {
      return utf8.decode(buf.subarray(at, (at += n)));
    } catch {
      return null;
    }
  };
  const joinRef = take(jrSize);
  const ref = take(refSize);
  const topic = take(topicSize);
  const event = take(eventSize);
  if (joinRef === null || ref === null || topic === null || event === null || !topic || !event) return { ok: false, answerable: null, why: "truncated binary frame" };
  return { ok: false, answerable: { joinRef: joinRef || null, ref: ref || null, topic, event }, why: "binary payloads are not accepted: send a JSON object" };
}

const j = JSON.stringify;

export function encodeReply(joinRef: string | null, ref: string | null, topic: string, status: "ok" | "error", response: unknown): string {
  return `[${j(joinRef)},${j(ref)},${j(topic)},"phx_reply",{"status":"${status}","response":${j(response)}}]`;
}

/** A push to one socket: carries that socket's current join_ref, or the client drops it. */
export function encodePush(joinRef: string | null, topic: string, event: string, payload: unknown): string {
  return `[${j(joinRef)},null,${j(topic)},${j(event)},${j(payload)}]`;
}

/** As encodePush, with a payload that is already JSON text (cached presence state). */
export function encodePushRaw(joinRef: string | null, topic: string, event: string, payloadJson: string): string {
  return `[${j(joinRef)},null,${j(topic)},${j(event)},${payloadJson}]`;
}

/** A broadcast: the same bytes for every subscriber, encoded once for Bun's native publish. */
export function encodeBroadcast(topic: string, event: string, payload: unknown): string {
  return `[null,null,${j(topic)},${j(event)},${j(payload)}]`;
}

/** phx_close / phx_error: addressed with the channel's join_ref in both ref slots, as Phoenix does. */
export function encodeControl(joinRef: string | null, topic: string, event: "phx_close" | "phx_error", payload: unknown): string {
  return `[${j(joinRef)},${j(joinRef)},${j(topic)},${j(event)},${j(payload)}]`;
}
