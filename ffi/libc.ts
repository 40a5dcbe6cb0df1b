/**
 * libc through bun:ffi: fallocate (real preallocation of segment files), fdatasync, and flock
 * (one process per store directory). When libc cannot be loaded (a non-Linux host), fallocate
 * falls back to ftruncate (sparse, not reserved), fdatasync to node:fs, and flock reports that
 * it could not lock.
 */
import { dlopen, FFIType, read } from "bun:ffi";
import { fdatasyncSync, fstatSync, ftruncateSync } from "node:fs";

const libcCandidates = ["libc.so.6", "libc.so"];

interface Libc {
  fallocate(fd: number, mode: number, offset: number, length: number): number;
  fdatasync(fd: number): number;
  flock(fd: number, operation: number): number;
  errno(): number;
}

function load(): Libc | null {
  if (process.platform !== "linux") return null;
  for (const name of libcCandidates) {
    try {
      const lib = dlopen(name, {
        fallocate: { args: [FFIType.i32, FFIType.i32, FFIType.i64, FFIType.i64], returns: FFIType.i32 },
        fdatasync: { args: [FFIType.i32], returns: FFIType.i32 },
        flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
        __errno_location: { args: [], returns: FFIType.ptr },
      });
      const s = lib.symbols;
      return {
        fallocate: (fd, mode, offset, length) => s.fallocate(fd, mode, offset, length) as number,
        fdatasync: (fd) => s.fdatasync(fd) as number,
        flock: (fd, operation) => s.flock(fd, operation) as number,
        errno: () => read.i32(s.__errno_location()!, 0),
      };
    } catch {
      // try the next name; no libc at all means the node:fs fallbacks
    }
  }
  return null;
}

const libc = load();

/** Which implementation is in use, for logs and benchmarks. */
export const libcBinding: "bun:ffi" | "node:fs fallback" = libc ? "bun:ffi" : "node:fs fallback";

export class LibcError extends Error {
  override name = "LibcError";
  constructor(
    readonly call: string,
    readonly errno: number,
  ) {
    super(`${call} failed: errno ${errno}${errnoNames[errno] ? ` (${errnoNames[errno]})` : ""}`);
  }
}

const errnoNames: Record<number, string> = {
  4: "EINTR", 5: "EIO", 9: "EBADF", 11: "EWOULDBLOCK", 22: "EINVAL", 27: "EFBIG", 28: "ENOSPC", 95: "EOPNOTSUPP",
};
const ewouldblock = 11;
const lockExclusive = 2;
const lockNonBlocking = 4;
const eintr = 4;
const eopnotsupp = 95;
/** No space left on the device: what fallocate throws (LibcError.errno) on a full disk. */
export const enospc = 28;

/**
 * Reserves [offsetBytes, offsetBytes + lengthBytes) of the file, growing its size (mode 0).
 * Returns true when the blocks were really allocated, false when only the size was extended
 * (filesystem without fallocate, or no libc). ENOSPC throws: the disk is full.
 */
export function fallocate(fd: number, offsetBytes: number, lengthBytes: number): boolean {
  if (libc) {
    for (;;) {
      if (libc.fallocate(fd, 0, offsetBytes, lengthBytes) === 0) return true;
      const errno = libc.errno();
      if (errno === eintr) continue;
      if (errno !== eopnotsupp) throw new LibcError(`fallocate(fd ${fd}, ${offsetBytes}, ${lengthBytes})`, errno);
      break;
    }
  }
  const end = offsetBytes + lengthBytes;
  if (fstatSync(fd).size < end) ftruncateSync(fd, end);
  return false;
}

/** Flushes the file's data (and the metadata needed to read it back) to stable storage. */
export function fdatasync(fd: number): void {
  if (!libc) {
    fdatasyncSync(fd);
    return;
  }
  for (;;) {
    if (libc.fdatasync(fd) === 0) return;
    const errno = libc.errno();
    if (errno !== eintr) throw new LibcError(`fdatasync(fd ${fd})`, errno);
  }
}

/**
 * Takes an exclusive advisory lock on the open file without waiting. Returns "locked", "busy"
 * (another process holds it), or "unsupported" (no libc). The kernel drops the lock when the
 * process dies, kill -9 included, so a crash never leaves a stale lock behind.
 */
export function tryLockExclusive(fd: number): "locked" | "busy" | "unsupported" {
  if (!libc) return "unsupported";
  for (;;) {
    if (libc.flock(fd, lockExclusive | lockNonBlocking) === 0) return "locked";
    const errno = libc.errno();
    if (errno === eintr) continue;
    if (errno === ewouldblock) return "busy";
    throw new LibcError(`flock(fd ${fd}, LOCK_EX|LOCK_NB)`, errno);
  }
}
