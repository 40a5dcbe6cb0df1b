/** AWS's UriEncode and the canonical URI and query built from it. */

const hexOfByte: string[] = Array.from(
  { length: 256 },
  (_, b) => "%" + b.toString(16).toUpperCase().padStart(2, "0"),
);

const unreservedByte: boolean[] = Array.from({ length: 256 }, (_, b) => {
  const c = String.fromCharCode(b);
  return /[A-Za-z0-9\-_.~]/.test(c);
});

const slashByte = 0x2f;
const allUnreserved = /^[A-Za-z0-9\-_.~]*$/;
const allUnreservedOrSlash = /^[A-Za-z0-9\-_.~/]*$/;

/**
 * AWS UriEncode: every byte except A-Z a-z 0-9 - _ . ~ is %XX (uppercase hex, UTF-8);
 * '/' kept when encodeSlash is false. A lone surrogate encodes as U+FFFD instead of throwing
 * (encodeURIComponent would throw a URIError).
 */
export function uriEncode(s: string, encodeSlash: boolean): string {
  if ((encodeSlash ? allUnreserved : allUnreservedOrSlash).test(s)) return s;
  let out = "";
  for (const b of Buffer.from(s, "utf8")) {
    out += unreservedByte[b] || (b === slashByte && !encodeSlash) ? String.fromCharCode(b) : hexOfByte[b];
  }
  return out;
}

/**
 * S3 canonical URI from the DECODED path ("/bucket/some key/ü"): each segment uriEncoded,
 * slashes kept, no normalisation ("//" and ".." stay: S3 keys may contain them). An empty path
 * is "/".
 */
export function canonicalUri(decodedPath: string): string {
  if (decodedPath === "") return "/";
  const path = decodedPath.startsWith("/") ? decodedPath : "/" + decodedPath;
  return uriEncode(path, false);
}

/**
 * Canonical query string from decoded (name, value) pairs: both uriEncoded (slash encoded),
 * sorted by encoded name then encoded value, joined name=value with &.
 */
export function canonicalQuery(params: ReadonlyArray<readonly [string, string]>): string {
  const encoded = params.map(([name, value]) => [uriEncode(name, true), uriEncode(value, true)] as const);
  encoded.sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return encoded.map(([name, value]) => `${name}=${value}`).join("&");
}
