/** A QUIC conformance peer in its own process: bun test/net/quic-peer.ts CERTDIR ID PORT PEERS_JSON */
import { readFileSync } from "node:fs";
import { credentialPaths } from "../../src/net/certs.ts";
import { QuicTransport } from "../../src/net/quic-transport.ts";
import { testService } from "./service.ts";

const [dir, id, port, peersJson] = process.argv.slice(2);
const paths = credentialPaths(dir!, id!);
const t = await QuicTransport.start({
  self: id!,
  peers: new Map(Object.entries(JSON.parse(peersJson!))),
  secret: readFileSync(paths.secretPath, "utf8"),
  tls: { cert: readFileSync(paths.certPath), key: readFileSync(paths.keyPath) },
  handlers: testService(),
  listen: { host: "127.0.0.1", port: Number(port) },
  bodyIdleTimeoutMs: 500,
});
console.log(`ready ${t.address!.port}`);
