import { MemoryNetwork } from "../../src/raft/transport.ts";
import { transportContract } from "./transport.contract.ts";

let net = new MemoryNetwork();
transportContract("memory", {
  make: (n) => {
    net = new MemoryNetwork();
    return Array.from({ length: n }, (_, i) => net.transport(i + 1));
  },
  cut: (a, b) => net.disconnect(a, b),
});
