// The official phoenix client, as viewers use it, plus small promise helpers around it.
import { Channel, Socket } from "phoenix";
import { deferred } from "./wait.ts";

export { Presence, Socket, Channel } from "phoenix";

export function connect(url: string, params: Record<string, unknown> | (() => Record<string, unknown>) = {}, opts: Record<string, unknown> = {}): Socket {
  const socket = new Socket(url, { params, heartbeatIntervalMs: 30_000, ...opts } as any);
  socket.connect();
  return socket;
}

export function join(channel: Channel, timeoutMs = 15_000): Promise<any> {
  const d = deferred<any>();
  channel
    .join(timeoutMs)
    .receive("ok", (resp: unknown) => d.resolve(resp))
    .receive("error", (resp: unknown) => d.reject(Object.assign(new Error(`join refused: ${JSON.stringify(resp)}`), { response: resp })))
    .receive("timeout", () => d.reject(new Error("join timed out")));
  return d.promise;
}

/** Join expected to fail: resolves with the error response, then leaves so the client stops retrying. */
export function joinRefused(channel: Channel, timeoutMs = 15_000): Promise<any> {
  const d = deferred<any>();
  channel
    .join(timeoutMs)
    .receive("ok", () => d.reject(new Error("join unexpectedly ok")))
    .receive("error", (resp: unknown) => {
      channel.leave();
      d.resolve(resp);
    })
    .receive("timeout", () => d.reject(new Error("join timed out")));
  return d.promise;
}

export function push(channel: Channel, event: string, payload: object, timeoutMs = 15_000): Promise<{ status: string; response: any }> {
  const d = deferred<{ status: string; response: any }>();
  channel
    .push(event, payload, timeoutMs)
    .receive("ok", (response: unknown) => d.resolve({ status: "ok", response }))
    .receive("error", (response: unknown) => d.resolve({ status: "error", response }))
    .receive("timeout", () => d.reject(new Error(`push ${event} timed out`)));
  return d.promise;
}

/** Records every event of the given names on a channel, to wait on later. */
export function record(channel: Channel, events: string[]) {
  const seen: Array<{ event: string; payload: any }> = [];
  for (const e of events) channel.on(e, (payload: unknown) => void seen.push({ event: e, payload }));
  return seen;
}
