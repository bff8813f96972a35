// The hot loops of training, split across threads: gradients, histograms, partitioning a
// leaf's rows, and adding leaf values to scores. Each operation cuts its rows into one
// contiguous share per thread; the calling thread takes the first share and waits for the
// others. Shares are fixed by the row range and thread count, so results are the same from
// run to run.
//
// Threads share all the data through SharedArrayBuffers and are driven through a small
// control block per helper with Atomics: no messages and no copies while training.
import { parentPort, type Worker } from 'node:worker_threads';
import { siblingModule, startThread } from '../threads.js';
import { createObjective, type ObjectiveFunction } from './objectives.js';
import type { Objective } from './params.js';

/** Everything the threads read or write, in shared memory. */
export interface SharedData {
  readonly rows: number;
  readonly numFeatures: number;
  /** Row-major bins: bins[row * numFeatures + feature] (histograms read whole rows). */
  readonly bins: Uint8Array;
  /** Column-major bins: columns[feature * rows + row] (partitioning reads one feature). */
  readonly columns: Uint8Array;
  /** Bin offset of each feature in a histogram; the last entry is the total bin count. */
  readonly offsets: Int32Array;
  readonly labels: Float32Array;
  /** Scores: one block of `rows` per output. */
  readonly scores: Float64Array;
  /** Gradient and hessian of each row, interleaved, one block of 2 * rows per output. */
  readonly gradients: Float32Array;
  readonly rowIndex: Int32Array;
  readonly scratch: Int32Array;
  /** Partition: 1 for the bins of the split feature that go left. */
  readonly goesLeft: Uint8Array;
  /** Score update: [start, count] of each leaf's rows in rowIndex, and the leaf values. */
  readonly leafRanges: Int32Array;
  readonly leafValues: Float64Array;
  readonly objective: { readonly name: Objective; readonly numClass: number; readonly huberAlpha: number };
}

export function sharedArray<T extends Float32Array | Float64Array | Int32Array | Uint8Array>(
  Ctor: { new (b: SharedArrayBuffer): T; readonly BYTES_PER_ELEMENT: number },
  length: number,
): T {
  return new Ctor(new SharedArrayBuffer(Math.max(1, length) * Ctor.BYTES_PER_ELEMENT));
}

const Op = { Histogram: 1, Partition: 2, Gradients: 3, UpdateScores: 4, Stop: 5 } as const;
type Op = (typeof Op)[keyof typeof Op];

// Control block of one helper.
const SEQ = 0;
const DONE = 1;
const OP = 2;
const START = 3;
const END = 4;
const ARG1 = 5;
const ARG2 = 6;
const RESULT = 7;
const CONTROL_INTS = 8;
/** DONE's value when the helper threw: the caller must not wait for it again. */
const FAILED = 2;

/** Below this many rows an operation runs on the calling thread alone. */
const PARALLEL_MIN_ROWS = 16_384;

/** Add rows [start, end) of rowIndex (or the row numbers, when contiguous) to a [g, h] histogram. */
export function accumulate(hist: Float64Array, d: SharedData, output: number, start: number, end: number, contiguous: boolean): void {
  const F = d.numFeatures;
  const bins = d.bins;
  const rowIndex = d.rowIndex;
  const base = output * d.rows;
  const gh = d.gradients;
  const off = new Int32Array(F);
  for (let f = 0; f < F; f++) off[f] = d.offsets[f]! * 2;
  for (let k = start; k < end; k++) {
    const r = contiguous ? k : rowIndex[k]!;
    const gr = gh[2 * (base + r)]!;
    const hr = gh[2 * (base + r) + 1]!;
    const b = r * F;
    for (let f = 0; f < F; f++) {
      const i = off[f]! + bins[b + f]! * 2;
      hist[i]! += gr;
      hist[i + 1]! += hr;
    }
  }
}

