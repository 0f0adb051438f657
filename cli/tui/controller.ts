/**
 * The chat screen's moving parts, wired together: the state, the
 * reconnecting ChatClient and its events, drawing (coalesced, at most one
 * frame per 10 ms), loading history, sending receipts, and reporting
 * failures as notices. Keys (key_actions.ts) and slash commands
 * (commands.ts) act through it; app.ts owns the terminal.
 */
import { AppError } from "../../proto/errors.ts";
import { ChatClient } from "../lib/chat_client.ts";
import type { Device } from "../lib/device_file.ts";
import type { Context } from "../lib/parley_context.ts";
import type { Session } from "../lib/session_file.ts";
import { applyEvent } from "./events.ts";
import { addHistory, markFailed, openConversation } from "./messages.ts";
import { cursorAt, render, type Size } from "./render.ts";
import type { Screen } from "./screen.ts";
import { type ChatState, conversation, newState, notify, setFriends } from "./state.ts";
import { dueAcks } from "./messages.ts";

/** The line a failure is shown as: the server's message and code, or the error's message. */
export function describeError(e: unknown): string {
  if (e instanceof AppError) return `${e.message} (${e.code})`;
  if (e instanceof Error) return e.message;
  return String(e);
}

export class ChatScreen {
  readonly state: ChatState;
  readonly client: ChatClient;
  size: { columns: number; rows: number };
  /** When a typing indicator was last sent (one at most every 3 s). */
  typingSentAt = 0;
  #drawQueued = false;

  constructor(
    readonly ctx: Context,
    readonly session: Session,
    readonly device: Device,
    readonly screen: Screen,
    size: { columns: number; rows: number },
    readonly quit: (code: number) => void,
  ) {
    this.state = newState(session.user);
    this.size = size;
    this.client = this.#makeClient();
  }

  get renderSize(): Size {
    return {
      cols: this.size.columns,
      rows: this.size.rows,
      color: this.ctx.env.NO_COLOR ? "mono" : true,
    };
  }

  draw = (): void => {
    this.#drawQueued = false;
    this.state.now = Date.now();
    this.state.queued = this.client.outbox().length;
    const size = this.renderSize;
    this.screen.draw(render(this.state, size), cursorAt(this.state, size));
  };

  redraw = (): void => {
    if (this.#drawQueued) return;
    this.#drawQueued = true;
    setTimeout(this.draw, 10);
  };

  report = (e: unknown): void => {
    notify(this.state, describeError(e));
    this.redraw();
  };

  sendAcks(): void {
    for (const a of dueAcks(this.state)) this.client.ack(a.peer, a);
  }

  /** A page of the open conversation's history: the newest, or the one before what is loaded. */
  async loadHistory(peerId: number, older = false): Promise<void> {
    const c = conversation(this.state, peerId);
    if (this.client.state.kind !== "connected") return;
    const before = older ? c.messages.find((m) => m.id !== null)?.id ?? undefined : undefined;
    const page = await this.client.request("msg.history", {
      with: peerId,
      limit: 100,
      ...(before ? { before } : {}),
    });
    addHistory(this.state, peerId, page, older);
    this.sendAcks();
    this.redraw();
  }

  /** Opens the selected conversation: its "new messages" line, its history, its receipts. */
  openSelected(): void {
    const id = this.state.selected;
    if (id === null) return;
    openConversation(this.state, id);
    const c = conversation(this.state, id);
    if (!c.loaded) this.loadHistory(id).catch(this.report);
    this.sendAcks();
    this.redraw();
  }

  async refreshFriends(): Promise<void> {
    const { friends } = await this.client.request("friend.list", {});
    setFriends(this.state, friends);
    // What was open before a reconnect may have missed messages: reload it.
    for (const c of this.state.conversations.values()) c.loaded = false;
    this.openSelected();
  }

  #makeClient(): ChatClient {
    const s = this.state;
    return new ChatClient({
      url: this.session.chat_url,
      token: this.session.token,
      device: this.device,
      onWelcome: (w) => {
        s.pending_requests = w.pending_requests;
        this.refreshFriends().catch(this.report);
      },
      onEvent: (e) => {
        if (!applyEvent(s, e)) return;
        if (e.type === "msg.new" || e.type === "msg.sync") this.sendAcks();
        this.redraw();
      },
      onState: (st) => {
        s.conn = st;
        this.redraw();
      },
      onSent: (_item, message) => {
        applyEvent(s, { type: "msg.new", message });
        this.redraw();
      },
      onSendFailed: (item, error) => {
        markFailed(s, item, error.code);
        notify(s, `not sent: ${error.message}`);
        this.redraw();
      },
      ...this.ctx.chatNodeHooks(this.session),
    });
  }
}
