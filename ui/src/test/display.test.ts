import { describe, expect, it } from 'vitest';
import type { AnnouncementView, DisplayBoardView, DisplayRoomView } from '../lib/bindings';
import { AnnouncementPlayer, FRESH_SECONDS, NEXT_SHOWN, callLine, columnsFor, fromBase64, roomCards } from '../lib/display';

function room(over: Partial<DisplayRoomView>): DisplayRoomView {
  return {
    sessionId: 's-nk-1',
    departmentCode: 'NK',
    departmentName: '内科',
    departmentNameEn: 'Internal Medicine',
    providerName: '王建国',
    room: 3,
    called: null,
    next: [],
    waiting: 0,
    ...over,
  };
}

function board(rooms: DisplayRoomView[]): DisplayBoardView {
  return { siteName: '城东社区卫生服务中心', now: '09:12', rooms };
}

function announcement(key: string, queueNo = 12): AnnouncementView {
  return { key, queueNo, departmentCode: 'NK', room: 3, clips: ['chime', `zh/${queueNo}`], wavBase64: '', durationMs: 2500, error: null };
}

describe('the display\'s room cards', () => {
  it('names department and room in both languages and shows the call with the masked name', () => {
    const [card] = roomCards(
      board([
        room({
          called: { queueNo: 12, patientNameMasked: '张*三', calls: 1, calledAt: '09:12:01', secondsAgo: 3 },
          next: [
            { queueNo: 13, patientNameMasked: '李*' },
            { queueNo: 14, patientNameMasked: '王*' },
          ],
          waiting: 2,
        }),
      ]),
    );
    expect(card.titleZh).toBe('内科 · 3诊室');
    expect(card.titleEn).toBe('Internal Medicine · Room 3');
    expect(card.calledNo).toBe(12);
    expect(card.calledName).toBe('张*三');
    expect(card.fresh).toBe(true);
    expect(card.next).toEqual([
      { no: 13, name: '李*' },
      { no: 14, name: '王*' },
    ]);
    expect(callLine(card, 'zh')).toBe('请 12 号 张*三 到 内科 3诊室');
    expect(callLine(card, 'en')).toBe('Number 12, please go to Internal Medicine, Room 3');
  });

  it('a room without a number is named by its department alone; nobody called says nothing', () => {
    const [card] = roomCards(board([room({ room: null })]));
    expect(card.titleZh).toBe('内科');
    expect(card.titleEn).toBe('Internal Medicine');
    expect(card.calledNo).toBeNull();
    expect(card.fresh).toBe(false);
    expect(callLine(card, 'zh')).toBe('');
  });

  it('a call stops being highlighted after a while, and only a few waiting are listed', () => {
    const next = Array.from({ length: 6 }, (_, i) => ({ queueNo: 20 + i, patientNameMasked: `赵${i}` }));
    const called = { queueNo: 19, patientNameMasked: '钱*', calls: 2, calledAt: '09:00:00', secondsAgo: FRESH_SECONDS };
    const [card] = roomCards(board([room({ called, next, waiting: 6 })]));
    expect(card.fresh).toBe(false);
    expect(card.calls).toBe(2);
    expect(card.next.map((n) => n.no)).toEqual([20, 21, 22].slice(0, NEXT_SHOWN));
    expect(card.waiting).toBe(6);
  });

  it('keeps the board\'s order and picks columns readable across a room', () => {
    const cards = roomCards(board([room({ sessionId: 'a', departmentCode: 'EK' }), room({ sessionId: 'b', departmentCode: 'NK' })]));
    expect(cards.map((c) => c.sessionId)).toEqual(['a', 'b']);
    expect(roomCards(null)).toEqual([]);
    expect([1, 2, 4, 5, 9, 10, 16].map(columnsFor)).toEqual([1, 2, 2, 3, 3, 4, 4]);
  });
});

describe('announcements', () => {
  it('plays one at a time, in order, each call once — a repeated call (a new key) again', async () => {
    const log: string[] = [];
    let release: (() => void) | null = null;
    const player = new AnnouncementPlayer(
      (a) =>
        new Promise<void>((resolve) => {
          log.push(`start ${a.key}`);
          release = () => {
            log.push(`end ${a.key}`);
            resolve();
          };
        }),
    );
    const done = player.offer([announcement('b1#1'), announcement('b2#1', 13)]);
    // The same call offered again while playing (another poll) is not queued twice.
    void player.offer([announcement('b1#1')]);
    expect(log).toEqual(['start b1#1']);
    release!();
    await Promise.resolve();
    await Promise.resolve();
    expect(log).toEqual(['start b1#1', 'end b1#1', 'start b2#1']);
    release!();
    await done;
    // Recalled: call number 2 of the same booking is a new announcement.
    const again = player.offer([announcement('b1#1'), announcement('b1#2')]);
    release!();
    await again;
    expect(player.played).toEqual(['b1#1', 'b2#1', 'b1#2']);
    expect(player.last?.key).toBe('b1#2');
  });

  it('a speaker that fails does not stop the next announcement', async () => {
    const tried: string[] = [];
    const player = new AnnouncementPlayer(async (a) => {
      tried.push(a.key);
      if (a.key === 'x#1') throw new Error('no audio device');
    });
    await player.offer([announcement('x#1'), announcement('y#1')]);
    expect(tried).toEqual(['x#1', 'y#1']);
  });

  it('remembers only the recent calls, however long the display runs', async () => {
    const player = new AnnouncementPlayer(async () => {});
    const n = AnnouncementPlayer.REMEMBERED * 3;
    for (let i = 0; i < n; i += 1) await player.offer([announcement(`d${i}#1`)]);
    expect(player.played).toHaveLength(AnnouncementPlayer.REMEMBERED);
    expect(player.played[0]).toBe(`d${n - AnnouncementPlayer.REMEMBERED}#1`);
    expect(player.played.at(-1)).toBe(`d${n - 1}#1`);
    // A recent call offered again is still not played twice …
    await player.offer([announcement(`d${n - 1}#1`)]);
    expect(player.played.at(-1)).toBe(`d${n - 1}#1`);
    expect(player.played).toHaveLength(AnnouncementPlayer.REMEMBERED);
    // … while one forgotten long ago would be (the desk never hands it out again).
    await player.offer([announcement('d0#1')]);
    expect(player.played.at(-1)).toBe('d0#1');
  });

  it('decodes the rendered WAV', () => {
    expect(Array.from(fromBase64('UklGRg=='))).toEqual([0x52, 0x49, 0x46, 0x46]);
  });
});
