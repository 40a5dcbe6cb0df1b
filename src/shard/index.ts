/** The shard store library's public face: what a cluster node and the CLI import. */
export { FragmentIntegrityError } from "./fragment-crypto.ts";
export { fragmentBodyBytes, fragmentBytes } from "./fragment-layout.ts";
export { KeyFileError, keyFileEnv, keyFingerprint, keygen, type LoadedKey, loadMasterKey, readMasterKeyFile } from "./keys.ts";
export { MemoryShardStore } from "./memory-store.ts";
export type { ByteRange } from "./shard-read.ts";
export type { ShardStorage } from "./shard-storage.ts";
export { type ShardBody, ShardBodyLengthError } from "./shard-write.ts";
export { InsufficientStorageError, segmentBytesMaxDefault, ShardStore, type ShardStoreOptions, type ShardStoreStats } from "./store.ts";
