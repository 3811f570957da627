import { beforeEach, describe, expect, it } from 'vitest';
import { AppStore } from '../lib/app.svelte';
import { BackendError } from '../lib/backend';
import { QueueDesk, queueKeyAction, sessionLabel } from '../lib/queue.svelte';
import { FakeBackend } from './fake-backend';

describe('queue keys', () => {
  it('maps the desk\'s keys, either case, and ignores chords and other keys', () => {
    expect(queueKeyAction({ key: 'Enter' })).toBe('call_selected');
    expect(queueKeyAction({ key: 'n' })).toBe('call_next');
    expect(queueKeyAction({ key: 'N' })).toBe('call_next');
    expect(queueKeyAction({ key: 'r' })).toBe('recall');
    expect(queueKeyAction({ key: 's' })).toBe('skip');
    expect(queueKeyAction({ key: 'd' })).toBe('seen');
    expect(queueKeyAction({ key: 'e' })).toBe('to_end');
    expect(queueKeyAction({ key: 'x' })).toBeNull();
    expect(queueKeyAction({ key: 'n', ctrlKey: true })).toBeNull();
    expect(queueKeyAction({ key: 'r', altKey: true })).toBeNull();
  });

  it('names a session by department and room in each language', () => {
    const q = { departmentName: '内科', departmentNameEn: 'Internal Medicine', room: 3 };
    expect(sessionLabel(q, 'zh')).toBe('内科 3诊室');
    expect(sessionLabel(q, 'en')).toBe('Internal Medicine, room 3');
    expect(sessionLabel({ ...q, room: null }, 'zh')).toBe('内科');
  });
});

describe('the queue desk', () => {
  let backend: FakeBackend;
  let store: AppStore;
  let desk: QueueDesk;

  beforeEach(async () => {
    backend = new FakeBackend();
    backend.staff = { id: 'nurse', displayName: '护士', role: 'nurse' };
    store = new AppStore(backend);
    store.staff = backend.staff;
    backend.addQueue('s1', [5, 6, 11]);
    backend.addQueue('s2', [7], 4);
    desk = new QueueDesk(store);
    await desk.load();
  });

  it('calls the next patient, then the one after; the last one called is done', async () => {
    expect(desk.current?.sessionId).toBe('s1');
    await desk.run('call_next');
    expect(desk.current?.called?.queueNo).toBe(5);
    expect(store.notice?.text).toContain('5');
    await desk.run('call_next');
    expect(desk.current?.called?.queueNo).toBe(6);
    expect(desk.current?.done.map((e) => e.queueNo)).toEqual([5]);
    expect(desk.current?.waiting.map((e) => e.queueNo)).toEqual([11]);
  });

  it('calls the selected patient with Enter, moves one to the end, recalls and marks seen', async () => {
    desk.moveSelection(1);
    expect(desk.selectedEntry?.queueNo).toBe(6);
    await desk.run('to_end');
    expect(desk.current?.waiting.map((e) => e.queueNo)).toEqual([5, 11, 6]);
    desk.moveSelection(-5);
    desk.moveSelection(1);
    await desk.run('call_selected');
    expect(desk.current?.called?.queueNo).toBe(11);
    await desk.run('recall');
    expect(desk.current?.called?.calls).toBe(2);
    expect(store.notice?.text).toContain('2');
    await desk.run('seen');
    expect(desk.current?.called).toBeNull();
    expect(desk.current?.done[0]).toMatchObject({ queueNo: 11, state: 'seen' });
    // The selection stays on a waiting patient as the list shrinks.
    expect(desk.selected).toBeLessThan(desk.current?.waiting.length ?? 0);
  });

  it('a skipped patient waits again; with nobody called, recall says so without asking the engine', async () => {
    await desk.run('recall');
    expect(store.notice).toMatchObject({ kind: 'error', code: 'nobody_called' });
    expect(backend.calls.some((c) => c.startsWith('queue:recall'))).toBe(false);
    await desk.run('call_next');
    await desk.run('skip');
    expect(desk.current?.called).toBeNull();
    expect(desk.current?.waiting.map((e) => e.queueNo)).toEqual([6, 11, 5]);
  });

  it('switches rooms with the arrows, wrapping around', async () => {
    desk.moveSession(1);
    expect(desk.current?.sessionId).toBe('s2');
    desk.moveSession(1);
    expect(desk.current?.sessionId).toBe('s1');
    desk.moveSession(-1);
    await desk.run('call_next');
    expect(desk.current?.sessionId).toBe('s2');
    expect(desk.current?.called?.queueNo).toBe(7);
  });

  it('a refused action shows the engine\'s message and reloads the queue as it is now', async () => {
    // Meanwhile another desk called 5 (a sync brought it): the engine's queue moved on.
    await backend.queueAct('b5', 'call');
    backend.queueFailure = new BackendError({ code: 'not_waiting', message: '该患者不在候诊中（可能已被叫号或已就诊）', fields: [], suggestion: null });
    await desk.run('call_selected');
    expect(store.notice).toMatchObject({ kind: 'error', code: 'not_waiting' });
    expect(desk.current?.called?.queueNo).toBe(5);
    expect(desk.busy).toBe(false);
  });

  it('a call the platform did not take is shown on its queue until dismissed', async () => {
    const conflict = { id: 9, kind: 'queue', reason: 'not_waiting', title: '叫号未生效', explanation: '5 号：队列已变化', createdAt: '2026-11-23T00:40:00Z', resolvedAt: null, resolution: null } as unknown as import('../lib/bindings').ConflictView;
    backend.conflictList.push(conflict);
    backend.queueSessions[0].notices = [{ conflictId: 9, title: '叫号未生效', message: '5 号：队列已变化' }];
    await desk.load();
    expect(desk.current?.notices.map((n) => n.conflictId)).toEqual([9]);
    await desk.dismiss(9);
    expect(backend.calls).toContain('resolve:9:acknowledge');
    expect(desk.current?.notices).toEqual([]);
  });

  it('the consultation-room view keeps to its one session', async () => {
    const room = new QueueDesk(store);
    await room.load('s2');
    expect(room.sessions.map((s) => s.sessionId)).toEqual(['s2']);
    await room.run('call_next');
    expect(room.current?.called?.queueNo).toBe(7);
    await room.run('call_next');
    expect(store.notice?.code).toBe('nobody_waiting');
    expect(room.sessions.map((s) => s.sessionId)).toEqual(['s2']);
  });
});
