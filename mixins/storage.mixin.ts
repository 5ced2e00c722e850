/** Gives a service the media storage of this process as `this.storage`. */
import type { ServiceSchema } from "moleculer";
import { healthOf } from "../lib/health";
import { openStorage, type Storage } from "../lib/storage";

export interface StorageVars {
	storage: Storage;
}

export const StorageMixin: Partial<ServiceSchema> = {
	async started() {
		const storage = await openStorage();
		(this as unknown as StorageVars).storage = storage;
		healthOf(this.broker).register("storage", () => storage.ping());
	}
};
