// Server-sent events framing, by hand: Elysia's sse() helper keeps only the first line of `data`.
// Every line of the payload gets its own `data:` prefix; the browser joins them with "\n".

export function sseMessage(id: string | null, data: string, event?: string): string {
  let out = "";
  if (id !== null) out += `id: ${id.replace(/[\r\n\0]/g, "")}\n`;
  if (event) out += `event: ${event.replace(/[\r\n]/g, "")}\n`;
  for (const line of data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return out + "\n";
}

/** A comment line: keeps idle proxies and Bun's idle timeout from closing a quiet stream. */
export const SSE_HEARTBEAT = ": keep-alive\n\n";

/** Feed positions are `<boot>-<n>`: boot changes when the feed is rebuilt, so old ids mean "start over". */
export function parseFeedId(s: string | null | undefined): { boot: string; n: number } | null {
  if (!s) return null;
  const m = /^([A-Za-z0-9_-]{1,32})-(\d{1,15})$/.exec(s.trim());
  return m ? { boot: m[1]!, n: Number(m[2]) } : null;
}
