import path from "node:path";
import { config } from "../config";
import { NedbStore } from "./nedb";
import type { DocumentStore } from "./types";

export * from "./types";

/**
 * The store of one service: its own MongoDB database (`<prefix>-<service>`) when MONGO_URI
 * is set, else its own embedded directory under DATA_DIR/db/<service>, which this process
 * then holds alone (a second process on the same DATA_DIR refuses to start: lib/store/lock.ts).
 */
export async function openStore(service: string): Promise<DocumentStore> {
	const { mongoUri, mongoDbPrefix, dataDir } = config();
	if (mongoUri) {
		const { MongoStore } = await import("./mongo");
		return MongoStore.connect(mongoUri, `${mongoDbPrefix}-${service}`);
	}
	return NedbStore.open(path.join(dataDir, "db", service));
}
