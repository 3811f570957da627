// The waiting-room display: what each department and room card says, and the announcements
// played one after another. Pure logic, so it is tested without a screen or a speaker.

import type { AnnouncementView, DisplayBoardView, DisplayRoomView } from './bindings';

/** A call stays highlighted this long after it was made. */
export const FRESH_SECONDS = 20;
/** Waiting patients shown under the called one. */
export const NEXT_SHOWN = 3;

export interface RoomCard {
  sessionId: string;
  departmentCode: string;
  room: number | null;
  /** 内科 · 3诊室 */
  titleZh: string;
  /** Internal Medicine · Room 3 */
  titleEn: string;
  provider: string;
  /** The number called now, or null. */
  calledNo: number | null;
  calledName: string;
  /** Called a moment ago: the card draws the eye. */
  fresh: boolean;
  /** Called more than once. */
  calls: number;
  next: { no: number; name: string }[];
  waiting: number;
}

export function roomTitleZh(r: Pick<DisplayRoomView, 'departmentName' | 'room'>): string {
  return r.room === null ? r.departmentName : `${r.departmentName} · ${r.room}诊室`;
}

export function roomTitleEn(r: Pick<DisplayRoomView, 'departmentNameEn' | 'room'>): string {
  return r.room === null ? r.departmentNameEn : `${r.departmentNameEn} · Room ${r.room}`;
}

/** The cards of a board, in the board's order (department code, then room): a stable layout. */
export function roomCards(board: DisplayBoardView | null): RoomCard[] {
  return (board?.rooms ?? []).map((r) => ({
    sessionId: r.sessionId,
    departmentCode: r.departmentCode,
    room: r.room,
    titleZh: roomTitleZh(r),
    titleEn: roomTitleEn(r),
    provider: r.providerName,
    calledNo: r.called?.queueNo ?? null,
    calledName: r.called?.patientNameMasked ?? '',
    fresh: r.called !== null && r.called.secondsAgo < FRESH_SECONDS,
    calls: r.called?.calls ?? 0,
    next: r.next.slice(0, NEXT_SHOWN).map((n) => ({ no: n.queueNo, name: n.patientNameMasked })),
    waiting: r.waiting,
  }));
}

/** The line written under a fresh call, as it is spoken. */
export function callLine(card: RoomCard, lang: 'zh' | 'en'): string {
  if (card.calledNo === null) return '';
  if (lang === 'zh') {
    const where = card.titleZh.replace(' · ', ' ');
    return `请 ${card.calledNo} 号 ${card.calledName} 到 ${where}`;
  }
  return `Number ${card.calledNo}, please go to ${card.titleEn.replace(' · ', ', ')}`;
}

/** Columns for `n` cards: large enough to read across a room. */
export function columnsFor(n: number): number {
  if (n <= 1) return 1;
  if (n <= 4) return 2;
  if (n <= 9) return 3;
  return 4;
}

/**
 * Plays announcements one at a time, each at most once in this window (the backend already
 * hands each call to one window only). A failing speaker never stops the queue: the call is
 * on the screen either way.
 */
export class AnnouncementPlayer {
  /**
   * How many announcement keys the player remembers, heard and played: a display runs all day
   * and for weeks, so its memory of calls is the recent ones only. The desk hands each call to
   * one window once (and only calls of the last two minutes); this is a second guard against a
   * repeat within a poll or two, far inside the bound.
   */
  static readonly REMEMBERED = 256;
  private readonly play: (a: AnnouncementView) => Promise<void>;
  private readonly waiting: AnnouncementView[] = [];
  /** Keys queued or played, oldest first (a Set keeps insertion order). */
  private readonly heard = new Set<string>();
  private running: Promise<void> | null = null;
  /** The announcement playing or played last. */
  last: AnnouncementView | null = null;
  /** The keys played, in order: the last `REMEMBERED` of them (for the display's record). */
  readonly played: string[] = [];

  constructor(play: (a: AnnouncementView) => Promise<void>) {
    this.play = play;
  }

  /** Queues announcements not heard or queued yet; resolves when the queue is empty. */
  offer(list: AnnouncementView[]): Promise<void> {
    for (const a of list) {
      if (this.heard.has(a.key)) continue;
      this.heard.add(a.key);
      if (this.heard.size > AnnouncementPlayer.REMEMBERED) {
        const oldest = this.heard.values().next();
        if (!oldest.done) this.heard.delete(oldest.value);
      }
      this.waiting.push(a);
    }
    this.running ??= this.drain().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async drain(): Promise<void> {
    for (let a = this.waiting.shift(); a !== undefined; a = this.waiting.shift()) {
      this.last = a;
      this.played.push(a.key);
      if (this.played.length > AnnouncementPlayer.REMEMBERED) this.played.shift();
      try {
        await this.play(a);
      } catch {
        // No speaker, or the web view refused to play: the call is still on the screen.
      }
    }
  }
}

/** The bytes of a base64 string. */
export function fromBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i += 1) out[i] = bin.charCodeAt(i);
  return out;
}
