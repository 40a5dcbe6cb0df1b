/** minio-js 8 (signed SHA-256 payloads; multipart for streams of unknown length above its part size). */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import type * as Minio from "minio";
import { accessKey, region, secretKey, startS3d, type TestServer } from "../support/server.ts";
import { requireModule } from "./helpers.ts";

const bucket = "minio-js-bucket";

let server: TestServer;
let mc: Minio.Client;
let minio: typeof Minio;

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

function listV2(prefix: string, recursive: boolean): Promise<Minio.BucketItem[]> {
  return new Promise((done, fail) => {
    const items: Minio.BucketItem[] = [];
    const stream = mc.listObjectsV2(bucket, prefix, recursive);
    stream.on("data", (item) => items.push(item));
    stream.on("error", fail);
    stream.on("end", () => done(items));
  });
}

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

beforeAll(async () => {
  minio = await requireModule<typeof Minio>("minio");
  server = await startS3d();
  // 5 MiB parts (the minimum; the default is 64 MiB) so that a 7 MiB stream goes multipart
  mc = new minio.Client({ endPoint: "127.0.0.1", port: server.port, useSSL: false, accessKey, secretKey, pathStyle: true, region, partSize: 5 * 1024 * 1024 });
});

afterAll(async () => {
  await server?.stop();
});

describe("minio-js", () => {
  test("makeBucket, bucketExists, listBuckets", async () => {
    await mc.makeBucket(bucket, region);
    expect(await mc.bucketExists(bucket)).toBe(true);
    expect(await mc.bucketExists("minio-js-absent")).toBe(false);
    expect((await mc.listBuckets()).map((b) => b.name)).toContain(bucket);
  });

  test("putObject of a buffer, getObject, statObject with metadata", async () => {
    const body = randomBytes(300_000);
    const put = await mc.putObject(bucket, "buf/one.bin", body, body.length, { "Content-Type": "application/x-minio", "X-Amz-Meta-Origin": "minio-js" });
    const md5 = createHash("md5").update(body).digest("hex");
    expect(put.etag).toBe(md5);

    const got = await readAll(await mc.getObject(bucket, "buf/one.bin"));
    expect(sha256(got)).toBe(sha256(body));

    const stat = await mc.statObject(bucket, "buf/one.bin");
    expect(stat.size).toBe(body.length);
    expect(stat.etag).toBe(md5);
    expect(stat.metaData["content-type"]).toBe("application/x-minio");
    expect(stat.metaData["origin"]).toBe("minio-js");
    expect(stat.lastModified).toBeInstanceOf(Date);

    const part = await readAll(await mc.getPartialObject(bucket, "buf/one.bin", 1000, 24));
    expect(part.equals(body.subarray(1000, 1024))).toBe(true);
  });

  test(
    "putObject of a 7 MiB stream (multipart, 5 MiB parts), getObject compare",
    async () => {
      const size = 7 * 1024 * 1024;
      const data = randomBytes(size);
      // a stream of unknown length made of 64 KiB chunks
      const chunks = Array.from({ length: size / 65536 }, (_, i) => data.subarray(i * 65536, (i + 1) * 65536));
      const put = await mc.putObject(bucket, "stream/seven.bin", Readable.from(chunks));
      // 5 MiB + 2 MiB parts
      const partMd5 = (b: Uint8Array) => createHash("md5").update(b).digest();
      const mpuEtag = `${createHash("md5").update(partMd5(data.subarray(0, 5 << 20))).update(partMd5(data.subarray(5 << 20))).digest("hex")}-2`;
      expect(put.etag).toBe(mpuEtag);

      const stat = await mc.statObject(bucket, "stream/seven.bin");
      expect(stat.size).toBe(size);
      expect(stat.etag).toBe(mpuEtag);
      const got = await readAll(await mc.getObject(bucket, "stream/seven.bin"));
      expect(got.length).toBe(size);
      expect(sha256(got)).toBe(sha256(data));

      // the same with the length given
      const put2 = await mc.putObject(bucket, "stream/seven-sized.bin", Readable.from(chunks), size);
      expect(put2.etag).toBe(mpuEtag);
      expect(sha256(await readAll(await mc.getObject(bucket, "stream/seven-sized.bin")))).toBe(sha256(data));
    },
    60_000,
  );

  test("listObjectsV2 stream, recursive and by prefix", async () => {
    for (const key of ["list/a.txt", "list/b/c.txt", "list/b/d.txt", "list/e f+g.txt"]) {
      await mc.putObject(bucket, key, Buffer.from(key));
    }
    const all = await listV2("", true);
    expect(all.map((o) => o.name)).toEqual([
      "buf/one.bin",
      "list/a.txt",
      "list/b/c.txt",
      "list/b/d.txt",
      "list/e f+g.txt",
      "stream/seven-sized.bin",
      "stream/seven.bin",
    ]);
    expect(all.find((o) => o.name === "buf/one.bin")?.size).toBe(300_000);

    const shallow = await listV2("list/", false);
    expect(shallow.filter((o) => o.name).map((o) => o.name)).toEqual(["list/a.txt", "list/e f+g.txt"]);
    expect(shallow.filter((o) => o.prefix).map((o) => o.prefix)).toEqual(["list/b/"]);
  });

  test("removeObject, removeObjects, removeBucket", async () => {
    await mc.removeObject(bucket, "buf/one.bin");
    await expect(mc.statObject(bucket, "buf/one.bin")).rejects.toMatchObject({ code: "NotFound" });
    await expect(mc.getObject(bucket, "buf/one.bin")).rejects.toMatchObject({ code: "NoSuchKey" });

    await expect(mc.removeBucket(bucket)).rejects.toMatchObject({ code: "BucketNotEmpty" });

    const rest = (await listV2("", true)).map((o) => o.name!);
    expect(rest.length).toBe(6);
    const res = await mc.removeObjects(bucket, rest);
    // one array of per-object <Error> entries for each DeleteObjects batch
    expect(res.flat()).toEqual([]);
    expect(await listV2("", true)).toEqual([]);

    await mc.removeBucket(bucket);
    expect(await mc.bucketExists(bucket)).toBe(false);
  });
});
