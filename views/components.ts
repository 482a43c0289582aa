// Small building blocks shared by the dashboard pages: labelled form fields with their error next to
// them, toasts, status pills and times. Everything goes through html`` (escaped by default).
import { html, partial, type Html } from "./html.ts";

export type Errors = Record<string, string>;

interface FieldBase {
  name: string;
  label: string;
  errors?: Errors;
  /** The error key when it differs from the name (e.g. settings.slow_mode_s). */
  errorKey?: string;
  hint?: string;
}

const fid = (name: string) => `f-${name.replace(/[^a-zA-Z0-9_-]/g, "-")}`;

function describe(f: FieldBase): { err: string | undefined; ids: string; hintEl: Html | null; errEl: Html | null } {
  const id = fid(f.name);
  const err = f.errors?.[f.errorKey ?? f.name];
  const ids = [f.hint ? `${id}-hint` : "", err ? `${id}-error` : ""].filter(Boolean).join(" ");
  return {
    err,
    ids,
    hintEl: f.hint ? html`<p class="hint" id="${id}-hint">${f.hint}</p>` : null,
    errEl: err ? html`<p class="field-error" id="${id}-error">${err}</p>` : null,
  };
}

function aria(d: { err: string | undefined; ids: string }): Html {
  return html`${d.err ? html` aria-invalid="true"` : null}${d.ids ? html` aria-describedby="${d.ids}"` : null}`;
}

export function input(f: FieldBase & { value?: string | number | null; type?: string; required?: boolean; attrs?: Html; placeholder?: string; autocomplete?: string }): Html {
  const d = describe(f);
  const id = fid(f.name);
  return html`<div class="${d.err ? "field has-error" : "field"}">
  <label for="${id}">${f.label}</label>
  <input id="${id}" name="${f.name}" type="${f.type ?? "text"}" value="${f.value ?? ""}"${f.required ? html` required` : null}${f.placeholder ? html` placeholder="${f.placeholder}"` : null}${f.autocomplete ? html` autocomplete="${f.autocomplete}"` : null}${aria(d)}${f.attrs ?? null}>
  ${d.hintEl}${d.errEl}
</div>`;
}

export function textarea(f: FieldBase & { value?: string; rows?: number; placeholder?: string }): Html {
  const d = describe(f);
  const id = fid(f.name);
  return html`<div class="${d.err ? "field has-error" : "field"}">
  <label for="${id}">${f.label}</label>
  <textarea id="${id}" name="${f.name}" rows="${f.rows ?? 3}"${f.placeholder ? html` placeholder="${f.placeholder}"` : null}${aria(d)}>${f.value ?? ""}</textarea>
  ${d.hintEl}${d.errEl}
</div>`;
}

export function select(f: FieldBase & { value: string; options: Array<[string, string]> }): Html {
  const d = describe(f);
  const id = fid(f.name);
  return html`<div class="${d.err ? "field has-error" : "field"}">
  <label for="${id}">${f.label}</label>
  <select id="${id}" name="${f.name}"${aria(d)}>
    ${f.options.map(([v, label]) => html`<option value="${v}"${v === f.value ? html` selected` : null}>${label}</option>`)}
  </select>
  ${d.hintEl}${d.errEl}
</div>`;
}

export function checkbox(f: FieldBase & { checked: boolean }): Html {
  const d = describe(f);
  const id = fid(f.name);
  return html`<div class="${d.err ? "field check has-error" : "field check"}">
  <input id="${id}" name="${f.name}" type="checkbox" value="on"${f.checked ? html` checked` : null}${aria(d)}>
  <label for="${id}">${f.label}</label>
  ${d.hintEl}${d.errEl}
</div>`;
}

/** A form-level message (success or failure) at the top of a form. */
export function formNotice(kind: "ok" | "error", text: string | null): Html | null {
  if (!text) return null;
  return html`<p class="${`notice notice-${kind}`}" role="${kind === "error" ? "alert" : "status"}">${text}</p>`;
}

/** A toast, swapped into #toasts by any htmx response (also an error response). */
export function toast(kind: "ok" | "error" | "info", text: string): Html {
  return partial("#toasts", "beforeend", html`<div class="${`toast toast-${kind}`}" role="${kind === "error" ? "alert" : "status"}">${text}</div>`);
}

export function statusPill(status: "live" | "offline"): Html {
  return status === "live" ? html`<span class="pill pill-live"><span class="dot" aria-hidden="true"></span>Live</span>` : html`<span class="pill pill-offline">Offline</span>`;
}

/** A time: UTC on the server, shown in the browser's zone by dashboard.js. */
export function time(iso: string | null, style: "time" | "datetime" = "time"): Html {
  if (!iso) return html`<span class="muted">—</span>`;
  const shown = style === "time" ? iso.slice(11, 19) : `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
  return html`<time datetime="${iso}" data-style="${style}">${shown} UTC</time>`;
}

export function roleBadge(role: string): Html {
  return html`<span class="${`role role-${role}`}">${role}</span>`;
}

export function number(n: number | null | undefined, digits = 0): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "—";
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function duration(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h ? `${h} h ${m} min` : m ? `${m} min ${r} s` : `${r} s`;
}
