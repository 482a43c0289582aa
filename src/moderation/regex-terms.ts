// Blocked terms written as regular expressions (`/.../`): accepted only when they compile and
// cannot backtrack catastrophically (safe-regex2's star-height analysis), since every chat message
// of the stream runs through them.
import safeRegex from "safe-regex2";

export function isRegexTerm(term: string): boolean {
  return term.length > 2 && term.startsWith("/") && term.endsWith("/");
}

/** null when the regular-expression term is usable, else why not. */
export function regexTermProblem(term: string): string | null {
  const src = term.slice(1, -1);
  try {
    new RegExp(src, "iu");
  } catch {
    return `a valid regular expression: ${term}`;
  }
  return safeRegex(src) ? null : `a regular expression without nested repetition (it could backtrack catastrophically): ${term}`;
}
