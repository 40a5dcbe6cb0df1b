import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateDevCerts } from "../../src/net/certs.ts";
import { createTransport, isTransportKind, transportKinds } from "../../src/net/factory.ts";
import type { PeerAddress } from "../../src/net/h2-transport.ts";
import { MemoryNetwork } from "../../src/net/memory.ts";
import { testService } from "./service.ts";

const dir = mkdtempSync(join(tmpdir(), "s3d-factory-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("each kind by name serves a call between two nodes", async () => {
  await generateDevCerts(dir, ["a", "b"]);
  expect(isTransportKind("quic")).toBe(true);
  expect(isTransportKind("tcp")).toBe(false);
  for (const kind of transportKinds) {
    const peers = new Map<string, PeerAddress>([["a", { host: "127.0.0.1", port: 1 }]]);
    const network = new MemoryNetwork();
    const b = await createTransport({ kind, self: "b", peers, credentialsDir: dir, handlers: testService(), listen: { host: "127.0.0.1", port: 0 }, network });
    const port = (b as { address?: PeerAddress }).address?.port;
    if (port) peers.set("b", { host: "127.0.0.1", port });
    const a = await createTransport({ kind, self: "a", peers, credentialsDir: dir, network });
    expect((await a.call("b", "whoami")).header).toEqual({ from: "a" });
    await a.close();
    await b.close();
  }
});
