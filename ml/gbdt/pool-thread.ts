// Entry of a training helper thread (see pool.ts).
import { workerData } from 'node:worker_threads';
import { serve, type HelperData } from './pool.js';

serve((workerData as { input: HelperData }).input);
