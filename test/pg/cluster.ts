/**
 * A throwaway PostgreSQL cluster for tests and examples: `initdb` into a temp directory, `pg_ctl`
 * start on a free TCP port of 127.0.0.1, stop and remove after. The server binaries are the
 * system's (Debian's /usr/lib/postgresql/<version>/bin, or `initdb` on the PATH). Postgres refuses
 * to run as root: as root the cluster belongs to the `postgres` system user and its binaries run
 * through `runuser`. When no server can be started, `start` throws saying why (never a skip).
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

export interface Cluster {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  readonly url: string
  readonly port: number
  readonly dataDir: string
  readonly binDir: string
}

/** The directory holding `initdb`, `pg_ctl` and `postgres`, or why none was found. */
export const findBinDir = (): string => {
  const candidates: Array<string> = []
  if (process.env.STATEGRAPH_PG_BIN) candidates.push(process.env.STATEGRAPH_PG_BIN)
  const debian = "/usr/lib/postgresql"
  if (fs.existsSync(debian)) {
    for (const v of fs.readdirSync(debian).sort((a, b) => Number(b) - Number(a))) candidates.push(path.join(debian, v, "bin"))
  }
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) if (dir !== "") candidates.push(dir)
  for (const dir of candidates) {
    if (["initdb", "pg_ctl", "postgres"].every((b) => fs.existsSync(path.join(dir, b)))) return dir
  }
  throw new Error(
    "PostgreSQL tests need a server: no initdb/pg_ctl/postgres found (looked in $STATEGRAPH_PG_BIN, " +
      "/usr/lib/postgresql/*/bin and $PATH). Install the server (Debian: apt-get install postgresql) " +
      "or set STATEGRAPH_PG_BIN to its bin directory."
  )
}

const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0

/** Runs a server binary, as the `postgres` user when we are root. */
const run = (binDir: string, bin: string, args: ReadonlyArray<string>, timeout = 60_000): string => {
  const file = path.join(binDir, bin)
  const [cmd, argv] = isRoot() ? ["runuser", ["-u", "postgres", "--", file, ...args]] : [file, [...args]]
  try {
    return execFileSync(cmd, argv, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout })
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string }
    throw new Error(`${bin} ${args.join(" ")} failed: ${err.message}\n${err.stdout ?? ""}${err.stderr ?? ""}`)
  }
}

/** A TCP port nobody listens on right now. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

/** Starts (or restarts) the server of an initialised cluster and waits until it accepts connections. */
const startServer = (c: Cluster, mode?: "restart") => {
  const log = path.join(c.dataDir, "server.log")
  const opts = `-p ${c.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off -c max_connections=300 ` +
    `-c shared_buffers=64MB`
  if (mode === "restart") run(c.binDir, "pg_ctl", ["restart", "-D", c.dataDir, "-m", "immediate", "-w", "-t", "60", "-l", log, "-o", opts])
  else run(c.binDir, "pg_ctl", ["start", "-D", c.dataDir, "-w", "-t", "60", "-l", log, "-o", opts])
}

/** A new cluster, started: initdb, free port, pg_ctl start. */
export const start = async (): Promise<Cluster> => {
  const binDir = findBinDir()
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "stategraph-pg-"))
  const dataDir = path.join(root, "data")
  fs.mkdirSync(dataDir)
  if (isRoot()) {
    try {
      execFileSync("chown", ["-R", "postgres:postgres", root])
    } catch (e) {
      throw new Error(`PostgreSQL tests run as root need the 'postgres' system user to own the cluster: ${(e as Error).message}`)
    }
  }
  run(binDir, "initdb", ["-D", dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "-N"])
  const port = await freePort()
  const cluster: Cluster = { url: `postgres://postgres@127.0.0.1:${port}/postgres`, port, dataDir, binDir }
  try {
    startServer(cluster)
  } catch (e) {
    fs.rmSync(root, { recursive: true, force: true })
    throw e
  }
  return cluster
}

/** `pg_ctl restart -m immediate`: every connection is cut, the server recovers from its WAL. */
export const restart = (c: Cluster) => startServer(c, "restart")

/** Stops the server (immediate) and removes its directory. */
export const stop = (c: Cluster) => {
  try {
    run(c.binDir, "pg_ctl", ["stop", "-D", c.dataDir, "-m", "immediate", "-w", "-t", "30"])
  } finally {
    fs.rmSync(path.dirname(c.dataDir), { recursive: true, force: true })
  }
}