/** Stable partition of rowIndex [start, end): left rows stay there in order, right rows go to scratch at the same offset. */
function partitionShare(d: SharedData, feature: number, start: number, end: number): number {
  const column = d.columns.subarray(feature * d.rows, (feature + 1) * d.rows);
  const goesLeft = d.goesLeft;
  const rowIndex = d.rowIndex;
  const scratch = d.scratch;
  let l = start;
  let r = start;
  for (let k = start; k < end; k++) {
    const row = rowIndex[k]!;
    // Branch-free: the side is data, and mispredicted branches cost more than two stores.
    const side = goesLeft[column[row]!]!;
    rowIndex[l] = row;
    scratch[r] = row;
    l += side;
    r += 1 - side;
  }
  return l - start;
}

function updateShare(d: SharedData, output: number, numLeaves: number, start: number, end: number): void {
  const scores = d.scores;
  const base = output * d.rows;
  const rowIndex = d.rowIndex;
  for (let l = 0; l < numLeaves; l++) {
    const v = d.leafValues[l]!;
    const from = Math.max(start, d.leafRanges[2 * l]!);
    const to = Math.min(end, d.leafRanges[2 * l]! + d.leafRanges[2 * l + 1]!);
    if (v === 0) continue;
    for (let k = from; k < to; k++) scores[base + rowIndex[k]!]! += v;
  }
}

export interface HelperData {
  readonly data: SharedData;
  readonly control: Int32Array;
  readonly hist: Float64Array;
}

export class ThreadPool {
  private readonly helpers: { worker: Worker; control: Int32Array; hist: Float64Array }[] = [];
  private readonly objective: ObjectiveFunction;
  /** Length of a histogram: two doubles per bin. */
  readonly histogramSize: number;

  private constructor(readonly data: SharedData) {
    this.histogramSize = data.offsets[data.numFeatures]! * 2;
    this.objective = createObjective(data.objective.name, data.objective.numClass, data.objective.huberAlpha);
  }

