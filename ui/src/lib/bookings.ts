import type { BookingInfo } from './backend';

/** Bookings whose name, masked name, ticket code, department, doctor or queue number contains `q`. */
export function filterBookings(all: BookingInfo[], q: string): BookingInfo[] {
  const needle = q.trim().toLowerCase();
  if (needle === '') return all;
  return all.filter((b) =>
    [b.patientName, b.ticketCode, b.departmentName, b.departmentCode, b.providerName, String(b.queueNo)].some((s) =>
      s.toLowerCase().includes(needle),
    ),
  );
}

/**
 * How a booking is marked wherever it is shown: `unconfirmed` carries the "not yet confirmed"
 * mark; a booking from this desk's own reserved numbers is `guaranteed` before the platform
 * confirms it (the engine prints its ticket without the mark too). The mark follows
 * `guaranteed`, never `confirmed` alone.
 */
export type BookingMark = 'confirmed' | 'guaranteed' | 'unconfirmed';

export function bookingMark(b: Pick<BookingInfo, 'confirmed' | 'guaranteed'>): BookingMark {
  if (!b.guaranteed) return 'unconfirmed';
  return b.confirmed ? 'confirmed' : 'guaranteed';
}
