// The bucket backend: any S3-compatible store (AWS S3, MinIO, GCS's interoperability API,
// moto in the tests). Conditional writes are the store's own (`If-None-Match: *`, `If-Match`);
// the client takes the AWS SDK's standard environment (AWS_ENDPOINT_URL[_S3], AWS_REGION,
// credentials). Readers that need a path get a per-host copy keyed by the object's ETag.
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { wholeNumberSetting } from '../core/env.js';
import { StoreRequestError, WriteConflictError } from '../core/errors.js';
import { checkKey, type ObjectInfo, type ObjectStore, type StoredObject, type WriteCondition } from './object-store.js';

export interface S3Location {
  readonly bucket: string;
  /** Key prefix inside the bucket, without leading or trailing '/'; may be empty. */
  readonly prefix: string;
}

/** The SDK client for the environment: path-style addressing when an endpoint is given (MinIO, moto, GCS). */
export function s3Client(env: NodeJS.ProcessEnv = process.env): S3Client {
  const endpoint = env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  const keyId = env.AWS_ACCESS_KEY_ID;
  const secret = env.AWS_SECRET_ACCESS_KEY;
  return new S3Client({
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    ...(endpoint ? { endpoint } : {}),
    // Keys in the environment given; otherwise the SDK's default chain (profiles, SSO, instance roles).
    ...(keyId && secret ? { credentials: { accessKeyId: keyId, secretAccessKey: secret, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) } } : {}),
    forcePathStyle: env.MLOPS_S3_PATH_STYLE ? env.MLOPS_S3_PATH_STYLE !== 'false' : endpoint !== undefined,
    // Checksums only where S3 requires them: S3-compatible stores differ in the newer ones.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
    // A store that does not answer is a failure to retry, not a wait: MLOPS_S3_TIMEOUT_MS bounds each request.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: wholeNumberSetting(env, 'MLOPS_S3_TIMEOUT_MS', 30_000, 100, 600_000) },
  });
}

const statusOf = (err: unknown): number | null => (err instanceof S3ServiceException ? (err.$metadata.httpStatusCode ?? null) : null);

export class S3Store implements ObjectStore {
  readonly location: string;

  constructor(
    private readonly client: S3Client,
    private readonly where: S3Location,
    /** Folder for the per-host copies that `localFile` hands out. */
    private readonly cacheDir: string,
  ) {
    this.location = `s3://${where.bucket}${where.prefix ? `/${where.prefix}` : ''}`;
  }

  /** A store for the keys under `sub` of this one. */
  scoped(sub: string): S3Store {
    return new S3Store(this.client, { ...this.where, prefix: this.objectKey(sub) }, path.join(this.cacheDir, ...checkKey(sub).split('/')));
  }

  private objectKey(key: string): string {
    return this.where.prefix ? `${this.where.prefix}/${checkKey(key)}` : checkKey(key);
  }

  private keyOf(objectKey: string): string {
    return this.where.prefix ? objectKey.slice(this.where.prefix.length + 1) : objectKey;
  }

  /** A failure as the product's error: a lost condition, a missing object (undefined), or a store request error. */
  private failure(operation: string, key: string, err: unknown, condition?: WriteCondition): Error | undefined {
    const status = statusOf(err);
    // A missing object is an answer; a missing bucket is a setting to fix.
    if (status === 404 && !(err instanceof Error && err.name === 'NoSuchBucket')) return undefined;
    if (condition && (status === 412 || status === 409)) {
      return new WriteConflictError(this.location, key, 'ifNoneMatch' in condition ? 'create' : 'replace');
    }
    const name = err instanceof Error ? err.name : 'Error';
    const message = err instanceof Error ? err.message : String(err);
    return new StoreRequestError(this.location, operation, key, status, `${name}${message && message !== name ? `: ${message}` : ''}`);
  }

  private async send<T>(operation: string, key: string, request: () => Promise<T>, condition?: WriteCondition): Promise<T | undefined> {
    try {
      return await request();
    } catch (err) {
      const failure = this.failure(operation, key, err, condition);
      if (failure) throw failure;
      return undefined;
    }
  }

