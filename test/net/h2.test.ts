import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { H2Transport } from "../../src/net/h2-transport.ts";
import type { PeerAddress } from "../../src/net/transport.ts";
import { mtlsConformance, mtlsFixture } from "./mtls-fixture.ts";

const start = (o: Parameters<typeof H2Transport.start>[0]) => H2Transport.start(o);
const fx = await mtlsFixture("h2", start);
mtlsConformance("http2-mtls", fx, start);

describe("http2-mtls specifics", () => {
  const peers = new Map<string, PeerAddress>();
  let a: H2Transport, b: H2Transport;
  beforeAll(async () => { b = await fx.startNode("b", peers); a = await fx.startNode("a", peers); });
  afterAll(async () => { await a.close(); await b.close(); });

  test("one pooled connection carries many calls", async () => {
    await Promise.all(Array.from({ length: 50 }, () => a.call("b", "whoami")));
    expect((a as unknown as { pool: Map<string, unknown> }).pool.size).toBe(1);
  });
});
