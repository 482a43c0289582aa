// Phoenix V2 framing: what decodes, what is answerable, what closes the socket.
import { describe, expect, test } from "bun:test";
import { decodeBinary, decodeText, encodeBroadcast, encodeControl, encodeReply } from "../../src/web/socket/protocol.ts";

describe("decodeText", () => {
  test("a join frame decodes", () => {
    const d = decodeText('["1","1","stream:demo","phx_join",{"last_seq":3}]');
    expect(d).toEqual({ ok: true, frame: { joinRef: "1", ref: "1", topic: "stream:demo", event: "phx_join", payload: { last_seq: 3 } } });
  });
  test("not JSON, wrong shapes and bad refs are unanswerable", () => {
    for (const t of ["nope", "{}", "[1,2,3]", '[1,"1","t","e",{}]', '["1","1","","e",{}]', `["${"x".repeat(65)}","1","t","e",{}]`, '["1","1","t",5,{}]']) {
      const d = decodeText(t);
      expect(d.ok).toBe(false);
      if (!d.ok) expect(d.answerable).toBeNull();
    }
  });
  test("a payload that is not an object is answerable", () => {
    for (const p of ["[]", "null", "3", '"s"']) {
      const d = decodeText(`["1","2","stream:x","ev",${p}]`);
      expect(d.ok).toBe(false);
      if (!d.ok) expect(d.answerable).toEqual({ joinRef: "1", ref: "2", topic: "stream:x", event: "ev" });
    }
  });
  test("__proto__ keys and very deep nesting are refused", () => {
    expect(decodeText('[null,"1","t","e",{"__proto__":{"x":1}}]').ok).toBe(false);
    expect(decodeText(`[null,"1","t","e",{"a":${"[".repeat(40)}${"]".repeat(40)}}]`).ok).toBe(false);
    expect(({} as any).x).toBeUndefined();
  });
});

describe("decodeBinary", () => {
  test("a kind-0 push is addressed but refused (payloads must be JSON objects)", () => {
    const enc = new TextEncoder();
    const parts = ["1", "2", "stream:a", "ev"].map((s) => enc.encode(s));
    const buf = new Uint8Array([0, ...parts.map((p) => p.length), ...parts.flatMap((p) => [...p]), 65, 66]);
    const d = decodeBinary(buf);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.answerable).toEqual({ joinRef: "1", ref: "2", topic: "stream:a", event: "ev" });
  });
  test("other kinds and truncated frames are unanswerable", () => {
    for (const b of [new Uint8Array([]), new Uint8Array([2, 5, 5]), new Uint8Array([0, 9, 9, 9, 9, 1])]) {
      const d = decodeBinary(b);
      expect(d.ok).toBe(false);
      if (!d.ok) expect(d.answerable).toBeNull();
    }
  });
});

describe("encoders", () => {
  test("reply, broadcast and control frames are valid V2 arrays", () => {
    expect(JSON.parse(encodeReply(null, "5", "phoenix", "ok", {}))).toEqual([null, "5", "phoenix", "phx_reply", { status: "ok", response: {} }]);
    expect(JSON.parse(encodeBroadcast("stream:a", "viewers", { count: 2 }))).toEqual([null, null, "stream:a", "viewers", { count: 2 }]);
    expect(JSON.parse(encodeControl("7", "stream:a", "phx_close", {}))).toEqual(["7", "7", "stream:a", "phx_close", {}]);
    // Topic text is JSON-escaped, never spliced raw.
    expect(JSON.parse(encodeBroadcast('stream:"x', "e", {}))[2]).toBe('stream:"x');
  });
});
