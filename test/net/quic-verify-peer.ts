/**
 * Run with NODE_EXTRA_CA_CERTS=<cluster ca.crt>: a QUIC client with verifyServerCertificate calls
 * the node at PORT and prints the outcome ("ok" or the error code).
 *   bun test/net/quic-verify-peer.ts SECRET_FILE PORT
 */
import { readFileSync } from "node:fs";
import { QuicTransport } from "../../src/net/quic-transport.ts";
import { TransportError } from "../../src/net/transport.ts";

const [secretPath, port] = process.argv.slice(2);
const t = await QuicTransport.start({
  self: "a", peers: new Map([["b", { host: "127.0.0.1", port: Number(port) }]]),
  secret: readFileSync(secretPath!, "utf8"), verifyServerCertificate: true,
});
try {
  const r = await t.call("b", "whoami", {}, { deadlineMs: 3000 });
  console.log(`ok ${r.header.from}`);
} catch (e) {
  console.log(e instanceof TransportError ? e.code : String(e));
}
await t.close();
process.exit(0);
