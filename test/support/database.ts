import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The same server, another database. */
export function databaseUrl(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

/** A URL for administrative statements (CREATE DATABASE): the server's `postgres` database. */
export function adminUrl(base: string): string {
  return databaseUrl(base, 'postgres');
}

/**
 * Names of this suite's databases start with this (the suite's process id is in its
 * template's name), so a suite cleaning up after itself leaves another suite's alone
 * when two run against one server.
 */
export function testDatabasePrefix(template = process.env['SWITCHYARD_TEST_TEMPLATE'] ?? ''): string {
  return `sy_test_${template.replace(/^switchyard_tpl_/, '')}_`;
}

/** A fresh, fully migrated database cloned from the suite's template; returns its URL. */
export async function freshDatabase(): Promise<string> {
  const base = process.env['SWITCHYARD_TEST_DATABASE_URL'];
  const template = process.env['SWITCHYARD_TEST_TEMPLATE'];
  if (!base || !template) throw new Error('run the tests with `npm test` (it provides the database)');
  const name = `${testDatabasePrefix()}${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl(base) });
  await admin.connect();
  try {
    // Cloning takes a lock on the template; files starting together take turns.
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`create database ${name} template ${template}`);
        break;
      } catch (error) {
        if (attempt > 50 || !/being accessed by other users/.test((error as Error).message)) throw error;
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
      }
    }
  } finally {
    await admin.end();
  }
  return databaseUrl(base, name);
}
