/**
 * comments: the comments on videos and a video's comment_count. Text is trimmed and
 * its sensitive words masked before it is stored. A deleted comment is removed for
 * good (nothing reads it afterwards), so deleting it again is "does not exist".
 */
import type { Context, Service, ServiceSchema } from "moleculer";
import { config } from "../lib/config";
import { CountsCache, STAMP, invalidate, countsOf } from "../lib/counts-cache";
import { forbidden, invalidParam, notFound, unauthorized } from "../lib/errors";
import { type FactsParams, distinctIds, factsParamsSchema } from "../lib/facts";
import { type Known, knownAuthors } from "../lib/known";
import { UsersCopy } from "../lib/read-model";
import type { AppMeta } from "../lib/meta";
import { METRIC } from "../lib/metrics";
import { SensitiveWordFilter } from "../lib/sensitive-words";
import { actionType, optionalWireId, textParam, wireId } from "../lib/params";
import { READ, idempotentRead } from "../lib/resilience";
import type { Collection } from "../lib/store";
import type { Comment, User, Video } from "../lib/wire";
import { StoreMixin, type StoreVars } from "../mixins/store.mixin";

export interface CommentDoc {
	_id: number;
	videoId: number;
	userId: number;
	/** Trimmed, sensitive words masked. */
	content: string;
	createdAt: number;
}

type VideoCounts = Pick<Video, "comment_count">;

interface CommentsSettings {
	/** The newest comments `list` returns (one users.getMany call takes at most 1000 ids). */
	maxListSize: number;
}

interface CommentsMethods {
	post(ctx: Context<ActionParams, AppMeta>): Promise<{ comment: Comment }>;
	remove(ctx: Context<ActionParams, AppMeta>): Promise<object>;
	toComment(doc: CommentDoc, user: User): Comment;
}

type Collections = { comments: Collection<CommentDoc> };

type CommentsThis = Service<CommentsSettings> &
	CommentsMethods &
	StoreVars<Collections> & {
		commentCounts: CountsCache<VideoCounts>;
		wordFilter: SensitiveWordFilter;
		authors: Known<{ authorId: number }>;
		/** Commenters as a posted comment shows them, kept while stamp:users holds. */
		users: UsersCopy;
	};

export interface ActionParams {
	video_id: number;
	/** 1 = post, 2 = delete. */
	action_type: 1 | 2;
	/** For 1. */
	comment_text?: string;
	/** For 2. */
	comment_id?: number;
}
export interface ListParams {
	video_id: number;
}

type UsersResult = { users: Record<number, User> };

const POST = 1;

/** Comment ids are taken from the store in blocks of this many (one sequence update per block). */
const ID_BLOCK = 100;

const cfg = config();

/**
 * Longest comment, in characters (Unicode code points, after trimming):
 * config().limits.commentChars, MAX_COMMENT_CHARS in the environment, 500 by default.
 */
const COMMENT_CHARS = cfg.limits.commentChars;

const tooLongMessage = `The 'comment_text' field must be at most ${COMMENT_CHARS} characters long.`;

/** mm-dd of a time, in the server's local time zone (the contract's create_date). */
function monthDay(time: number): string {
	const date = new Date(time);
	return `${String(date.getMonth() + 1).padStart(2, "0")}-${String(date.getDate()).padStart(2, "0")}`;
}

