/**
 * Scratch data dirs and backends for fs store tests: each dir made now is removed, and each
 * backend kept is closed, after every test of the file that calls `scratch`.
 */
import { afterEach } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FsBackend } from "../../src/store/fs/backend.ts";

export function scratch(prefix: string) {
  const dirs: string[] = [];
  const open: FsBackend[] = [];
  afterEach(async () => {
    for (const b of open.splice(0)) await b.close().catch(() => {});
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return {
    tempDir(): string {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
    /** Closes `backend` after the test (or at `closeAll`); returns it. */
    kept(backend: FsBackend): FsBackend {
      open.push(backend);
      return backend;
    },
    /** Closes every backend kept so far, now (a failure to close fails the test). */
    async closeAll(): Promise<void> {
      for (const b of open.splice(0)) await b.close();
    },
  };
}

/** Every file under `dir`, at any depth. */
export function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}
