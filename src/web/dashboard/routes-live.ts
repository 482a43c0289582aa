// The live dashboard of a stream: the page, its SSE feed, and the moderators' actions (chat
// moderation, review queue, polls, segments, announcements, the viewer card). Every action checks
// that its object belongs to this stream, calls one domain verb, and answers with fragments (the
// SSE feed brings the same change to every other open dashboard).
import { Elysia } from "elysia";
import { Chat } from "../../chat/index.ts";
import { toast } from "../../../views/components.ts";
import { html, partial } from "../../../views/html.ts";
import { AUDIT_ROWS } from "../../../views/live/audit.ts";
import { announceForm, CHAT_LINES, tombstone } from "../../../views/live/chat.ts";
import { livePage } from "../../../views/live/page.ts";
import { newPoll, pollPanel, segmentForm, segmentList } from "../../../views/live/panels.ts";
import { queuePanel } from "../../../views/live/queue.ts";
import { emptyViewerCard, viewerCard } from "../../../views/live/viewer-card.ts";
import { canManage, canModerate } from "../rights.ts";
import type { DashboardContext } from "./context.ts";
import { formOf, intOrText } from "./form.ts";
import { htmlResponse, newNonce, securityHeaders, toastResponse } from "./respond.ts";

const VIEWER_ID = /^[\x21-\x7e]{1,128}$/;
const VERDICTS = ["approve", "deny", "escalate"] as const;

