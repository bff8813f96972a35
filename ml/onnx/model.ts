// ONNX ModelProto builder over ProtoWriter. Field numbers follow onnx/onnx.proto (IR 10).
import { ProtoWriter } from './protobuf.js';

export const ONNX_IR_VERSION = 10;
export const OPSET_ONNX = 21;
export const OPSET_ONNX_ML = 5;

/** TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, UINT8: 2, INT64: 7, STRING: 8, BOOL: 9 } as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

export type Attribute =
  | { readonly name: string; readonly type: 'float'; readonly value: number }
  | { readonly name: string; readonly type: 'int'; readonly value: number }
  | { readonly name: string; readonly type: 'string'; readonly value: string }
  | { readonly name: string; readonly type: 'floats'; readonly value: readonly number[] }
  | { readonly name: string; readonly type: 'ints'; readonly value: readonly number[] }
  | { readonly name: string; readonly type: 'strings'; readonly value: readonly string[] }
  | { readonly name: string; readonly type: 'tensor'; readonly value: TensorValue };

/** A tensor attribute's value: numbers for FLOAT, UINT8 and INT64, strings for STRING. */
export type TensorValue =
  | { readonly dataType: typeof DataType.FLOAT | typeof DataType.UINT8 | typeof DataType.INT64; readonly dims: readonly number[]; readonly values: ArrayLike<number> }
  | { readonly dataType: typeof DataType.STRING; readonly dims: readonly number[]; readonly values: readonly string[] };

export interface Node {
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly name: string;
  readonly domain?: string;
  readonly attributes?: readonly Attribute[];
}

export interface Initializer {
  readonly name: string;
  readonly dims: readonly number[];
  readonly dataType: typeof DataType.FLOAT | typeof DataType.INT64;
  readonly values: readonly number[];
}

/**
 * A mostly-zero constant stored as its non-zero entries (onnxruntime makes it dense when it
 * loads the model): `indices` are positions in the row-major flattened tensor.
 */
export interface SparseInitializer {
  readonly name: string;
  readonly dims: readonly number[];
  readonly dataType: typeof DataType.UINT8;
  readonly indices: readonly number[];
  readonly values: ArrayLike<number>;
}

export interface ValueInfo {
  readonly name: string;
  readonly elemType: DataTypeCode;
  /** Each dimension a fixed size or a symbolic name such as 'N'. */
  readonly shape: readonly (number | string)[];
}

export interface Graph {
  readonly name: string;
  readonly nodes: readonly Node[];
  readonly initializers: readonly Initializer[];
  readonly sparseInitializers?: readonly SparseInitializer[];
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
}

export interface ModelInfo {
  readonly producerName: string;
  readonly producerVersion: string;
  readonly docString?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

const ATTRIBUTE_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7, strings: 8 } as const;

function writeTensor(w: ProtoWriter, t: TensorValue, name?: string): void {
  w.packedInts(1, t.dims);
  w.int(2, t.dataType);
  if (name) w.string(8, name);
  switch (t.dataType) {
    case DataType.STRING:
      for (const s of t.values) w.string(6, s);
      break;
    case DataType.FLOAT: {
      // raw_data: little-endian float32, NaN included as it is.
      const bytes = new Uint8Array(t.values.length * 4);
      const view = new DataView(bytes.buffer);
      for (let i = 0; i < t.values.length; i++) view.setFloat32(i * 4, t.values[i]!, true);
      w.bytes(9, bytes);
      break;
    }
    case DataType.UINT8:
      w.bytes(9, Uint8Array.from(t.values));
      break;
    case DataType.INT64:
      w.packedInts(7, Array.from(t.values));
      break;
  }
}

function writeAttribute(w: ProtoWriter, a: Attribute): void {
  w.string(1, a.name);
  switch (a.type) {
    case 'float':
      w.float(2, a.value);
      break;
    case 'int':
      w.int(3, a.value);
      break;
    case 'string':
      w.string(4, a.value);
      break;
    case 'floats':
      w.packedFloats(7, a.value);
      break;
    case 'ints':
      w.packedInts(8, a.value);
      break;
    case 'strings':
      for (const s of a.value) w.string(9, s);
      break;
    case 'tensor':
      w.message(5, (tw) => writeTensor(tw, a.value));
      break;
  }
  w.int(20, ATTRIBUTE_TYPE[a.type]);
}

function writeValueInfo(w: ProtoWriter, v: ValueInfo): void {
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, v.elemType);
      tensor.message(2, (shape) => {
        for (const d of v.shape) shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
      });
    }),
  );
}

function writeInitializer(w: ProtoWriter, t: Initializer): void {
  w.packedInts(1, t.dims);
  w.int(2, t.dataType);
  w.string(8, t.name);
  if (t.dataType === DataType.FLOAT) w.packedFloats(4, t.values);
  else w.packedInts(7, t.values);
}

function writeSparseInitializer(w: ProtoWriter, t: SparseInitializer): void {
  w.message(1, (values) => writeTensor(values, { dataType: t.dataType, dims: [t.values.length], values: t.values }, t.name));
  w.message(2, (indices) => writeTensor(indices, { dataType: DataType.INT64, dims: [t.indices.length], values: t.indices }));
  w.packedInts(3, t.dims);
}

export function encodeModel(graph: Graph, info: ModelInfo): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, ONNX_IR_VERSION);
  w.string(2, info.producerName);
  w.string(3, info.producerVersion);
  if (info.docString) w.string(6, info.docString);
  w.message(7, (g) => {
    for (const n of graph.nodes) {
      g.message(1, (nw) => {
        for (const i of n.inputs) nw.string(1, i);
        for (const o of n.outputs) nw.string(2, o);
        nw.string(3, n.name);
        nw.string(4, n.opType);
        for (const a of n.attributes ?? []) nw.message(5, (aw) => writeAttribute(aw, a));
        if (n.domain) nw.string(7, n.domain);
      });
    }
    g.string(2, graph.name);
    for (const t of graph.initializers) g.message(5, (tw) => writeInitializer(tw, t));
    for (const t of graph.sparseInitializers ?? []) g.message(15, (tw) => writeSparseInitializer(tw, t));
    for (const i of graph.inputs) g.message(11, (vw) => writeValueInfo(vw, i));
    for (const o of graph.outputs) g.message(12, (vw) => writeValueInfo(vw, o));
  });
  w.message(8, (o) => o.string(1, '').int(2, OPSET_ONNX));
  w.message(8, (o) => o.string(1, 'ai.onnx.ml').int(2, OPSET_ONNX_ML));
  for (const [key, value] of Object.entries(info.metadata ?? {})) {
    w.message(14, (e) => e.string(1, key).string(2, value));
  }
  return w.finish();
}
