// Command line for the flights lake:
//   npm run lake -- bootstrap [initialWeeks]   split the source and release the first weeks
//   npm run lake -- release [count]            release the next week(s), oldest first
//   npm run lake -- status                     which weeks are in the lake, which are pending
import { resolvePaths } from '../core/config.js';
import { bootstrapFlights, DEFAULT_INITIAL_WEEKS, ensureFlightsLake, lakeStatus, releaseWeeks } from './flights.js';

async function main(argv: string[]): Promise<void> {
  const paths = resolvePaths();
  const [command = 'status', arg] = argv;
  const count = (fallback: number): number => {
    if (arg === undefined) return fallback;
    const n = Number(arg);
    if (!Number.isInteger(n) || n < 0) throw new Error(`expected a whole number of weeks, got '${arg}'`);
    return n;
  };
  switch (command) {
    case 'bootstrap': {
      const marker = await bootstrapFlights(paths);
      console.log(`arrivals: ${marker.rows.toLocaleString('en-US')} flights in ${marker.weeks.length} weeks`);
      const status = await ensureFlightsLake(paths, count(DEFAULT_INITIAL_WEEKS));
      console.log(`lake: ${status.released.length} weeks released, ${status.pending.length} pending (${paths.lakeDir})`);
      break;
    }
    case 'release': {
      const weeks = await releaseWeeks(paths, count(1));
      console.log(weeks.length ? `released: ${weeks.join(', ')}` : 'nothing left to release');
      break;
    }
    case 'status': {
      const status = await lakeStatus(paths);
      console.log(JSON.stringify(status, null, 2));
      break;
    }
    default:
      throw new Error(`unknown command '${command}': use bootstrap [weeks], release [count] or status`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
