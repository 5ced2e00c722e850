/**
 * messages: private chat between two users. Sends to one conversation are serialised (in
 * this process by a queue, across replicas by the cacher's lock), and a message's
 * create_time (ms) is later than every earlier message of its conversation (the
 * conversation's clock, kept in the cacher and read from the store when the cache lost it),
 * so messages become visible in create_time order: a client polling with the newest
 * create_time it has seen (pre_msg_time) gets every message exactly once.
 */
import type { Context, Service, ServiceSchema } from "moleculer";
import { Errors } from "moleculer";
import { config } from "../lib/config";
import { invalidParam } from "../lib/errors";
import { distinctIds, idsSchema } from "../lib/facts";
import { type Known, knownUsers } from "../lib/known";
import type { AppMeta } from "../lib/meta";
import { METRIC } from "../lib/metrics";
import { SensitiveWordFilter } from "../lib/sensitive-words";
import { actionType, optionalWireTime, textParam, wireId } from "../lib/params";
import { idempotentRead } from "../lib/resilience";
import type { Collection } from "../lib/store";
import type { Message } from "../lib/wire";
import { StoreMixin, type StoreVars } from "../mixins/store.mixin";

export interface MessageDoc {
	_id: number;
	/** "<smaller user id>:<larger user id>": both directions of a chat share it. */
	conversation: string;
	fromUserId: number;
	toUserId: number;
	content: string;
	/** Epoch ms from the conversation's clock: unique and increasing within the conversation. */
	createTime: number;
}

interface MessagesSettings {
	/** How long a send lock is held at most; a crashed holder's lock is taken over after it. */
	sendLockLeaseMs: number;
}

interface MessagesMethods {
	withSendLock<T>(conversation: string, send: () => Promise<T>): Promise<T>;
	nextTime(conversation: string): Promise<number>;
	assertRecipient(ctx: Context, meId: number, peerId: number): Promise<void>;
}

type Collections = { messages: Collection<MessageDoc> };

type MessagesThis = Service<MessagesSettings> &
	MessagesMethods &
	StoreVars<Collections> & {
		filter: SensitiveWordFilter;
		/** The tail of the local send queue of each conversation. */
		sendQueues: Map<string, Promise<unknown>>;
		users: Known<object>;
	};

export interface ActionParams {
	to_user_id: number;
	action_type: number;
	content: string;
}
export interface ChatParams {
	to_user_id: number;
	pre_msg_time?: number;
}
export interface LastWithParams {
	userId: number;
	peerIds: number[];
}

/** Message ids are taken from the store in blocks of this many (one sequence update per block). */
const ID_BLOCK = 100;

/** How long a conversation's clock stays in the cache unused (then it is read from the store again). */
const CLOCK_TTL_SECONDS = 24 * 3600;

/** The key both directions of a chat share. */
export function conversationKey(a: number, b: number): string {
	return a < b ? `${a}:${b}` : `${b}:${a}`;
}


const cfg = config();