const CommentsService: ServiceSchema<CommentsSettings, CommentsMethods, CommentsThis> = {
	name: "comments",
	mixins: [
		StoreMixin<Collections>({
			comments: [
				{ fields: ["videoId", "createdAt"] },
				// The embedded store uses a compound index only for queries on all its fields.
				{ fields: ["videoId"] }
			]
		})
	],

	settings: {
		maxListSize: 1000
	},

	actions: {
		/**
		 * Posts (1) or deletes (2) a comment. Params: video_id, action_type, comment_text
		 * (for 1: 1 to limits.commentChars characters once trimmed), comment_id (for 2; only
		 * its author may delete it). Returns { comment } for 1, {} for 2.
		 */
		action: {
			auth: "required",
			params: {
				video_id: wireId,
				action_type: actionType("post a comment", "delete a comment"),
				// UTF-16 units: a code point takes at most 2; the exact count is checked in post().
				comment_text: textParam(
					{ type: "string", optional: true, trim: true, max: 2 * COMMENT_CHARS, messages: { stringMax: tooLongMessage } },
					{ multiline: true }
				),
				comment_id: optionalWireId
			},
			handler(this: CommentsThis, ctx: Context<ActionParams, AppMeta>) {
				return ctx.params.action_type === POST ? this.post(ctx) : this.remove(ctx);
			}
		},

		/** The comments on a video, newest first. Params: video_id. Returns { comment_list }. */
		list: {
			...idempotentRead(),
			auth: "optional",
			params: { video_id: wireId },
			async handler(this: CommentsThis, ctx: Context<ListParams, AppMeta>) {
				const videoId = ctx.params.video_id;
				const [, docs] = await Promise.all([
					this.authors.get(ctx, videoId),
					this.collections.comments.find({ videoId }, { sort: { createdAt: -1, _id: -1 }, limit: this.settings.maxListSize })
				]);
				if (docs.length === 0) return { comment_list: [] };
				const { users } = await ctx.call<UsersResult, FactsParams>(
					"users.getMany",
					{ ids: distinctIds(docs.map(doc => doc.userId)), viewerId: ctx.meta.userId },
					{ timeout: READ.inner() }
				);
				return { comment_list: docs.flatMap(doc => (users[doc.userId] ? [this.toComment(doc, users[doc.userId])] : [])) };
			}
		},

		/** comment_count of videos. Facts provider of videos. */
		videoFacts: {
			visibility: "public",
			params: factsParamsSchema,
			handler(this: CommentsThis, ctx: Context<FactsParams>) {
				return this.commentCounts.facts(ctx.params.ids);
			}
		}
	},

	methods: {
		async post(this: CommentsThis, ctx: Context<ActionParams, AppMeta>) {
			const userId = ctx.meta.userId!;
			const videoId = ctx.params.video_id;
			const text = ctx.params.comment_text;
			if (text == null) throw invalidParam("The 'comment_text' field is required to post a comment (action_type=1).", "comment_text");
			if (text === "") throw invalidParam("The 'comment_text' field must not be empty.", "comment_text");
			if ([...text].length > COMMENT_CHARS) throw invalidParam(tooLongMessage, "comment_text");

			// The comment's user is the viewer: no flags (is_follow of oneself is false).
			const [, users] = await Promise.all([this.authors.get(ctx, videoId), this.users.get(ctx, [userId])]);
			const user = users.get(userId);
			if (!user) throw unauthorized("the token's user no longer exists: log in again");

			const doc: CommentDoc = {
				_id: await this.store.nextId("comments", ID_BLOCK),
				videoId,
				userId,
				content: this.wordFilter.mask(text),
				createdAt: Date.now()
			};
			await this.collections.comments.insert(doc);
			await invalidate(this.broker, [this.commentCounts.key(videoId)], [STAMP.videos]);
			ctx.emit("comment.added", { commentId: doc._id, videoId, userId });
			this.broker.metrics.increment(METRIC.COMMENTS, { action: "add" });
			return { comment: this.toComment(doc, user) };
		},

		async remove(this: CommentsThis, ctx: Context<ActionParams, AppMeta>) {
			const userId = ctx.meta.userId!;
			const { video_id: videoId, comment_id: commentId } = ctx.params;
			if (commentId == null) throw invalidParam("The 'comment_id' field is required to delete a comment (action_type=2).", "comment_id");
			// One command when it is the caller's own comment; only a refusal looks at why.
			if (!(await this.collections.comments.deleteOne({ _id: commentId, videoId, userId }))) {
				const doc = await this.collections.comments.findOne({ _id: commentId });
				if (doc && doc.videoId === videoId && doc.userId !== userId) throw forbidden(`comment ${commentId} is not yours: only its author may delete it`);
				throw notFound(`comment ${commentId} does not exist on video ${videoId}`);
			}
			await invalidate(this.broker, [this.commentCounts.key(videoId)], [STAMP.videos]);
			ctx.emit("comment.removed", { commentId, videoId, userId });
			this.broker.metrics.increment(METRIC.COMMENTS, { action: "remove" });
			return {};
		},

		toComment(doc: CommentDoc, user: User): Comment {
			return { id: doc._id, user, content: doc.content, create_date: monthDay(doc.createdAt) };
		}
	},

	created(this: CommentsThis) {
		this.wordFilter = SensitiveWordFilter.fromFile(config().sensitiveWordsFile);
		this.authors = knownAuthors();
		this.users = new UsersCopy(this.broker.cacher!);
		this.commentCounts = countsOf(this.broker.cacher!, "comments.videoFacts", () => this.collections.comments, { comment_count: "videoId" }, config().countsCacheTtl);
	}
};

export default CommentsService;
