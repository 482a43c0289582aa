// Streams: the list a role may see, create, settings (errors next to their fields), moderators,
// go live and end. Each route checks the role, calls one domain verb and renders a fragment.
import { Elysia } from "elysia";
import type { StreamRecord } from "../../streams/index.ts";
import { toast } from "../../../views/components.ts";
import { html, partial } from "../../../views/html.ts";
import { broadcastControls, streamStatus } from "../../../views/live/stream.ts";
import { segmentForm } from "../../../views/live/panels.ts";
import { moderatorsPanel, settingsForm, settingsPage, settingsValues, type SettingsValues } from "../../../views/settings.ts";
import { createStreamForm, streamCreated, streamsPage, type StreamRow } from "../../../views/streams.ts";
import { canManage, streamsVisibleTo } from "../rights.ts";
import { refuse, type Who } from "./auth.ts";
import type { DashboardContext } from "./context.ts";
import { checked, formOf, intOrText, lines } from "./form.ts";
import { htmlResponse, newNonce, toastResponse } from "./respond.ts";

const MAX_LISTED = 500;

/** The streams an account may see: admins all, others those they own or moderate. */
export function visibleStreams(c: DashboardContext, who: Who): StreamRow[] {
  const out: StreamRow[] = [];
  const queues = c.chat.queueCounts();
  for (const s of streamsVisibleTo(c.streams, who.account, null)) {
    if (out.length >= MAX_LISTED) break;
    const v = c.streams.apiView(s);
    out.push({ slug: s.slug, title: s.title, status: s.status, owner: v.owner, live_since: v.live_since, moderators: v.moderators, canManage: canManage(who.account, s), queue: queues.get(s.id) ?? { pending: 0, escalated: 0 } });
  }
  // Live streams first, then by title.
  return out.sort((a, b) => (a.status === b.status ? a.title.localeCompare(b.title) : a.status === "live" ? -1 : 1));
}

const SETTING_FIELDS = ["slow_mode_s", "chat_delay_s", "reaction_rate", "automod_level", "reaction_window_ms", "recovery_window", "presence_list_max", "review_expiry_s", "chat_retention_days"] as const;
const SETTING_BOOLS = ["members_only", "emote_only", "unique_chat", "chat_closed"] as const;

/** The settings form as a PATCH for the streams door, and the values to show it again. */
export function settingsFromForm(f: Record<string, string>): { title: string; settings: Record<string, unknown>; values: SettingsValues } {
  const settings: Record<string, unknown> = {};
  for (const k of SETTING_FIELDS) settings[k] = intOrText(f[k]);
  for (const k of SETTING_BOOLS) settings[k] = checked(f[k]);
  settings.rate_limit = { messages: intOrText(f["rate_limit.messages"]), per_s: intOrText(f["rate_limit.per_s"]) };
  settings.moderator_rate_limit = { messages: intOrText(f["moderator_rate_limit.messages"]), per_s: intOrText(f["moderator_rate_limit.per_s"]) };
  settings.guests = { react: checked(f["guests.react"]), chat: checked(f["guests.chat"]), vote: checked(f["guests.vote"]) };
  settings.link_policy = f.link_policy ?? "";
  settings.blocked_terms = lines(f.blocked_terms);
  settings.allowed_domains = lines(f.allowed_domains);
  settings.reactions = (f.reactions ?? "").split(/\s+/).filter(Boolean);
  const url = (f.playback_url ?? "").trim();
  settings.playback_url = url === "" ? null : url;
  const values: SettingsValues = { ...f };
  for (const k of [...SETTING_BOOLS, "guests.react", "guests.chat", "guests.vote"]) values[k] = checked(f[k]);
  return { title: f.title ?? "", settings, values };
}

