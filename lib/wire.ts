/** The objects of the wire contract (docs/API.md), field for field. */

export interface User {
	id: number;
	name: string;
	follow_count: number;
	follower_count: number;
	/** Whether the requesting user follows this user (false when anonymous or self). */
	is_follow: boolean;
	avatar: string;
	background_image: string;
	signature: string;
	/** Likes received by all of this user's videos. */
	total_favorited: number;
	work_count: number;
	/** Videos this user has liked. */
	favorite_count: number;
}

export interface Video {
	id: number;
	author: User;
	play_url: string;
	cover_url: string;
	favorite_count: number;
	comment_count: number;
	is_favorite: boolean;
	title: string;
}

export interface Comment {
	id: number;
	user: User;
	content: string;
	/** mm-dd */
	create_date: string;
}

export interface Message {
	id: number;
	to_user_id: number;
	from_user_id: number;
	content: string;
	/** Epoch milliseconds, unique and increasing within a conversation. */
	create_time: number;
}

export interface FriendUser extends User {
	/** Latest message exchanged with this friend ("" when none). */
	message: string;
	/** 0: the requester received the latest message; 1: the requester sent it. */
	msgType: number;
}
