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