export function liveRoutes(c: DashboardContext) {
  const { auth, data } = c;
  return (
    new Elysia()
      .get("/dashboard/streams/:slug", auth.streamGuard("moderate", {}, (who, s) => {
        // Feed position first, then the state: all synchronous, so the page is exactly that position.
        const at = c.feeds.sync(s);
        const fresh = c.streams.findById(s.id) ?? s;
        const nonce = newNonce();
        return htmlResponse(
          livePage({
            nonce, user: who.view, csrf: who.csrf, canManage: canManage(who.account, fresh), name: data.actorName,
            v: {
              stream: data.head(fresh), metrics: c.analytics.liveMetrics(fresh), samples: at.samples, messages: data.recentMessages(fresh, CHAT_LINES),
              reactions: at.reactions, poll: data.poll(fresh), queue: data.queue(fresh), bans: at.bans, segments: data.segments(fresh), audit: data.recentAudit(fresh.id, AUDIT_ROWS), feedId: at.id,
            },
          }),
          { nonce },
        );
      }))
      .get("/dashboard/streams/:slug/events", auth.streamGuard("moderate", {}, (who, s, { request, query }) => {
        const after = request.headers.get("last-event-id") ?? query.after ?? null;
        // The stream ends when the session does (logout, expiry) or the account loses the stream.
        const allowed = () => {
          const acc = c.sessions.accountOf(who.tokenHash);
          const st = c.streams.findById(s.id);
          return !!acc && !!st && canModerate(c.streams, acc, st);
        };
        return c.feeds.subscribe(s, after, request.signal, securityHeaders(newNonce()), allowed);
      }))
      // ---- chat moderation: delete, timeout, ban, unban, clear ----
      .post("/dashboard/streams/:slug/moderate", auth.streamGuard("moderate", { mutating: true }, async (who, s, { body }) => {
        const f = formOf(body);
        const p: Record<string, unknown> = {};
        if (f.seq !== undefined) p.seq = intOrText(f.seq);
        if (f.user_id !== undefined) p.user_id = f.user_id;
        if (f.duration_s !== undefined) p.duration_s = intOrText(f.duration_s);
        if (f.reason) p.reason = f.reason;
        const parsed = Chat.parseAction(f.action ?? "", p);
        if (!parsed.ok) return toastResponse("error", parsed.fields ? Object.entries(parsed.fields).map(([k, v]) => `${k}: ${v}`).join("; ") : parsed.message, 400);
        const r = await c.chat.moderate(who.actor, s, parsed.value);
        if (!r.ok) return toastResponse("error", r.message, r.code === "not_found" ? 404 : 400);
        const a = parsed.value;
        switch (a.action) {
          case "delete":
            return htmlResponse(html`${partial(`#msg-${a.seq}`, "outerHTML", tombstone(a.seq))}${toast("ok", `Message #${a.seq} deleted.`)}`);
          case "timeout":
            return toastResponse("ok", `${a.user_id} timed out for ${a.duration_s >= 60 ? `${Math.round(a.duration_s / 60)} min` : `${a.duration_s} s`}.`);
          case "ban":
            return toastResponse("ok", `${a.user_id} is banned from ${s.slug}.`);
          case "unban":
            return toastResponse("ok", `${a.user_id} is unbanned.`);
          default:
            return toastResponse("ok", `Cleared ${String(r.value.cleared ?? 0)} messages.`);
        }
      }))
      .post("/dashboard/streams/:slug/announce", auth.streamGuard("moderate", { mutating: true }, async (who, s, { body }) => {
        const r = await c.streams.announce(who.actor, s.slug, formOf(body).body ?? "");
        if (!r.ok) return htmlResponse(announceForm(s.slug, r.fields?.body ?? r.message), { status: 422 });
        return htmlResponse(announceForm(s.slug, null, "Sent to every viewer."));
      }))
      // ---- review queue ----
      .post("/dashboard/streams/:slug/review/:verdict", auth.streamGuard("moderate", { mutating: true }, async (who, s, { params, body }) => {
        const verdict = VERDICTS.find((v) => v === params.verdict);
        if (!verdict) return toastResponse("error", "approve, deny or escalate", 404);
        const f = formOf(body);
        const id = f.id ?? "";
        const item = data.queueItemOf(s, id);
        if (!item) return toastResponse("error", "That review item is not in this stream's queue.", 404);
        // The item's reason field, and for an upheld report a timeout or ban of its author.
        const input: Record<string, unknown> = {};
        if ((f.reason ?? "").trim()) input.reason = f.reason;
        if (f.timeout_s !== undefined) input.timeout_s = intOrText(f.timeout_s);
        if (f.ban !== undefined) {
          if (f.ban !== "true" && f.ban !== "false") return toastResponse("error", "ban: true or false", 400);
          input.ban = f.ban === "true";
        }
        const r = await c.chat.decide(who.actor, id, verdict, input); // (escalated items: admins only, held by the domain)
        const queue = partial("#review-queue", "outerHTML", queuePanel(s.slug, data.queue(s)));
        if (!r.ok) return htmlResponse(html`${queue}${toast("error", r.code === "forbidden" ? "Escalated items are decided by an admin." : r.message)}`, { status: r.code === "conflict" ? 409 : r.code === "forbidden" ? 403 : 400 });
        const penalty = input.ban ? " Author banned." : input.timeout_s !== undefined ? " Author timed out." : "";
        const done = verdict === "approve" ? (item.kind === "report" ? `Report upheld: message deleted.${penalty}` : "Approved and published.") : verdict === "deny" ? (item.kind === "report" ? "Report dismissed." : "Denied.") : "Escalated to the admins.";
        return htmlResponse(html`${queue}${toast("ok", done)}`);
      }))
      // ---- polls ----
      .post("/dashboard/streams/:slug/polls", auth.streamGuard("moderate", { mutating: true }, async (who, s, { body }) => {
        const f = formOf(body);
        // Empty option fields are skipped; errors about the n-th option go back to its own field.
        const used = [0, 1, 2, 3, 4].filter((i) => (f[`option${i}`] ?? "").trim() !== "");
        const r = await c.polls.openPoll(who.actor, s, { question: f.question ?? "", options: used.map((i) => f[`option${i}`]!), duration_s: intOrText(f.duration_s) });
        if (!r.ok) {
          const errors: Record<string, string> = {};
          for (const [k, v] of Object.entries(r.fields ?? {})) {
            const m = /^options\[(\d)\]$/.exec(k);
            if (m) errors[`option${used[Number(m[1])]}`] = v;
            else if (k === "options") errors.option0 = v;
            else errors[k] = v;
          }
          return htmlResponse(newPoll(s.slug, true, { values: f, errors, error: r.fields ? null : r.message }), { status: r.code === "conflict" ? 409 : 422 });
        }
        return htmlResponse(html`${newPoll(s.slug, false)}${partial("#poll", "outerHTML", pollPanel(s.slug, r.value))}${toast("ok", "Poll opened.")}`, { status: 201 });
      }))
      .post("/dashboard/streams/:slug/polls/close", auth.streamGuard("moderate", { mutating: true }, async (who, s, { body }) => {
        const id = formOf(body).poll_id ?? "";
        if (!data.pollOf(s, id)) return toastResponse("error", "That poll is not in this stream.", 404);
        const r = await c.polls.closePoll(who.actor, id);
        if (!r.ok) return toastResponse("error", r.message, 409);
        return htmlResponse(html`${partial("#poll", "outerHTML", pollPanel(s.slug, r.value))}${toast("ok", "Poll closed.")}`);
      }))
      // ---- segments ----
      // Segments shape the creator's analytics: the owner (and admins) mark them, as the API's streams scope.
      .post("/dashboard/streams/:slug/segments", auth.streamGuard("manage", { mutating: true }, (who, s, { body }) => {
        const fresh = c.streams.findById(s.id) ?? s;
        if (!fresh.current_broadcast_id) return htmlResponse(segmentForm(s.slug, false, "Segments mark a live broadcast: go live first."), { status: 409 });
        const r = c.streams.markSegment(who.actor, fresh.current_broadcast_id, { label: formOf(body).label ?? "" });
        if (!r.ok) return htmlResponse(segmentForm(s.slug, true, r.fields?.label ?? r.message), { status: 422 });
        return htmlResponse(html`${segmentForm(s.slug, true)}${partial("#segment-list", "outerHTML", segmentList(data.segments(fresh)))}`, { status: 201 });
      }))
      // ---- a viewer, in every stream: admins (the API's viewer revoke and erase) ----
      .post("/dashboard/viewers/revoke", auth.guard({ mutating: true, admin: true }, (who, { body }) => {
        const id = formOf(body).id ?? "";
        if (!VIEWER_ID.test(id)) return toastResponse("error", "Not a viewer id.", 400);
        const r = c.viewers.revoke(who.actor, id);
        if (!r.ok) return toastResponse("error", r.message, 400);
        return toastResponse("ok", `Revoked: ${id}'s sockets are closed and their current tokens refused.`);
      }))
      .post("/dashboard/viewers/erase", auth.guard({ mutating: true, admin: true }, async (who, { body }) => {
        const id = formOf(body).id ?? "";
        if (!VIEWER_ID.test(id)) return toastResponse("error", "Not a viewer id.", 400);
        const r = await c.chat.eraseViewer(who.actor, id);
        if (!r.ok) return toastResponse("error", r.message, 400);
        const done = await c.analytics.erasureSettled(id, c.eraseWaitMs ?? 10_000);
        return toastResponse("ok", `Erased ${id}: ${r.value.messages} messages${done ? "; analytics anonymised." : "; analytics will be anonymised when the analytics worker answers."}`);
      }))
      // ---- the viewer card ----
      .get("/dashboard/streams/:slug/viewer", auth.streamGuard("moderate", {}, (_who, s, { query }) => {
        const id = query.id;
        if (!id) return htmlResponse(emptyViewerCard(s.slug));
        if (!VIEWER_ID.test(id)) return toastResponse("error", "Not a viewer id.", 400);
        return htmlResponse(viewerCard(s.slug, data.viewerCard(s, id), data.actorName));
      }))
  );
}
