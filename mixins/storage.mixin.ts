/** Gives a service the media storage of this process as `this.storage`. */
import type { ServiceSchema } from "moleculer";
import { openStorage, type Storage } from "../lib/storage";

export interface StorageVars {
	storage: Storage;
}

export const StorageMixin: Partial<ServiceSchema> = {
	async started() {
		(this as unknown as StorageVars).storage = await openStorage();
	}
};
