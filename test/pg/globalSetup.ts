/**
 * One throwaway PostgreSQL cluster for the whole vitest run (see `cluster.ts`); test files get
 * its address with `inject("pg")` and make a fresh schema or database of their own
 * (`fixtures.ts`). A run where no server can be started fails here, saying why.
 */
import type { TestProject } from "vitest/node"
import * as Cluster from "./cluster.js"

declare module "vitest" {
  export interface ProvidedContext {
    pg: Cluster.Cluster
  }
}

export default async function setup(project: TestProject) {
  const cluster = await Cluster.start()
  project.provide("pg", cluster)
  return () => Cluster.stop(cluster)
}
