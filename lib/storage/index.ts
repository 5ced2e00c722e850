import crypto from "node:crypto";
import path from "node:path";
import { config } from "../config";
import { LocalStorage } from "./local";
import type { Storage } from "./types";

export * from "./types";

/** The media storage of this process: MinIO/S3 when S3_ENDPOINT is set, else DATA_DIR/media. */
export async function openStorage(): Promise<Storage> {
	const cfg = config();
	if (cfg.s3) {
		const { MinioStorage } = await import("./minio");
		return MinioStorage.connect(cfg.s3, cfg.publicBaseUrl);
	}
	return new LocalStorage(path.join(cfg.dataDir, "media"), cfg.publicBaseUrl);
}

/** A fresh object key: `<kind>/<yyyy-mm>/<uuid>.<ext>`. */
export function newKey(kind: "videos" | "covers", ext: "mp4" | "jpg", now = new Date()): string {
	const month = now.toISOString().slice(0, 7);
	return `${kind}/${month}/${crypto.randomUUID()}.${ext}`;
}
