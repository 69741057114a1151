/**
 * Postgres helpers for the benchmark's Postgres rows, shared by both sides (they load only the
 * `pg` driver, which both sides' stores use anyway: @effect/sql-pg and PostgresSaver).
 *
 * `bench/run.ts` starts one throwaway cluster for the run (`test/pg/cluster.ts`) and gives every
 * (side, scenario, repeat) child a fresh database of it (`withDatabase`), its URL in
 * `STATEGRAPH_BENCH_PG`, dropped after the child has exited (so no connection of the child is
 * cut by the drop).
 */
import pg from "pg"

/** The child's database (`postgres://postgres@127.0.0.1:<port>/<db>`), made by bench/run.ts. */
export const databaseUrl = (): string => {
  const url = process.env.STATEGRAPH_BENCH_PG
  if (url === undefined || url === "") {
    throw new Error("a Postgres scenario needs STATEGRAPH_BENCH_PG (run it through `npm run bench`, which starts a cluster)")
  }
  return url
}

const admin = async <A>(clusterUrl: string, f: (client: pg.Client) => Promise<A>): Promise<A> => {
  const client = new pg.Client({ connectionString: clusterUrl })
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end()
  }
}

/** Runs `f` on a new database of the cluster at `clusterUrl` (its URL), dropped after. */
export const withDatabase = async <A>(clusterUrl: string, name: string, f: (url: string) => A | Promise<A>): Promise<A> => {
  const db = name.toLowerCase().replace(/[^a-z0-9_]/g, "_").slice(0, 60)
  await admin(clusterUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`).then(() => c.query(`CREATE DATABASE "${db}"`)))
  try {
    return await f(clusterUrl.replace(/\/[^/]*$/, `/${db}`))
  } finally {
    await admin(clusterUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`))
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
