// The hot loops of training, split across threads: gradients, histograms, splitting a leaf's
// rows (with one child's histogram), and adding leaf values to scores. Each operation cuts
// its rows into one contiguous share per thread; the calling thread takes the first share
// and waits for the others. Shares are fixed by the row range and thread count, so results
// are the same from run to run.
//
// Threads share all the data through SharedArrayBuffers and are driven through a small
// control block per helper with Atomics: no messages and no copies while training.
import { parentPort, type Worker } from 'node:worker_threads';
import { siblingModule, startThread } from '../threads.js';
import type { BinnedData } from './binning.js';
import { accumulate, gatherShare, partitionInPlace, splitShare, updateShare, type Child } from './kernels.js';
import { createObjective, type ObjectiveFunction } from './objectives.js';
import type { Objective } from './params.js';

/** Everything the threads read or write, in shared memory. */
export interface SharedData {
  readonly rows: number;
  readonly numFeatures: number;
  /** The binned rows: by column for partitioning, packed by row for histograms. */
  readonly bins: BinnedData;
  /** Bin offset of each feature in a histogram; the last entry is the total bin count. */
  readonly offsets: Int32Array;
  readonly labels: Float32Array;
  /** Scores: one block of `rows` per output. */
  readonly scores: Float64Array;
  /** Gradient and hessian of each row, interleaved, one block of 2 * rows per output. */
  readonly gradients: Float32Array;
  readonly rowIndex: Int32Array;
  /** Partitioning writes rows here, then gathers them back to rowIndex. */
  readonly scratch: Int32Array;
  /** Partition: 1 for the bins of the split feature that go left (as many as the widest feature has bins). */
  readonly goesLeft: Uint8Array;
  /** Score update: [start, count] of each leaf's rows in rowIndex, and the leaf values. */
  readonly leafRanges: Int32Array;
  readonly leafValues: Float64Array;
  readonly objective: { readonly name: Objective; readonly numClass: number; readonly huberAlpha: number };
}

export function sharedArray<T extends Float32Array | Float64Array | Int32Array | Uint8Array | Uint16Array>(
  Ctor: { new (b: SharedArrayBuffer): T; readonly BYTES_PER_ELEMENT: number },
  length: number,
): T {
  return new Ctor(new SharedArrayBuffer(Math.max(1, length) * Ctor.BYTES_PER_ELEMENT));
}

const Op = { Histogram: 1, Split: 2, Gather: 3, Gradients: 4, UpdateScores: 5, Stop: 6 } as const;
type Op = (typeof Op)[keyof typeof Op];

// Control block of one helper.
const SEQ = 0;
const DONE = 1;
const OP = 2;
const START = 3;
const END = 4;
const ARG1 = 5;
const ARG2 = 6;
const ARG3 = 7;
const RESULT = 8;
const CONTROL_INTS = 9;
/** DONE's value when the helper threw: the caller must not wait for it again. */
const FAILED = 2;

/** A Child as a number in a control block. */
const CHILDREN: readonly Child[] = ['none', 'left', 'right'];

