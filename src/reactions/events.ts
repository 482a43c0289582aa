// Reactions' names: the socket event on `stream:<slug>`.
export const REACTIONS = "reactions";
