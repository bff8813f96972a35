// Parsing a model spec in a test, over the shipped flights dataset declaration.
import { parseDataset } from '../core/dataset.js';
import { parseSpec, type ModelSpec } from '../core/spec.js';
import flights from '../datasets/flights.json' with { type: 'json' };

export const flightsDataset = parseDataset(flights, 'datasets/flights.json');

/** A model spec over the flights dataset, as loadSpec would parse it. */
export function parseFlightsSpec(raw: unknown, file: string): ModelSpec {
  return parseSpec(raw, file, flightsDataset);
}
