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
  if (!safeRegex(src)) return `a regular expression without nested repetition (it could backtrack catastrophically): ${term}`;
  if (repeatedAlternation(src)) return `a regular expression without a repeated group of alternatives like (a|b)* (it could backtrack catastrophically): ${term}`;
  return null;
}

/**
 * safe-regex2 judges nesting depth only, so `(a|a)*` or `(\w|\d)+` pass it yet backtrack
 * exponentially. Conservative stopgap: refuse any group containing `|` that is repeated without an
 * upper bound (`*`, `+`, `{n,}`).
 */
function repeatedAlternation(src: string): boolean {
  const stack: boolean[] = []; // per open group: does it (or a group inside it) contain "|"?
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === "\\") {
      i++;
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
      continue;
    }
    if (c === "[") inClass = true;
    else if (c === "(") stack.push(false);
    else if (c === "|" && stack.length) stack[stack.length - 1] = true;
    else if (c === ")") {
      const alt = stack.pop() ?? false;
      if (alt && stack.length) stack[stack.length - 1] = true;
      const next = src[i + 1];
      const unbounded = next === "*" || next === "+" || (next === "{" && /^\{\d+,\}/.test(src.slice(i + 1)));
      if (alt && unbounded) return true;
    }
  }
  return false;
}
