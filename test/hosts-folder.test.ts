// The same workers-and-API suite on the folder backend: one state folder on one host.
import { hostsSuite } from './hosts-suite.js';

hostsSuite('folder');
