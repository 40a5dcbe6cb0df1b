/** IAM's wildcard patterns (bucket policies' actions, resources and StringLike conditions). Pure. */

/**
 * Whether `text` matches an IAM wildcard pattern (`*` any run of characters, `?` one). Greedy with
 * one step of backtracking to the last `*`: at most pattern × text steps, where a regular
 * expression of several `.*` can take exponential time on a key an unsigned caller chose.
 */
export function globMatches(patternText: string, subject: string): boolean {
  // the patterns policies are made of: a name, or a prefix and one star
  const firstStar = patternText.indexOf("*");
  if (patternText.indexOf("?") < 0 && (firstStar < 0 || firstStar === patternText.length - 1)) {
    return firstStar < 0 ? patternText === subject : subject.startsWith(patternText.slice(0, -1));
  }
  // what lies before the first wildcard and after the last must be there as written (most misses end here)
  const head = patternText.slice(0, patternText.search(/[*?]/));
  const tail = patternText.slice(Math.max(patternText.lastIndexOf("*"), patternText.lastIndexOf("?")) + 1);
  if (!subject.startsWith(head) || !subject.endsWith(tail)) return false;
  // by code point: `?` is one character, even outside the Basic Multilingual Plane
  const pattern = /[\uD800-\uDFFF]/.test(patternText) ? Array.from(patternText) : patternText;
  const text = /[\uD800-\uDFFF]/.test(subject) ? Array.from(subject) : subject;
  let p = 0;
  let t = 0;
  let star = -1;
  let starText = 0;
  while (t < text.length) {
    if (p < pattern.length && (pattern[p] === "?" || pattern[p] === text[t])) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === "*") {
      star = p++;
      starText = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++starText;
    } else {
      return false;
    }
  }
  while (pattern[p] === "*") p++;
  return p === pattern.length;
}

/**
 * Whether some text that begins with `prefix` matches the pattern: whether a policy's resource
 * (`arn:aws:s3:::*`, or `photo*` then `/*`) can name anything under a bucket. Pattern × prefix steps.
 */
export function globMatchesSomeStartingWith(patternText: string, prefix: string): boolean {
  // (a run of stars is one star: else each step walks the whole run again, and 20,000 of them in a
  // policy a user may write took the event loop for minutes)
  const pattern = Array.from(patternText.replace(/\*+/g, "*"));
  // the pattern positions the prefix so far can have led to, a `*` also skipped
  const reachable = (positions: Iterable<number>) => {
    const out = new Set<number>();
    for (let p of positions) {
      out.add(p);
      while (pattern[p] === "*") out.add(++p);
    }
    return out;
  };
  let states = reachable([0]);
  for (const char of prefix) {
    const next: number[] = [];
    for (const p of states) {
      if (pattern[p] === "*") next.push(p);
      else if (pattern[p] === "?" || pattern[p] === char) next.push(p + 1);
    }
    states = reachable(next);
    if (states.size === 0) return false;
  }
  return true;
}