  /**
   * Start `threads - 1` helpers and wait until each is serving. Waiting matters: the pool
   * blocks in Atomics.wait, and a thread still starting (loading its module) may need the
   * event loop of the thread that created it.
   */
  static async create(data: SharedData, threads: number): Promise<ThreadPool> {
    const pool = new ThreadPool(data);
    try {
      for (let t = 1; t < threads; t++) {
        const control = sharedArray(Int32Array, CONTROL_INTS);
        const hist = sharedArray(Float64Array, pool.histogramSize);
        const worker = startThread(helperModule, { data, control, hist } satisfies HelperData);
        pool.helpers.push({ worker, control, hist });
        await new Promise<void>((resolve, reject) => {
          worker.once('message', () => resolve());
          worker.once('error', reject);
          worker.once('exit', (code) => reject(new Error(`training helper thread exited with code ${code} before it started`)));
        });
        worker.removeAllListeners('exit').removeAllListeners('error');
        worker.unref();
      }
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  /** Cut [start, end) into shares; run share 0 here and the rest on helpers; wait for all. */
  private run(op: Op, start: number, end: number, arg1: number, arg2: number, local: (s: number, e: number) => void): number[] {
    const n = end - start;
    const parts = n < PARALLEL_MIN_ROWS ? 1 : this.helpers.length + 1;
    const step = Math.ceil(n / parts);
    for (let t = 1; t < parts; t++) {
      const { control } = this.helpers[t - 1]!;
      control[OP] = op;
      control[START] = Math.min(end, start + t * step);
      control[END] = Math.min(end, start + (t + 1) * step);
      control[ARG1] = arg1;
      control[ARG2] = arg2;
      Atomics.store(control, DONE, 0);
      Atomics.add(control, SEQ, 1);
      Atomics.notify(control, SEQ);
    }
    local(start, Math.min(end, start + step));
    const bounds = [start];
    for (let t = 1; t < parts; t++) {
      const { control } = this.helpers[t - 1]!;
      while (Atomics.load(control, DONE) === 0) Atomics.wait(control, DONE, 0, 1000);
      if (control[DONE] === FAILED) throw new Error('a training helper thread failed (its error is printed above)');
      bounds.push(control[START]!);
    }
    return bounds;
  }

  gradients(): void {
    const d = this.data;
    this.run(Op.Gradients, 0, d.rows, 0, 0, (s, e) => this.objective.gradients(d.labels, d.scores, d.gradients, s, e));
  }

  /** The histogram of rowIndex [start, end) (or rows [start, end) when contiguous) into `hist`. */
  histogram(hist: Float64Array, output: number, start: number, end: number, contiguous: boolean): void {
    hist.fill(0);
    const shares = this.run(Op.Histogram, start, end, output, contiguous ? 1 : 0, (s, e) => accumulate(hist, this.data, output, s, e, contiguous));
    for (let t = 1; t < shares.length; t++) {
      const other = this.helpers[t - 1]!.hist;
      for (let i = 0; i < this.histogramSize; i++) hist[i]! += other[i]!;
    }
  }

  /**
   * Partition rowIndex [start, end) by `goesLeft` on `feature`, stably: left rows first, then
   * right rows, each in their original order. Returns the number of left rows.
   */
  partition(feature: number, start: number, end: number): number {
    const d = this.data;
    let localLeft = 0;
    const shares = this.run(Op.Partition, start, end, feature, 0, (s, e) => (localLeft = partitionShare(d, feature, s, e)));
    const lefts = [localLeft, ...this.helpers.slice(0, shares.length - 1).map((h) => h.control[RESULT]!)];
    const ends = [...shares.slice(1), end];
    // Gather: each share's left rows after the previous ones, then every share's right rows.
    // (Plain loops: copies between shared buffers through set/copyWithin are several times slower.)
    const rowIndex = d.rowIndex;
    const scratch = d.scratch;
    let l = start + lefts[0]!;
    for (let t = 1; t < shares.length; t++) {
      for (let k = shares[t]!, e = k + lefts[t]!; k < e; k++) rowIndex[l++] = rowIndex[k]!;
    }
    const left = l - start;
    for (let t = 0; t < shares.length; t++) {
      const rights = ends[t]! - shares[t]! - lefts[t]!;
      for (let k = shares[t]!, e = k + rights; k < e; k++) rowIndex[l++] = scratch[k]!;
    }
    return left;
  }

  /** Add each leaf's value (in data.leafValues / leafRanges) to the scores of its rows. */
  updateScores(output: number, numLeaves: number, rowsInBag: number): void {
    this.run(Op.UpdateScores, 0, rowsInBag, output, numLeaves, (s, e) => updateShare(this.data, output, numLeaves, s, e));
  }

  async close(): Promise<void> {
    for (const h of this.helpers) {
      h.control[OP] = Op.Stop;
      Atomics.add(h.control, SEQ, 1);
      Atomics.notify(h.control, SEQ);
    }
    await Promise.all(this.helpers.map((h) => h.worker.terminate()));
    this.helpers.length = 0;
  }
}

/** A helper thread's loop: wait for a job, do its share, signal done. */
export function serve({ data, control, hist }: HelperData): void {
  const objective = createObjective(data.objective.name, data.objective.numClass, data.objective.huberAlpha);
  parentPort?.postMessage('ready');
  let seen = 0;
  for (;;) {
    Atomics.wait(control, SEQ, seen);
    seen = Atomics.load(control, SEQ);
    const start = control[START]!;
    const end = control[END]!;
    try {
      switch (control[OP] as Op) {
        case Op.Stop:
          return;
        case Op.Histogram:
          hist.fill(0);
          accumulate(hist, data, control[ARG1]!, start, end, control[ARG2] === 1);
          break;
        case Op.Partition:
          control[RESULT] = partitionShare(data, control[ARG1]!, start, end);
          break;
        case Op.Gradients:
          objective.gradients(data.labels, data.scores, data.gradients, start, end);
          break;
        case Op.UpdateScores:
          updateShare(data, control[ARG1]!, control[ARG2]!, start, end);
          break;
      }
    } catch (err) {
      Atomics.store(control, DONE, FAILED);
      Atomics.notify(control, DONE);
      throw err;
    }
    Atomics.store(control, DONE, 1);
    Atomics.notify(control, DONE);
  }
}

const helperModule = siblingModule(import.meta.url, 'pool-thread');
