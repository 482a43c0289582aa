// HTML templates that escape by default: every value interpolated into html`...` goes through
// Bun.escapeHTML (& < > " ' included, so it is safe in quoted attributes too) unless it is itself
// Html (a fragment built the same way). There is no other way to put text into a page, so user text
// cannot become markup by forgetting to escape it.
export class Html {
  constructor(readonly s: string) {}
  toString(): string {
    return this.s;
  }
}

export type Renderable = Html | string | number | boolean | null | undefined | Renderable[];

function render(v: Renderable): string {
  if (v instanceof Html) return v.s;
  if (v === null || v === undefined || v === false || v === true) return "";
  if (Array.isArray(v)) return v.map(render).join("");
  return Bun.escapeHTML(String(v));
}

export function html(strings: TemplateStringsArray, ...values: Renderable[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new Html(out);
}

/** A JSON value for an attribute such as hx-vals (escaped like any other value by html``). */
export function json(v: unknown): string {
  return JSON.stringify(v);
}

/** `<hx-partial>`: htmx 4 swaps it into its target; the same fragment the page renders. */
export function partial(target: string, swap: "outerHTML" | "innerHTML" | "beforeend" | "afterbegin" | "delete", content: Html | Html[]): Html {
  return html`<hx-partial hx-target="${target}" hx-swap="${swap}">${content}</hx-partial>`;
}