const MessagesService: ServiceSchema<MessagesSettings, MessagesMethods, MessagesThis> = {
	name: "messages",
	mixins: [
		StoreMixin<Collections>({
			messages: [
				// A chat poll is a range on createTime within one conversation.
				{ fields: ["conversation", "createTime"], unique: true },
				// Redundant on MongoDB (a prefix of the index above); the embedded store's
				// planner uses a compound index only for a full equality match.
				{ fields: ["conversation"] }
			]
		})
	],

	settings: {
		sendLockLeaseMs: 5000
	},

	actions: {
		/**
		 * Sends a message. Params: to_user_id (an existing user, not oneself; friendship is
		 * not required), action_type (1), content (trimmed, 1..MAX_MESSAGE_CHARS characters,
		 * default 1000; sensitive words masked). Returns {}.
		 */
		action: {
			auth: "required",
			params: {
				to_user_id: wireId,
				action_type: actionType("send"),
				content: textParam(
					{
						type: "string",
						trim: true,
						min: 1,
						max: cfg.limits.messageChars,
						messages: {
							required: "The 'content' field is required: type a message.",
							stringMin: "The 'content' field is empty: type a message.",
							stringMax: `The 'content' field is too long: at most ${cfg.limits.messageChars} characters.`
						}
					},
					{ multiline: true }
				)
			},
			async handler(this: MessagesThis, ctx: Context<ActionParams, AppMeta>) {
				const fromUserId = ctx.meta.userId!;
				const { to_user_id: toUserId } = ctx.params;
				await this.assertRecipient(ctx, fromUserId, toUserId);
				const conversation = conversationKey(fromUserId, toUserId);
				const content = this.filter.mask(ctx.params.content);
				const _id = await this.store.nextId("messages", ID_BLOCK);
				const doc = await this.withSendLock(conversation, async () => {
					const createTime = await this.nextTime(conversation);
					return this.collections.messages.insert({ _id, conversation, fromUserId, toUserId, content, createTime });
				});
				ctx.emit("message.sent", { messageId: doc._id, fromUserId, toUserId, createTime: doc.createTime });
				this.broker.metrics.increment(METRIC.MESSAGES);
				return {};
			}
		},

		/**
		 * The conversation with to_user_id, both directions, oldest first, at most
		 * MAX_CHAT_MESSAGES: without pre_msg_time (or 0) the newest ones; with it the oldest
		 * of those newer than pre_msg_time (ms), so a client polling with the newest
		 * create_time it shows gets every message once. Params: to_user_id, pre_msg_time.
		 * Returns { message_list }.
		 */
		chat: {
			...idempotentRead(),
			auth: "required",
			params: {
				to_user_id: wireId,
				pre_msg_time: optionalWireTime
			},
			async handler(this: MessagesThis, ctx: Context<ChatParams, AppMeta>) {
				const meId = ctx.meta.userId!;
				const { to_user_id: peerId, pre_msg_time = 0 } = ctx.params;
				if (peerId === meId) throw invalidParam("you cannot chat with yourself: to_user_id is your own id", "to_user_id");
				const conversation = conversationKey(meId, peerId);
				const limit = cfg.chatPageSize;
				const docs =
					pre_msg_time > 0
						? await this.collections.messages.find({ conversation, createTime: { $gt: pre_msg_time } }, { sort: { createTime: 1 }, limit })
						: (await this.collections.messages.find({ conversation }, { sort: { createTime: -1 }, limit })).reverse();
				// A poll with news proves the peer exists; only an empty answer costs a check.
				if (docs.length === 0) await this.assertRecipient(ctx, meId, peerId);
				const message_list: Message[] = docs.map(doc => ({
					id: doc._id,
					to_user_id: doc.toUserId,
					from_user_id: doc.fromUserId,
					content: doc.content,
					create_time: doc.createTime
				}));
				return { message_list };
			}
		},

		/**
		 * The latest message of userId with each peer, for the friend list. Params: userId,
		 * peerIds. Returns { [peerId]: { content, fromUserId, create_time } } (no messages: absent).
		 */
		lastWith: {
			visibility: "public",
			params: {
				userId: { type: "number", integer: true, positive: true },
				peerIds: idsSchema
			},
			async handler(this: MessagesThis, ctx: Context<LastWithParams>) {
				const { userId } = ctx.params;
				// One indexed "newest of this conversation" read per peer, in parallel: each
				// costs one index seek however long the conversation is, where a single $in
				// query would read every message of every conversation to keep one of each.
				const latest = await Promise.all(
					distinctIds(ctx.params.peerIds).map(async peerId => {
						const [doc] = await this.collections.messages.find(
							{ conversation: conversationKey(userId, peerId) },
							{ sort: { createTime: -1 }, limit: 1 }
						);
						return [peerId, doc] as const;
					})
				);
				const result: Record<number, { content: string; fromUserId: number; create_time: number }> = {};
				for (const [peerId, doc] of latest)
					if (doc) result[peerId] = { content: doc.content, fromUserId: doc.fromUserId, create_time: doc.createTime };
				return result;
			}
		}
	},

	methods: {
		/**
		 * Runs `send` while holding the conversation's send lock: the clock tick and the
		 * insert of one message complete before the next message of that conversation gets
		 * its time, so no poll can see a newer message while an older one is still being
		 * written. Local sends queue in memory; the cacher's lock (Redis: redlock) orders
		 * sends across replicas.
		 */
		async withSendLock<T>(this: MessagesThis, conversation: string, send: () => Promise<T>): Promise<T> {
			const previous = this.sendQueues.get(conversation) ?? Promise.resolve();
			const run = previous.then(async () => {
				let unlock: () => Promise<void>;
				try {
					unlock = await this.broker.cacher!.lock(`messages.send:${conversation}`, this.settings.sendLockLeaseMs);
				} catch {
					throw new Errors.MoleculerRetryableError("the conversation is busy: try again", 503, "SERVICE_NOT_AVAILABLE");
				}
				try {
					return await send();
				} finally {
					await unlock().catch(() => undefined);
				}
			});
			const tail = run.catch(() => undefined);
			this.sendQueues.set(conversation, tail);
			try {
				return await run;
			} finally {
				if (this.sendQueues.get(conversation) === tail) this.sendQueues.delete(conversation);
			}
		},

		/**
		 * The create_time of the conversation's next message (under its send lock): now, or one
		 * more than the last one when that is later. The clock is set before the message is
		 * written, so it is never behind a stored message; when the cache lost it, the newest
		 * stored message tells.
		 */
		async nextTime(this: MessagesThis, conversation: string): Promise<number> {
			const key = `messages.clock:${conversation}`;
			let last = (await this.broker.cacher!.get(key)) as unknown as number | null | undefined;
			if (typeof last !== "number") {
				const [newest] = await this.collections.messages.find({ conversation }, { sort: { createTime: -1 }, limit: 1 });
				last = newest?.createTime ?? 0;
			}
			const time = Math.max(Date.now(), last + 1);
			await this.broker.cacher!.set(key, time, CLOCK_TTL_SECONDS);
			return time;
		},

		async assertRecipient(this: MessagesThis, ctx: Context, meId: number, peerId: number): Promise<void> {
			if (peerId === meId) throw invalidParam("you cannot message yourself: to_user_id is your own id", "to_user_id");
			await this.users.get(ctx, peerId);
		}
	},

	created(this: MessagesThis) {
		this.filter = SensitiveWordFilter.fromFile(config().sensitiveWordsFile);
		this.sendQueues = new Map();
		this.users = knownUsers();
	}
};

export default MessagesService;
