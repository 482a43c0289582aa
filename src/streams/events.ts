// Event names of the streams domain: socket events on `stream:<slug>` and audit actions.
export const STREAM_UPDATE = "stream:update";
export const ANNOUNCEMENT = "announcement";

export const AUDIT = {
  create: "stream.create",
  update: "stream.update",
  live: "stream.live",
  end: "stream.end",
  moderatorAdd: "stream.moderator_add",
  moderatorRemove: "stream.moderator_remove",
  announce: "moderation.announce",
  segment: "broadcast.segment",
} as const;
