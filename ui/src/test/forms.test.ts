import { describe, expect, it } from 'vitest';
import { emptyPatient, fieldErrors, looksLikeDocument, prefillFrom, toPatientForm, yuan } from '../lib/forms';
import { filterBookings } from '../lib/bookings';

describe('patient form', () => {
  it('maps every backend field error onto its form field', () => {
    const { fields, other } = fieldErrors({
      code: 'invalid_input',
      message: '…',
      fields: [
        { field: 'name', code: 'name_missing', message: '请填写姓名' },
        { field: 'document_number', code: 'resident_id_checksum', message: '校验位不对' },
        { field: 'phone', code: 'phone_invalid', message: '手机号不对' },
        { field: 'site', code: 'site_mismatch', message: 'other site' },
      ],
      suggestion: null,
    });
    expect(fields.name?.code).toBe('name_missing');
    expect(fields.documentNumber?.message).toBe('校验位不对');
    expect(fields.phone?.code).toBe('phone_invalid');
    expect(other).toEqual(['other site']);
  });

  it('shows a non-field error as a message', () => {
    expect(fieldErrors({ code: 'storage_error', message: '本地数据库出错', fields: [], suggestion: null }).other).toEqual(['本地数据库出错']);
  });

  it('sends trimmed values and empty optional fields as null', () => {
    const v = { ...emptyPatient(), name: ' 李四 ', documentNumber: ' 110101199003070011 ', phone: '  ' };
    expect(toPatientForm(v)).toEqual({
      name: '李四', documentKind: 'resident_id', documentNumber: '110101199003070011', sex: null, birthDate: null, phone: null, medicalCard: null, ehealthCard: null,
    });
  });

  it('prefills a new patient from what was typed or scanned', () => {
    expect(prefillFrom('110101199003070011')).toMatchObject({ documentNumber: '110101199003070011' });
    expect(prefillFrom('E12345678')).toMatchObject({ documentNumber: 'E12345678', documentKind: 'passport' });
    expect(prefillFrom('13800138000')).toEqual({ phone: '13800138000' });
    expect(prefillFrom('李四')).toEqual({ name: '李四' });
    expect(prefillFrom('ls')).toEqual({});
    expect(prefillFrom('MC99', 'medical_card')).toEqual({ medicalCard: 'MC99' });
    expect(looksLikeDocument('zs')).toBe(false);
  });

  it('formats fees', () => {
    expect(yuan(5000)).toBe('50.00');
  });
});

describe('bookings filter', () => {
  const b = (name: string, code: string) => ({ patientName: name, ticketCode: code, departmentName: '内科', departmentCode: 'NK', providerName: '王建国', queueNo: 3 }) as never;
  it('finds by name, ticket code, department and queue number', () => {
    const all = [b('张三', 'FDAAAA'), b('李四', 'FDBBBB')];
    expect(filterBookings(all, '张')).toHaveLength(1);
    expect(filterBookings(all, 'fdbb')).toHaveLength(1);
    expect(filterBookings(all, 'nk')).toHaveLength(2);
    expect(filterBookings(all, '')).toHaveLength(2);
  });
});
