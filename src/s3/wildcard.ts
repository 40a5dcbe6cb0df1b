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
