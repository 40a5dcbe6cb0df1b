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

let wireNet = new MemoryNetwork({ serialize: true });
transportContract("memory, serialized through the codec", {
  make: (n) => {
    wireNet = new MemoryNetwork({ serialize: true });
    return Array.from({ length: n }, (_, i) => wireNet.transport(i + 1));
  },
  cut: (a, b) => wireNet.disconnect(a, b),
});
