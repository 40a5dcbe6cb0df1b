import { expect, test } from "bun:test";
import { packHead, unpackHead } from "../../src/net/h2-wire.ts";

test("HTTP/2 call heads pack into one header and back", () => {
  const json = JSON.stringify({ s: "a b  c", n: 1 });
  expect(unpackHead(packHead(250, true, json), true)).toEqual({ deadlineMs: 250, hasBody: true, header: json });
  expect(unpackHead(packHead(undefined, false, json), false)).toEqual({ deadlineMs: 0, hasBody: false, header: json });
  expect(unpackHead(packHead(1, false, ""), true)).toEqual({ deadlineMs: 1, hasBody: false, header: "" });
  for (const bad of [undefined, "", "12", "12 x {}", "2{}", ["0 {}"]]) expect(unpackHead(bad, true)).toBeUndefined();
  expect(unpackHead("0 {}", false)?.hasBody).toBe(false);
});
