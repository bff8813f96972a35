// Two workers and an API, each with its own empty folder, all state in an S3-compatible bucket.
import { hostsSuite } from './hosts-suite.js';

hostsSuite('s3');