/** Below this many rows an operation runs on the calling thread alone. */
const PARALLEL_MIN_ROWS = 4_096;

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

  /** The shares [start, end) is cut into: one per thread, or one when it is small. */
  shares(start: number, end: number): number[] {
    const n = end - start;
    const parts = n < PARALLEL_MIN_ROWS ? 1 : this.helpers.length + 1;
    const step = Math.ceil(n / parts);
    return Array.from({ length: parts + 1 }, (_, t) => Math.min(end, start + t * step));
  }

  /**
   * Run `op` on every share of [start, end): share 0 here (`local`), the rest on helpers with
   * args(t) as ARG1..ARG3; wait for all. Returns the share bounds.
   */
  private run(op: Op, start: number, end: number, args: (t: number) => readonly number[], local: (s: number, e: number) => void): number[] {
    const bounds = this.shares(start, end);
    const parts = bounds.length - 1;
    for (let t = 1; t < parts; t++) {
      const { control } = this.helpers[t - 1]!;
      const [a1 = 0, a2 = 0, a3 = 0] = args(t);
      control[OP] = op;
      control[START] = bounds[t]!;
      control[END] = bounds[t + 1]!;
      control[ARG1] = a1;
      control[ARG2] = a2;
      control[ARG3] = a3;
      Atomics.store(control, DONE, 0);
      Atomics.add(control, SEQ, 1);
      Atomics.notify(control, SEQ);
    }
    local(bounds[0]!, bounds[1]!);
    for (let t = 1; t < parts; t++) {
      const { control } = this.helpers[t - 1]!;
      while (Atomics.load(control, DONE) === 0) Atomics.wait(control, DONE, 0, 1000);
      if (control[DONE] === FAILED) throw new Error('a training helper thread failed (its error is printed above)');
    }
    return bounds;
  }

  gradients(): void {
    const d = this.data;
    this.run(Op.Gradients, 0, d.rows, () => [], (s, e) => this.objective.gradients(d.labels, d.scores, d.gradients, s, e));
  }

  /** The histogram of rowIndex [start, end) (or rows [start, end) when contiguous) into `hist`. */
  histogram(hist: Float64Array, output: number, start: number, end: number, contiguous: boolean): void {
    hist.fill(0);
    const bounds = this.run(Op.Histogram, start, end, () => [output, contiguous ? 1 : 0], (s, e) => accumulate(hist, this.data, output, s, e, contiguous));
    this.addHelperHistograms(hist, bounds.length - 1);
  }

  private addHelperHistograms(hist: Float64Array, parts: number): void {
    for (let t = 1; t < parts; t++) {
      const other = this.helpers[t - 1]!.hist;
      for (let i = 0; i < this.histogramSize; i++) hist[i]! += other[i]!;
    }
  }

  /**
   * Split a leaf's rows: partition rowIndex [start, end) by `goesLeft` on `feature` (left
   * rows first, then right rows, in an order fixed by the rows and shares), and build the
   * histogram of the `build` child's rows into `hist`. Each thread builds its share of the
   * histogram right after partitioning its share, so a split costs two rounds of the threads
   * (split, gather) rather than three. Returns the number of left rows.
   */
  split(feature: number, start: number, end: number, output: number, build: Child, hist: Float64Array): number {
    const d = this.data;
    const bounds = this.shares(start, end);
    const parts = bounds.length - 1;
    if (parts === 1) {
      const left = partitionInPlace(d, feature, start, end);
      if (build === 'left') this.histogram(hist, output, start, start + left, false);
      else if (build === 'right') this.histogram(hist, output, start + left, end, false);
      return left;
    }
    let localLeft = 0;
    this.run(Op.Split, start, end, () => [feature, output, CHILDREN.indexOf(build)], (s, e) => (localLeft = splitShare(d, hist, output, feature, s, e, build)));
    const lefts = [localLeft, ...this.helpers.slice(0, parts - 1).map((h) => h.control[RESULT]!)];
    // Each share's left rows after the previous shares' left rows; then the right rows likewise.
    const leftTo: number[] = [];
    const rightTo: number[] = [];
    const left = lefts.reduce((a, b) => a + b, 0);
    let l = start;
    let r = start + left;
    for (let t = 0; t < parts; t++) {
      leftTo.push(l);
      rightTo.push(r);
      l += lefts[t]!;
      r += bounds[t + 1]! - bounds[t]! - lefts[t]!;
    }
    const args = (t: number) => [lefts[t]!, leftTo[t]!, rightTo[t]!];
    this.run(Op.Gather, start, end, args, (s, e) => gatherShare(d, s, e, lefts[0]!, leftTo[0]!, rightTo[0]!));
    if (build !== 'none') this.addHelperHistograms(hist, parts);
    return left;
  }

  /** Add each leaf's value (in data.leafValues / leafRanges) to the scores of its rows. */
  updateScores(output: number, numLeaves: number, rowsInBag: number): void {
    this.run(Op.UpdateScores, 0, rowsInBag, () => [output, numLeaves], (s, e) => updateShare(this.data, output, numLeaves, s, e));
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
        case Op.Split:
          control[RESULT] = splitShare(data, hist, control[ARG2]!, control[ARG1]!, start, end, CHILDREN[control[ARG3]!]!);
          break;
        case Op.Gather:
          gatherShare(data, start, end, control[ARG1]!, control[ARG2]!, control[ARG3]!);
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
