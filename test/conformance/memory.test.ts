import { Snapshots } from "effect-stategraph"
import { snapshotsContract } from "./snapshotsContract.js"

snapshotsContract("Snapshots.layerMemory", Snapshots.layerMemory)
