// Spec files are read strictly: a misspelt field is an error naming it, not a silently dropped
// setting, and a schedule the Temporal server would refuse is caught when the spec loads.
import { describe, expect, it } from 'vitest';
import { parseSpec } from '../core/spec.js';
import flightDelay from '../models/flight_delay.json' with { type: 'json' };

type Json = Record<string, unknown>;
const withSchedules = (schedules: Json) => () => parseSpec({ ...flightDelay, schedules }, 'x.json');

describe('spec files', () => {
  it('refuse a field they do not know, at any depth, naming it', () => {
    const columns = flightDelay.dataset.columns as Json[];
    const cases: [Json, string][] = [
      [{ ...flightDelay, labels: { column: 'delayed' } }, '(root).labels: is not a field of (root)'],
      [{ ...flightDelay, dataset: { ...flightDelay.dataset, partitionkey: 'week' } }, 'dataset.partitionkey: is not a field of dataset'],
      [{ ...flightDelay, dataset: { ...flightDelay.dataset, columns: columns.map((c, i) => (i === 3 ? { ...c, patern: '^x$' } : c)) } }, 'dataset.columns[3].patern: is not a field'],
      [{ ...flightDelay, dataset: { ...flightDelay.dataset, contract: { ...flightDelay.dataset.contract, maxNullrate: 0.1 } } }, 'dataset.contract.maxNullrate'],
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
    expect(spec.schedules).toEqual({ train: '*/15 2-4 1,15 JAN-MAR MON-FRI', batch: '0 4 * * 0', monitor: null, timezone: 'America/Chicago' });
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
