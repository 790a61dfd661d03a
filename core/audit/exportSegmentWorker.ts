/**
 * A worker thread exporting one segment of a chain (exportSegment.ts) over a connection of
 * its own, in the chain's tenant context. Started by runSegmentInWorker.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Database, scopeOf } from '../db/database.js';
import { exportSegment, type SegmentTask } from './exportSegment.js';

const { connectionString, task } = workerData as { connectionString: string; task: SegmentTask };
const db = new Database(connectionString, 1, 'switchyard-audit-export');
try {
  const result = await db.tx(scopeOf(task.query.tenantId), (q) => exportSegment(q, task));
  parentPort!.postMessage({ ok: true, result });
} catch (error) {
  parentPort!.postMessage({ ok: false, error: (error as Error).message });
} finally {
  await db.close();
}