  async get(key: string): Promise<StoredObject | undefined> {
    return this.send('get', key, async () => {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.where.bucket, Key: this.objectKey(key) }));
      const body = await out.Body!.transformToByteArray();
      return { key, etag: out.ETag!, size: body.length, body };
    });
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    return this.send('head', key, async () => {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.where.bucket, Key: this.objectKey(key) }));
      return { key, etag: out.ETag!, size: out.ContentLength ?? 0 };
    });
  }

  async put(key: string, body: Uint8Array | string, condition?: WriteCondition): Promise<ObjectInfo> {
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
    return this.putBody(key, bytes, bytes.length, condition);
  }

  async putFile(key: string, file: string, condition?: WriteCondition): Promise<ObjectInfo> {
    const size = (await stat(file)).size;
    return this.putBody(key, createReadStream(file), size, condition);
  }

  private async putBody(key: string, body: Uint8Array | Readable, size: number, condition?: WriteCondition): Promise<ObjectInfo> {
    const out = await this.send(
      'put',
      key,
      () =>
        this.client.send(
          new PutObjectCommand({
            Bucket: this.where.bucket,
            Key: this.objectKey(key),
            Body: body,
            ContentLength: size,
            ...(condition && 'ifNoneMatch' in condition ? { IfNoneMatch: '*' } : {}),
            ...(condition && 'ifMatch' in condition ? { IfMatch: condition.ifMatch } : {}),
          }),
        ),
      condition,
    );
    // If-Match on a key with no object: S3 answers 404, which for a replace is a lost condition.
    if (!out && condition && 'ifMatch' in condition) throw new WriteConflictError(this.location, key, 'replace');
    if (!out) throw new StoreRequestError(this.location, 'put', key, 404, 'not found');
    return { key, etag: out.ETag!, size };
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const page = await this.send('list', prefix, () =>
        this.client.send(
          new ListObjectsV2Command({ Bucket: this.where.bucket, Prefix: this.where.prefix ? `${this.where.prefix}/${prefix}` : prefix, ContinuationToken: token }),
        ),
      );
      if (!page) break;
      for (const o of page.Contents ?? []) out.push({ key: this.keyOf(o.Key!), etag: o.ETag!, size: o.Size ?? 0 });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async children(prefix: string): Promise<string[]> {
    const full = this.where.prefix ? `${this.where.prefix}/${prefix}` : prefix;
    const names = new Set<string>();
    let token: string | undefined;
    do {
      const page = await this.send('list', prefix, () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.where.bucket, Prefix: full, Delimiter: '/', ContinuationToken: token })),
      );
      if (!page) break;
      for (const p of page.CommonPrefixes ?? []) names.add(p.Prefix!.slice(full.length, -1));
      for (const o of page.Contents ?? []) names.add(o.Key!.slice(full.length));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return [...names].filter((n) => n).sort();
  }

  async delete(key: string): Promise<void> {
    await this.deleteKeys([key]);
  }

  async deletePrefix(prefix: string): Promise<void> {
    await this.deleteKeys((await this.list(prefix)).map((o) => o.key));
  }

  private async deleteKeys(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      await this.send('delete', batch[0]!, () =>
        this.client.send(
          new DeleteObjectsCommand({ Bucket: this.where.bucket, Delete: { Objects: batch.map((k) => ({ Key: this.objectKey(k) })), Quiet: true } }),
        ),
      );
    }
  }

  async localFile(key: string): Promise<string | undefined> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const info = await this.head(key);
      if (!info) return undefined;
      const target = path.join(this.cacheDir, ...key.split('/'));
      const copy = `${target}@${createHash('sha256').update(info.etag).digest('hex').slice(0, 16)}`;
      if (await stat(copy).then(() => true, () => false)) return copy;
      await mkdir(path.dirname(copy), { recursive: true });
      const temp = path.join(path.dirname(copy), `.${path.basename(copy)}.${randomUUID()}.tmp`);
      try {
        // If-Match: the bytes are those of the ETag the copy is named by, or the object changed and we look again.
        const out = await this.send(
          'get',
          key,
          () => this.client.send(new GetObjectCommand({ Bucket: this.where.bucket, Key: this.objectKey(key), IfMatch: info.etag })),
          { ifMatch: info.etag },
        );
        if (!out) return undefined;
        await pipeline(out.Body as Readable, createWriteStream(temp));
        await rename(temp, copy);
      } catch (err) {
        if (err instanceof WriteConflictError) continue;
        throw err;
      } finally {
        await rm(temp, { force: true });
      }
      // Copies of older contents of the key are not needed any more (open readers keep theirs).
      const stale = (await readdir(path.dirname(copy))).filter((f) => f.startsWith(`${path.basename(target)}@`) && f !== path.basename(copy));
      await Promise.all(stale.map((f) => rm(path.join(path.dirname(copy), f), { force: true })));
      return copy;
    }
    throw new StoreRequestError(this.location, 'get', key, null, 'the object kept changing while it was copied');
  }
}
