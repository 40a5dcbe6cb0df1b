/**
 * RFC 2047 encoded words in x-amz-meta-* values, as S3 treats them: a value sent with encoded
 * words ("=?UTF-8?B?...?=", "=?utf-8?q?caf=C3=A9?=") is stored decoded, and a stored value that is
 * not plain printable ASCII is answered as one UTF-8 "B" word, so that every header s3d sends is
 * ASCII. Header bytes reach s3d as ISO-8859-1 text (one character a byte), which is also how S3
 * reads them: a value sent as raw UTF-8 bytes comes back as the UTF-8 of those characters, as S3
 * answers it.
 */

const encodedWord = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;
/** Whitespace between two encoded words is not part of the text (RFC 2047 §6.2). */
const betweenWords = /(=\?[^?\s]+\?[BbQq]\?[^?\s]*\?=)\s+(?==\?[^?\s]+\?[BbQq]\?[^?\s]*\?=)/g;
const printableAscii = /^[\x20-\x7e\t]*$/;

/** `value` with its encoded words decoded; a word in an unknown charset, or malformed, stays as it was. */
export function decodeEncodedWords(value: string): string {
  if (!value.includes("=?")) return value;
  return value.replace(betweenWords, "$1").replace(encodedWord, (word, charset: string, encoding: string, text: string) => {
    const bytes = encoding.toUpperCase() === "B" ? base64Bytes(text) : qBytes(text);
    return bytes === undefined ? word : (decodeCharset(charset, bytes) ?? word);
  });
}

/**
 * `value` as a header can carry it: as it is when printable ASCII, else one UTF-8 B word (also
 * when it begins or ends with whitespace, which HTTP would trim away).
 */
export function encodeForHeader(value: string): string {
  if (printableAscii.test(value) && value.trim() === value) return value;
  return `=?UTF-8?B?${Buffer.from(value, "utf8").toString("base64")}?=`;
}

function base64Bytes(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  return Buffer.from(text, "base64");
}

/** The Q encoding: "_" is a space, "=XX" a byte, anything else itself. */
function qBytes(text: string): Uint8Array | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "_") bytes.push(0x20);
    else if (c !== "=") bytes.push(c.charCodeAt(0));
    else {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    }
  }
  return Uint8Array.from(bytes);
}

function decodeCharset(charset: string, bytes: Uint8Array): string | undefined {
  // RFC 2231 lets a language follow the charset: "UTF-8*en"
  const name = charset.split("*")[0].toLowerCase();
  if (name === "utf-8" || name === "utf8") {
    try {
      // (a leading U+FEFF is text here, not a byte-order mark)
      return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch {
      return undefined;
    }
  }
  if (name === "iso-8859-1" || name === "latin1" || name === "us-ascii") return Buffer.from(bytes).toString("latin1");
  return undefined;
}
