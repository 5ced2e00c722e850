/**
 * Accounts stored by earlier versions (no `nameKey`, plain bcrypt hashes of the password),
 * on every store (test/unit/users.migration.test.ts: embedded, test/servers/users.migration.mongo.test.ts:
 * MongoDB wire): users gives them their keys at start, they keep logging in, look-alike old
 * names keep their accounts apart, and a login brings an old hash to the current scheme.
 * The environment (DATA_DIR or MONGO_URI, …) is set by the test file before this runs.
 */
import bcrypt from "bcryptjs";
import { ServiceBroker } from "moleculer";
import type { DocumentStore } from "../../lib/store/types";
import { rejection } from "../helpers/rejection";

/** 30 CJK characters: 90 bytes, of which bcrypt read the first 72 (24 characters). */
const LONG = "长".repeat(30);

/** As the version before usernames had keys stored them: name unique, bcrypt of the password itself. */
const OLD_ACCOUNTS = [
	{ _id: 1, name: "Alice", password: "alice-pass-1" },
	{ _id: 2, name: "alice", password: "alice-pass-2" },
	{ _id: 3, name: "ＢＯＢ", password: "bob-pass-1" },
	{ _id: 4, name: "carol", password: LONG }
];

interface StoredUser {
	_id: number;
	name: string;
	nameKey?: string;
	passwordHash: string;
	passwordScheme?: string;
}

export function describeUsersMigration(name: string, openOldStore: () => Promise<DocumentStore>): void {
	describe(`users: accounts of earlier versions, ${name}`, () => {
		let broker: ServiceBroker;
		let hashes: Map<number, string>;

		function newBroker(): ServiceBroker {
			const { brokerOptions } = require("../../moleculer.config");
			const created = new ServiceBroker({ ...brokerOptions(), logger: false });
			created.createService(require("../../services/users.service").default);
			return created;
		}

		async function stored(): Promise<StoredUser[]> {
			const { collections } = broker.getLocalService("users") as unknown as { collections: { users: { find(f: object, o: object): Promise<StoredUser[]> } } };
			return collections.users.find({}, { sort: { _id: 1 } });
		}

		const login = (username: string, password: string) => broker.call<{ user_id: number }, object>("users.login", { username, password });

		beforeAll(async () => {
			const old = await openOldStore();
			const users = await old.collection<StoredUser>("users", [{ fields: ["name"], unique: true }]);
			hashes = new Map();
			for (const { _id, name, password } of OLD_ACCOUNTS) {
				const passwordHash = bcrypt.hashSync(password, 10);
				hashes.set(_id, passwordHash);
				await users.insert({ _id, name, passwordHash, avatar: "", background_image: "", signature: "", createdAt: _id } as StoredUser);
			}
			for (let i = 0; i < OLD_ACCOUNTS.length; i++) await old.nextId("users");
			await old.close();

			broker = newBroker();
			await broker.start();
		});

		afterAll(() => broker?.stop());

		test("every old account gets its key at start; of two look-alikes the older one gets the name's key", async () => {
			const keys = Object.fromEntries((await stored()).map(doc => [doc._id, doc.nameKey]));
			expect(keys).toEqual({ 1: "alice", 2: "\u0001alice", 3: "bob", 4: "carol" });
		});

		test("old accounts log in with the passwords they registered, old look-alikes each with its own spelling", async () => {
			expect(await login("Alice", "alice-pass-1")).toMatchObject({ user_id: 1 });
			expect(await login("alice", "alice-pass-2")).toMatchObject({ user_id: 2 });
			expect(await login("bob", "bob-pass-1")).toMatchObject({ user_id: 3 });
			expect(await login("ＢＯＢ", "bob-pass-1")).toMatchObject({ user_id: 3 });
			expect(await login("carol", LONG)).toMatchObject({ user_id: 4 });
		});

		test("the older look-alike logs in by any other spelling; the exact spelling of the later one is the later one's", async () => {
			expect(await login("ALICE", "alice-pass-1")).toMatchObject({ user_id: 1 });
			expect(await login("Ａｌｉｃｅ", "alice-pass-1")).toMatchObject({ user_id: 1 });
			expect((await rejection(login("ALICE", "alice-pass-2"))).code).toBe(401);
			expect((await rejection(login("alice", "alice-pass-1"))).code).toBe(401);
		});

		test("no new account takes an old name in any spelling", async () => {
			for (const username of ["ALICE", "alice", "Alice", "Bob", "ＣＡＲＯＬ"])
				expect((await rejection(broker.call("users.register", { username, password: "secret1" }))).code).toBe(409);
		});

		test("names stay as they were registered (what every User shows)", async () => {
			expect(Object.fromEntries((await stored()).map(doc => [doc._id, doc.name]))).toEqual({ 1: "Alice", 2: "alice", 3: "ＢＯＢ", 4: "carol" });
		});

		test("a login brings an old hash to the current scheme, except for a password longer than bcrypt reads", async () => {
			const docs = new Map((await stored()).map(doc => [doc._id, doc]));
			// Accounts 1 to 3 logged in above: rehashed, and they still log in.
			for (const id of [1, 2, 3]) {
				expect(docs.get(id)!.passwordScheme).toBe("hmac-sha256");
				expect(docs.get(id)!.passwordHash).not.toBe(hashes.get(id));
			}
			expect(await login("Alice", "alice-pass-1")).toMatchObject({ user_id: 1 });
			// Account 4's password is 90 bytes: the one typed matched its first 72 only, so its hash stays.
			expect(docs.get(4)!.passwordScheme).toBeUndefined();
			expect(docs.get(4)!.passwordHash).toBe(hashes.get(4));
		});

		test("a restart finds nothing more to migrate and keeps every key", async () => {
			const before = await stored();
			await broker.stop();
			broker = newBroker();
			await broker.start();
			expect(await stored()).toEqual(before);
			expect(await login("alice", "alice-pass-2")).toMatchObject({ user_id: 2 });
		});
	});
}
