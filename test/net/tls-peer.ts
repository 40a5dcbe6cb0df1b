/** A conformance peer in its own process: bun test/net/tls-peer.ts CERTDIR ID PORT PEERS_JSON */
import { readFileSync } from "node:fs";
import { credentialPaths } from "../../src/net/certs.ts";
import { TlsTransport } from "../../src/net/tls-transport.ts";
import { testService } from "./service.ts";

const [dir, id, port, peersJson] = process.argv.slice(2);
const paths = credentialPaths(dir!, id!);
const t = await TlsTransport.start({
  self: id!,
  peers: new Map(Object.entries(JSON.parse(peersJson!))),
  tls: { ca: readFileSync(paths.caCertPath), cert: readFileSync(paths.certPath), key: readFileSync(paths.keyPath) },
  handlers: testService(),
  listen: { host: "127.0.0.1", port: Number(port) },
  bodyIdleTimeoutMs: 500,
});
console.log(`ready ${t.address!.port}`);
