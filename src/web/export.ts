// Exports: CSV (RFC 4180 quoting, formula-injection guard) and NDJSON, streamed page by page so a
// large history never sits in memory at once.

/**
 * One CSV cell. Text that a spreadsheet would run as a formula gets a leading apostrophe; numbers
 * (a negative sentiment, say) are written as they are.
 */
export function csvCell(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") return String(v);
  let s = typeof v === "string" ? v : JSON.stringify(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvRow(values: unknown[]): string {
  return values.map(csvCell).join(",") + "\r\n";
}

/** Streams pages from `next(cursor)` until it returns an empty page. */
export function streamPages<T, C>(
  first: C,
  next: (cursor: C) => { rows: T[]; cursor: C },
  render: (row: T) => string,
  header = "",
): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  let cursor = first;
  let started = false;
  return new ReadableStream({
    pull(ctrl) {
      if (!started && header) ctrl.enqueue(enc.encode(header));
      started = true;
      const page = next(cursor);
      if (page.rows.length === 0) return ctrl.close();
      cursor = page.cursor;
      ctrl.enqueue(enc.encode(page.rows.map(render).join("")));
    },
  });
}
