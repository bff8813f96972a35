// Spec files are read strictly: a misspelt field is an error naming it, not a silently dropped
// setting, and a schedule the Temporal server would refuse is caught when the spec loads.
import { describe, expect, it } from 'vitest';
import { parseDataset } from '../core/dataset.js';
import flights from '../datasets/flights.json' with { type: 'json' };
import flightDelay from '../models/flight_delay.json' with { type: 'json' };
import { parseFlightsSpec as parseSpec } from './specs.js';

type Json = Record<string, unknown>;
const withSchedules = (schedules: Json) => () => parseSpec({ ...flightDelay, schedules }, 'x.json');

describe('spec files', () => {
  it('refuse a field they do not know, at any depth, naming it', () => {
    const columns = flights.columns as Json[];
    const datasetCases: [Json, string][] = [
      [{ ...flights, partitionkey: 'week' }, '(root).partitionkey: is not a field of (root)'],
      [{ ...flights, columns: columns.map((c, i) => (i === 3 ? { ...c, patern: '^x$' } : c)) }, 'columns[3].patern: is not a field'],
      [{ ...flights, contract: { ...flights.contract, maxNullrate: 0.1 } }, 'contract.maxNullrate'],
      [{ ...flights, partitioning: { by: 'time', column: 'origin', grain: 'week' } }, "partitioning.column: 'origin' is VARCHAR"],
      [{ ...flights, partitioning: { by: 'time', column: 'date', grain: 'fortnight' } }, 'partitioning.grain: must be one of day, week, month, year'],
      [{ ...flights, columns: [...columns, { name: 'Flight Date', type: 'DATE' }] }, 'columns[5].name: must be a lower-case identifier ([a-z_][a-z0-9_]*); keep the raw header "Flight Date" as "source" and name it e.g. "flight_date"'],
      [{ ...flights, columns: [...columns, { name: 'when', source: 'date', type: 'DATE' }] }, 'columns[5].source: the raw column "date" is mapped twice (also columns[0])'],
    ];
    for (const [raw, message] of datasetCases) expect(() => parseDataset(raw, 'datasets/x.json'), message).toThrow(`datasets/x.json: ${message}`);
    const cases: [Json, string][] = [
      [{ ...flightDelay, labels: { column: 'delayed' } }, '(root).labels: is not a field of (root)'],
      [{ ...flightDelay, label: { column: 'delayed', rate: { min: 0.5, max: 0.1 } } }, 'label.rate.min: must not be above max (0.1)'],
      [{ ...flightDelay, split: { by: 'random', holdout: 0.5, validation: 0.5 } }, 'split: validation (0.5) and holdout (0.5) leave no rows to train on'],
      [{ ...flightDelay, split: { by: 'random', holdout: 0.2, key: ['nope'] } }, "split.key[0]: 'nope' is not a column of dataset 'flights'"],
      [{ ...flightDelay, split: { ...flightDelay.split, testPartitions: 1 } }, 'split.testPartitions'],
      [{ ...flightDelay, trainer: { ...flightDelay.trainer, checkpointevery: 5 } }, 'trainer.checkpointevery'],
      [{ ...flightDelay, approval: { required: false, timeout: 60 } }, 'approval.timeout'],
      [{ ...flightDelay, gate: { ...flightDelay.gate, calibration: { maxECE: 0.05 } } }, 'gate.calibration.maxECE'],
    ];
    for (const [raw, message] of cases) expect(() => parseSpec(raw, 'x.json'), message).toThrow(`x.json: ${message}`);
    expect(parseSpec(flightDelay, 'flight_delay.json').name).toBe('flight_delay');
  });

  it('take cron expressions the server takes and refuse the others, naming the schedule and the field', () => {
    const spec = withSchedules({ train: '*/15 2-4 1,15 JAN-MAR MON-FRI', batch: '0 4 * * 0', monitor: false, timezone: 'America/Chicago' })();
    // materialize: the hourly default (a model without feature views gets no such schedule).
    expect(spec.schedules).toEqual({ train: '*/15 2-4 1,15 JAN-MAR MON-FRI', batch: '0 4 * * 0', monitor: null, materialize: '5 * * * *', timezone: 'America/Chicago' });
    const cases: [Json, RegExp][] = [
      [{ train: '99 4 * * MON' }, /schedules\.train: .*the minute field '99'/],
      [{ batch: '0 24 * * MON' }, /schedules\.batch: .*the hour field '24'/],
      [{ monitor: '0 4 * * FUNDAY' }, /schedules\.monitor: .*the day of week field 'FUNDAY'.*SUN\.\.SAT/],
      [{ train: '0 4 0 * *' }, /the day of month field '0'/],
      [{ train: '0 4 * 13 *' }, /the month field '13'/],
      [{ train: '0 4-2 * * *' }, /the hour field '4-2'/],
      [{ train: '0 4 * * MON *' }, /has 6 fields, not 5/],
      [{ train: '@weekly' }, /has 1 fields, not 5/],
      [{ timezone: 'Mars/Olympus_Mons' }, /schedules\.timezone: must be an IANA time zone/],
    ];
    for (const [schedules, message] of cases) expect(withSchedules(schedules), JSON.stringify(schedules)).toThrow(message);
  });
});
