/**
 * Postgres helpers for the benchmark's Postgres rows, shared by both sides (they load only the
 * `pg` driver, which both sides' stores use anyway: @effect/sql-pg and PostgresSaver).
 *
 * `bench/run.ts` starts one throwaway cluster for the run (`test/pg/cluster.ts`) and hands its
 * address to the children in `STATEGRAPH_BENCH_PG`; `bench/one.ts` gives every (side, scenario,
 * repeat) a fresh database of its own (`withDatabase`), dropped after.
 */
import pg from "pg"

/** The run's cluster (`postgres://postgres@127.0.0.1:<port>/postgres`), set by bench/run.ts. */
export const clusterUrl = (): string => {
  const url = process.env.STATEGRAPH_BENCH_PG
  if (url === undefined || url === "") {
    throw new Error("a Postgres scenario needs STATEGRAPH_BENCH_PG (run it through `npm run bench`, which starts a cluster)")
  }
  return url
}

const admin = async <A>(f: (client: pg.Client) => Promise<A>): Promise<A> => {
  const client = new pg.Client({ connectionString: clusterUrl() })
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end()
  }
}

/** Runs `f` on a new database of the cluster (its URL), dropped after. */
export const withDatabase = async <A>(name: string, f: (url: string) => Promise<A>): Promise<A> => {
  const db = name.toLowerCase().replace(/[^a-z0-9_]/g, "_").slice(0, 60)
  await admin((c) => c.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`).then(() => c.query(`CREATE DATABASE "${db}"`)))
  try {
    return await f(clusterUrl().replace(/\/[^/]*$/, `/${db}`))
  } finally {
    await admin((c) => c.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`))
  }
}

/**
 * Bytes of every table of the database at `url` outside the system schemas, with their indexes
 * and TOAST (`pg_total_relation_size`): what a store keeps on disk, dead row versions included.
 */
export const databaseBytes = async (url: string): Promise<number> => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const r = await client.query<{ bytes: string | null }>(
      `SELECT sum(pg_total_relation_size(c.oid))::bigint AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`
    )
    return Number(r.rows[0]?.bytes ?? 0)
  } finally {
    await client.end()
  }
}

/**
 * The physical reference of the Postgres rows: one single-row commit on the same server, through
 * the same driver — an autocommitted upsert (1 round trip) and the same upsert in an explicit
 * `BEGIN … COMMIT` (3 round trips, the shape of a store transaction). µs per commit.
 */
export const bareCommit = async (url: string, commits = 2000): Promise<{ autocommitUs: number; transactionUs: number }> => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(`CREATE TABLE bare (id int PRIMARY KEY, v text NOT NULL)`)
    const upsert = `INSERT INTO bare (id, v) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET v = excluded.v`
    const payload = "x".repeat(200)
    for (let i = 0; i < 200; i++) await client.query(upsert, [i % 10, payload]) // warm-up
    let t0 = performance.now()
    for (let i = 0; i < commits; i++) await client.query(upsert, [i % 10, payload])
    const autocommitUs = ((performance.now() - t0) * 1000) / commits
    t0 = performance.now()
    for (let i = 0; i < commits; i++) {
      await client.query("BEGIN")
      await client.query(upsert, [i % 10, payload])
      await client.query("COMMIT")
    }
    const transactionUs = ((performance.now() - t0) * 1000) / commits
    return { autocommitUs, transactionUs }
  } finally {
    await client.end()
  }
}
