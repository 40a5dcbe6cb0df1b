/** Request headers as SigV4 sees them: lowercase names, canonical values. */

export type HeaderSource = Headers | Record<string, string>;
/** Lowercase name → value. */
export type HeaderMap = ReadonlyMap<string, string>;

/**
 * One lowercase-keyed view of either header shape. A Record holding one name in two cases gets
 * both values joined by "," (as a repeated header is canonicalised).
 */
export function headerMap(source: HeaderSource | HeaderMap): HeaderMap {
  if (source instanceof Map) return source;
  const map = new Map<string, string>();
  if (source instanceof Headers) {
    source.forEach((value, name) => map.set(name.toLowerCase(), value));
    return map;
  }
  for (const [name, value] of Object.entries(source)) {
    if (typeof value !== "string") continue;
    const lower = name.toLowerCase();
    const earlier = map.get(lower);
    map.set(lower, earlier === undefined ? value : `${earlier},${value}`);
  }
  return map;
}

/** An Authorization header's value; an empty one is none, as S3 takes it (the request is then unsigned). */
export function authorizationOf(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value;
}

/** Value trimmed, inner runs of whitespace collapsed to one space (AWS's Trimall). */
export function canonicalHeaderValue(value: string): string {
  const trimmed = value.trim();
  return multipleOrOddSpace.test(trimmed) ? trimmed.replace(/\s+/g, " ") : trimmed;
}

/** Whitespace that Trimall changes: a run of two, or any but a plain space. */
const multipleOrOddSpace = /\s\s|[^\S ]/;
