/** A conformance peer in its own process: bun test/net/mtls-peer.ts h2|tls CERTDIR ID PORT PEERS_JSON */
import { credentialsOf, idleMs, type MtlsKind, mtlsTransports } from "./mtls-nodes.ts";
import { testService } from "./service.ts";

const [kind, dir, id, port, peersJson] = process.argv.slice(2);
const t = await mtlsTransports[kind as MtlsKind].start({
  self: id!,
  peers: new Map(Object.entries(JSON.parse(peersJson!))),
  tls: credentialsOf(dir!, id!),
  handlers: testService(),
  listen: { host: "127.0.0.1", port: Number(port) },
  bodyIdleTimeoutMs: idleMs,
});
console.log(`ready ${t.address!.port}`);