export function streamRoutes(c: DashboardContext) {
  const { auth } = c;
  const page = (who: Who) => {
    const nonce = newNonce();
    return htmlResponse(streamsPage({ nonce, user: who.view, csrf: who.csrf, rows: visibleStreams(c, who), canCreate: who.account.role !== "moderator" }), { nonce });
  };
  return (
    new Elysia()
      .get("/dashboard", auth.guard({}, (who) => page(who)))
      .get("/dashboard/", auth.guard({}, (who) => page(who)))
      .post("/dashboard/streams", auth.guard({ mutating: true }, (who, { request, body }) => {
        if (who.account.role === "moderator") return refuse(request, who, 403, "Not allowed", "Moderators do not create streams.");
        const f = formOf(body);
        const admin = who.account.role === "admin";
        const input: Record<string, unknown> = { slug: (f.slug ?? "").trim(), title: f.title ?? "" };
        if (admin && (f.owner ?? "").trim()) input.owner = f.owner!.trim();
        const r = c.streams.create(who.actor, input);
        if (!r.ok) {
          return htmlResponse(createStreamForm({ admin, values: f, errors: r.fields, error: r.fields ? null : r.message }), { status: r.code === "conflict" ? 409 : 422 });
        }
        return htmlResponse(streamCreated({ admin, rows: visibleStreams(c, who), slug: r.value.slug }), { status: 201 });
      }))
      // ---- settings and moderators (owner or admin) ----
      .get("/dashboard/streams/:slug/settings", auth.streamGuard("manage", {}, (who, s) => {
        const nonce = newNonce();
        return htmlResponse(settingsPage({ nonce, user: who.view, csrf: who.csrf, slug: s.slug, title: s.title, values: settingsValues(s.title, s.settings), moderators: c.streams.moderatorUsernames(s.id) }), { nonce });
      }))
      .post("/dashboard/streams/:slug/settings", auth.streamGuard("manage", { mutating: true }, (who, s, { body }) => {
        const { title, settings, values } = settingsFromForm(formOf(body));
        const r = c.streams.update(who.actor, s.slug, { title, settings });
        if (!r.ok) {
          const n = Object.keys(r.fields ?? {}).length;
          return htmlResponse(settingsForm({ slug: s.slug, values, errors: r.fields, error: n ? `Nothing was saved: ${n === 1 ? "one field needs" : `${n} fields need`} a fix.` : r.message }), { status: 422 });
        }
        return htmlResponse(settingsForm({ slug: s.slug, values: settingsValues(r.value.title, r.value.settings), notice: "Saved." }));
      }))
      .post("/dashboard/streams/:slug/moderators", auth.streamGuard("manage", { mutating: true }, (who, s, { body }) => {
        const username = (formOf(body).username ?? "").trim();
        if (!username) return htmlResponse(moderatorsPanel({ slug: s.slug, moderators: c.streams.moderatorUsernames(s.id), error: "Type a username." }), { status: 422 });
        const acc = c.accounts.findByUsername(username);
        if (!acc) return htmlResponse(moderatorsPanel({ slug: s.slug, moderators: c.streams.moderatorUsernames(s.id), error: `No account ${username}.`, value: username }), { status: 404 });
        const r = c.streams.setModerator(who.actor, s.slug, acc.username, true);
        if (!r.ok) return htmlResponse(moderatorsPanel({ slug: s.slug, moderators: c.streams.moderatorUsernames(s.id), error: r.message, value: username }), { status: 422 });
        return htmlResponse(moderatorsPanel({ slug: s.slug, moderators: r.value.moderators, notice: `${acc.username} now moderates ${s.slug}.` }));
      }))
      .post("/dashboard/streams/:slug/moderators/remove", auth.streamGuard("manage", { mutating: true }, (who, s, { body }) => {
        const username = (formOf(body).username ?? "").trim();
        const r = c.streams.setModerator(who.actor, s.slug, username, false);
        if (!r.ok) return htmlResponse(moderatorsPanel({ slug: s.slug, moderators: c.streams.moderatorUsernames(s.id), error: r.message }), { status: 404 });
        return htmlResponse(moderatorsPanel({ slug: s.slug, moderators: r.value.moderators, notice: `${username} no longer moderates ${s.slug}.` }));
      }))
      // ---- broadcasts ----
      .post("/dashboard/streams/:slug/live", auth.streamGuard("manage", { mutating: true }, (who, s) => {
        const r = c.streams.goLive(who.actor, s.slug);
        if (!r.ok) return toastResponse("error", r.message, 409);
        return htmlResponse(statusParts(c, s.slug, "You are live."));
      }))
      .post("/dashboard/streams/:slug/end", auth.streamGuard("manage", { mutating: true }, (who, s) => {
        const r = c.streams.end(who.actor, s.slug);
        if (!r.ok) return toastResponse("error", r.message, 409);
        return htmlResponse(statusParts(c, s.slug, "Broadcast ended."));
      }))
  );
}

/** After go live / end: the status fragments as they are now (the SSE feed brings the same). */
function statusParts(c: DashboardContext, slug: string, message: string) {
  const s = c.streams.findBySlug(slug)!;
  const head = c.data.head(s);
  return html`${partial("#stream-status", "outerHTML", streamStatus(head))}${partial("#broadcast-controls", "outerHTML", broadcastControls(head))}${partial("#segment-form", "outerHTML", segmentForm(s.slug, s.status === "live"))}${toast("ok", message)}`;
}
