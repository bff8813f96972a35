// Command line for the flights lake:
//   npm run lake -- bootstrap [initialWeeks]   split the source and release the first weeks
//   npm run lake -- release [count]            release the next week(s), oldest first
//   npm run lake -- status                     which weeks are in the lake, which are pending
import { resolvePaths } from '../core/config.js';
import { bootstrapFlights, DEFAULT_INITIAL_WEEKS, ensureFlightsLake, lakeStatus, releaseWeeks } from './flights.js';

const USAGE = 'use: npm run lake -- bootstrap [weeks] | release [count] | status';

async function main(argv: string[]): Promise<void> {
  const paths = resolvePaths();
  const [command = 'status', arg, ...extra] = argv;
  if (extra.length > 0) throw new Error(`unexpected argument '${extra[0]}': ${USAGE}`);
  // Read before anything changes, so a bad count leaves the lake as it was.
  const count = (fallback: number, min: number): number => {
    if (arg === undefined) return fallback;
    if (!/^\d+$/.test(arg) || Number(arg) < min) throw new Error(`${command} ${arg}: expected a whole number of weeks from ${min}`);
    return Number(arg);
  };
  const requireBootstrap = async () => {
    const status = await lakeStatus(paths);
    if (status.released.length + status.pending.length === 0) {
      throw new Error(`no flights lake under ${paths.stateDir}: run npm run lake -- bootstrap (npm start does it too)`);
    }
    return status;
  };
  switch (command) {
    case 'bootstrap': {
      const weeks = count(DEFAULT_INITIAL_WEEKS, 0);
      const marker = await bootstrapFlights(paths);
      console.log(`arrivals: ${marker.rows.toLocaleString('en-US')} flights in ${marker.weeks.length} weeks`);
      const status = await ensureFlightsLake(paths, weeks);
      console.log(`lake: ${status.released.length} weeks released, ${status.pending.length} pending (${paths.lakeDir})`);
      break;
    }
    case 'release': {
      const n = count(1, 1);
      await requireBootstrap();
      const weeks = await releaseWeeks(paths, n);
      console.log(weeks.length ? `released: ${weeks.join(', ')}` : 'nothing left to release');
      break;
    }
    case 'status': {
      if (arg !== undefined) throw new Error(`unexpected argument '${arg}': ${USAGE}`);
      console.log(JSON.stringify(await requireBootstrap(), null, 2));
      break;
    }
    default:
      throw new Error(`unknown command '${command}': ${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
