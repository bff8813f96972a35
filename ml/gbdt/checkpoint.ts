// A checkpoint as bytes: a JSON header (parameters, bin mappers, trees, early-stopping
// state) followed by the exact float64 scores, so resuming continues bit for bit.
import type { GbdtCheckpoint } from './train.js';

const MAGIC = 'GBDTCKP1';

export function encodeCheckpoint(cp: GbdtCheckpoint): Uint8Array {
  const { trainScores, validScores, ...header } = cp;
  const json = new TextEncoder().encode(JSON.stringify(header));
  // Header, padded so the float64 arrays that follow start 8-byte aligned.
  const headerBytes = 8 + 4 + json.length;
  const pad = (8 - (headerBytes % 8)) % 8;
  const out = new Uint8Array(headerBytes + pad + (trainScores.length + validScores.length) * 8);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(8, json.length, true);
  out.set(json, 12);
  const scores = new Float64Array(out.buffer, headerBytes + pad, trainScores.length + validScores.length);
  scores.set(trainScores, 0);
  scores.set(validScores, trainScores.length);
  return out;
}

export function decodeCheckpoint(bytes: Uint8Array): GbdtCheckpoint {
  const copy = Uint8Array.from(bytes); // own, aligned buffer
  if (new TextDecoder().decode(copy.subarray(0, 8)) !== MAGIC) throw new Error('not a GBDT checkpoint');
  const length = new DataView(copy.buffer).getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(copy.subarray(12, 12 + length))) as Omit<GbdtCheckpoint, 'trainScores' | 'validScores'>;
  const headerBytes = 12 + length;
  const start = headerBytes + ((8 - (headerBytes % 8)) % 8);
  const trainLength = header.rows * header.initScores.length;
  const validLength = header.validRows * header.initScores.length;
  if (copy.length !== start + (trainLength + validLength) * 8) throw new Error('checkpoint is truncated');
  const scores = new Float64Array(copy.buffer, start, trainLength + validLength);
  return { ...header, trainScores: scores.slice(0, trainLength), validScores: scores.slice(trainLength) };
}
