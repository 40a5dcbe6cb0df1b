import { describe, expect, test } from "bun:test";
import { BodyFramer } from "../../src/net/framing.ts";
import {
  BodySealer, macEqual, ReplayGuard, SealedBodyVerifier, secretKey, signReply, signRequest,
} from "../../src/net/quic-auth.ts";

const key = secretKey("00112233445566778899aabbccddeeff");
const other = secretKey("ffeeddccbbaa99887766554433221100");

function sealed(body: Uint8Array, k = key, nonce = "n", dir: "req" | "res" = "res"): Uint8Array {
  const f = new BodyFramer(), s = new BodySealer(k, nonce, dir);
  f.push(body);
  s.push(body);
  return Buffer.concat([body, f.trailer(), s.seal()]);
}

function verify(wire: Uint8Array, chunk: number, k = key, nonce = "n", dir: "req" | "res" = "res") {
  const v = new SealedBodyVerifier(k, nonce, dir);
  const out: Uint8Array[] = [];
  for (let i = 0; i < wire.length; i += chunk) out.push(...v.push(wire.subarray(i, i + chunk)));
  return { body: Buffer.concat(out), why: v.end() };
}

describe("quic-auth", () => {
  test("secrets: hex decoded, too short refused", () => {
    expect(secretKey("00112233445566778899aabbccddeeff\n").length).toBe(16);
    expect(() => secretKey("short")).toThrow();
  });

  test("request and reply signatures bind every field", () => {
    const head = { from: "a", to: "b", path: "/p", timeMs: 1, nonce: "x", deadlineMs: 5, header: "{}", hasBody: true };
    const sig = signRequest(key, head);
    expect(macEqual(sig, signRequest(key, { ...head }))).toBe(true);
    for (const change of [{ to: "c" }, { timeMs: 2 }, { nonce: "y" }, { header: "{ }" }, { hasBody: false }, { deadlineMs: 6 }]) {
      expect(macEqual(sig, signRequest(key, { ...head, ...change }))).toBe(false);
    }
    expect(macEqual(sig, signRequest(other, head))).toBe(false);
    const reply = { nonce: "x", from: "b", status: 200, header: "{}", hasBody: false, errorCode: "", error: "" };
    expect(macEqual(signReply(key, reply), signReply(key, { ...reply, nonce: "y" }))).toBe(false);
    expect(macEqual(undefined, sig)).toBe(false);
  });

  test("sealed bodies: whole ones pass in any chunking; cut, foreign or misdirected ones fail", () => {
    const body = new Uint8Array(100_000).map((_, i) => i * 7);
    for (const chunk of [1, 17, 48, 4096, 200_000]) {
      const r = verify(sealed(body), chunk);
      expect(r.why).toBeUndefined();
      expect(r.body).toEqual(Buffer.from(body));
    }
    const wire = sealed(body);
    expect(verify(wire.subarray(0, wire.length - 1), 4096).why).toContain("truncated");
    expect(verify(wire.subarray(0, 50_000), 4096).why).toBeDefined();
    expect(verify(sealed(body, other), 4096).why).toContain("MAC");
    expect(verify(wire, 4096, key, "other-nonce").why).toContain("MAC");
    expect(verify(wire, 4096, key, "n", "req").why).toContain("MAC");
    expect(verify(sealed(new Uint8Array(0)), 5).why).toBeUndefined();
  });

  test("replay guard: refuses repeats and stale times, forgets what left the window, is bounded", () => {
    const g = new ReplayGuard(1000, 3);
    expect(g.check("a", 10_000, 10_000)).toBe("ok");
    expect(g.check("a", 10_000, 10_001)).toBe("replay");
    expect(g.check("b", 8_000, 10_000)).toBe("stale");
    expect(g.check("c", 12_000, 10_000)).toBe("stale");
    expect(g.check("d", 10_100, 10_100)).toBe("ok");
    expect(g.check("e", 10_200, 10_200)).toBe("ok");
    expect(g.check("f", 10_300, 10_300)).toBe("full");
    expect(g.check("g", 11_050, 11_050)).toBe("ok"); // "a" has left the window
    expect(g.size).toBe(3);
  });
});
